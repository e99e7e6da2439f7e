"""The costly-query gate: how many costly queries may run at once, and for how long one
waits for its turn.

Costly queries (see ``server.search.matching.Budget``) take turns so that two of them
do not each take twice as long, nor starve cheap requests of the CPU. A gate has
``slots`` turns; :meth:`acquire` waits up to ``timeout`` seconds for one and says whether
it got it, :meth:`release` gives it back (from the same thread).

- :class:`ThreadGate` counts turns within one process (a semaphore): enough for one
  process, whatever its threads.
- :class:`ProcessGate` counts turns across every process that shares its folder (the
  worker processes of one ``pfocr serve``): each turn is an exclusive ``flock`` on one
  slot file, so a process that dies in a costly query (SIGKILL included) gives its turn
  back with its file descriptors, where a semaphore in shared memory would lose it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Protocol

# A waiting query looks for a free slot this often at first, then less often.
_FIRST_POLL_SECONDS = 0.002
_MAX_POLL_SECONDS = 0.02


class CostlyGate(Protocol):
    slots: int

    def acquire(self, timeout: float) -> bool: ...

    def release(self) -> None: ...


class ThreadGate:
    """``slots`` turns shared by the threads of this process."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    def acquire(self, timeout: float) -> bool:
        return self._semaphore.acquire(timeout=timeout)

    def release(self) -> None:
        self._semaphore.release()


class ProcessGate:
    """``slots`` turns shared by every process (and thread) using ``folder``."""

    def __init__(self, folder: str | os.PathLike[str], slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"a costly-query gate needs at least one slot, got {slots}")
        self.slots = slots
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._paths = [self.folder / f"costly-slot-{i}.lock" for i in range(slots)]
        for path in self._paths:
            path.touch(exist_ok=True)
        self._held = threading.local()  # this thread's slot descriptors, innermost last

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL_SECONDS
        while True:
            fd = self._try_any_slot()
            if fd is not None:
                self._stack().append(fd)
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def release(self) -> None:
        fd = self._stack().pop()
        os.close(fd)  # closing the only descriptor of the open file drops its lock

    def _try_any_slot(self) -> int | None:
        # Each attempt opens its own file description: flock treats two descriptions of
        # one file as two lockers, so threads of one process exclude each other too.
        for path in self._paths:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def _stack(self) -> list[int]:
        if not hasattr(self._held, "fds"):
            self._held.fds = []
        return self._held.fds
