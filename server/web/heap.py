"""The C heap of a process that serves requests (glibc's malloc): large blocks mapped on
their own, one arena for all its threads, and the free memory handed back to the system
once the process is idle.

Under load a worker's heap grows to the high-water mark of the requests its threads run
together (a search's arrays, an answer being encoded), and glibc keeps those freed pages
for the next request: tens of megabytes a worker (``bench_load``). A worker that has
answered nothing for :data:`IDLE_TRIM_SECONDS` gives them back (``malloc_trim``), so a
machine's workers hold between bursts what they hold at start plus their caches. Under
steady load nothing is trimmed: pages given back would be faulted in again by the next
request.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

# glibc allocates a block this large or larger with its own mmap, given back when freed.
# Fixing the threshold also stops glibc raising it after each large free (up to 32 MB),
# which kept a query's megabyte arrays in the heaps of the worker's threads, fragmenting
# them: under load a worker held USS ~300 MB, ~200 MB with 1 MB. At 256 KB a query's
# arrays over the figures (a float32 score each: 400 KB at 100k) are mapped too: 54-55
# MB under load against 59-60 at 1 MB, as fast (bench_load and the load mix in process,
# alternated); 128 KB held 52 MB but served 3-13% fewer requests.
MALLOC_MMAP_THRESHOLD = 256 << 10
# One allocation arena for all the threads of a worker. glibc gives each new thread an
# arena of its own (up to 8 per core), each keeping its own free pages; under one GIL
# the threads seldom allocate at once, so sharing one costs no waiting: under load a
# worker held about 6 MB less (in process, 2 threads of the load mix, alternated).
MALLOC_ARENAS = 1
_M_MMAP_THRESHOLD = -3  # mallopt's parameter numbers (malloc.h)
_M_ARENA_MAX = -8
IDLE_TRIM_SECONDS = 2.0  # no request for this long: give the heap's free pages back

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (it has ``mallopt`` and ``malloc_trim``; musl and
    macOS have neither)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def fix_mmap_threshold() -> bool:
    """Set glibc's mmap threshold to :data:`MALLOC_MMAP_THRESHOLD`; False without glibc."""
    libc = _glibc()
    return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD) == 1)


def limit_arenas() -> bool:
    """Keep the threads started from now on to :data:`MALLOC_ARENAS` arenas; False
    without glibc."""
    libc = _glibc()
    return bool(libc and libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS) == 1)


def trim() -> int:
    """Give the heap's free pages back to the system; the resident bytes that freed (0
    without glibc)."""
    libc = _glibc()
    if libc is None:
        return 0
    before = _resident_bytes()
    libc.malloc_trim(0)
    return max(0, before - _resident_bytes())


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux
        return 0


class IdleTrimmer:
    """Trims the heap (:func:`trim`) once no request has run for ``idle_seconds``, once
    per quiet spell: requests report themselves with :meth:`serving`, and a thread
    (:meth:`start`) looks twice per ``idle_seconds``. ``on_trim`` is told the bytes freed."""

    def __init__(
        self,
        idle_seconds: float = IDLE_TRIM_SECONDS,
        on_trim: Callable[[int], None] | None = None,
        trim: Callable[[], int] = trim,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self._on_trim = on_trim
        self._trim = trim
        self._clock = clock
        self._lock = threading.Lock()
        self._running = 0  # requests in flight
        self._last_end = clock()
        self._used = True  # the heap was used since the last trim (the start, at first)

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around one request."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._last_end = self._clock()
                self._used = True

    def trim_if_idle(self) -> int | None:
        """Trim if the process is idle and has served since the last trim; the bytes
        freed, or None if not trimmed."""
        with self._lock:
            quiet = self._clock() - self._last_end >= self.idle_seconds
            if self._running or not self._used or not quiet:
                return None
            self._used = False
        freed = self._trim()
        if self._on_trim is not None:
            self._on_trim(freed)
        log.debug("idle: gave %.1f MB of heap back to the system", freed / 2**20)
        return freed

    def start(self) -> IdleTrimmer:
        """Look for quiet spells in a daemon thread, for the life of the process."""
        thread = threading.Thread(target=self._watch, name="pfocr-heap-trim", daemon=True)
        thread.start()
        return self

    def _watch(self) -> None:
        while True:
            time.sleep(self.idle_seconds / 2)
            self.trim_if_idle()
