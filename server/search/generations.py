"""The index generation this process serves: load, hold, swap, pin, report.

One :class:`Generations` follows one ``index_data/`` folder. :meth:`Generations.snapshot`
re-reads the ``current`` link on every call; when a new generation is published, the
first caller to notice (often the watcher thread, :meth:`Generations.watch`) loads it
while every other caller goes on with the old one, then the reference is swapped in one
assignment. Calls inside :meth:`Generations.consistent` (a web request, say) all read the
snapshot the first of them got, so no answer mixes two generations.

**Pins.** The process holds a shared ``flock`` on the folder of every generation it
still reads (``indexer.index.store.pin``), taken with a descriptor of its own after any
fork, and dropped when the snapshot is let go (the last request reading it done). A
build's clean-up never removes a pinned generation, however many builds run meanwhile.

**Failures.** A generation that cannot be loaded is logged once and tried again only
when ``current`` points elsewhere; meanwhile the older one is served and
:meth:`Generations.load_error` says why. A process holding nothing yet (a new worker
while ``current`` is damaged) serves the newest older generation that loads, so it
answers like its siblings; with none, calls raise (``NoIndex``, ``IncompatibleIndex``,
:class:`IndexUnavailable`).

**Seams.** ``load`` (by default :class:`server.search.snapshot.Snapshot`) turns a pinned
generation folder into the snapshot; ``prepare`` warms it (what a first query would
otherwise pay) before it is served. Both run in the process that serves.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.index.store import CURRENT_LINK, IndexError_, IndexStore, pin, unpin
from server.search.snapshot import Snapshot

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0  # how often a watcher looks at ``current``


class IndexUnavailable(IndexError_):
    """The current generation cannot be loaded and no older one is being served."""


@dataclass(frozen=True)
class LoadFailure:
    """Why the generation ``current`` points at could not be loaded."""

    link: str | None  # the ``current`` link's target when loading failed
    error_type: type[IndexError_]  # what calls raise while nothing else can be served
    detail: str  # for the log and the exception: may name server paths
    reason: str  # for clients: the same without server paths
    since: str  # when loading failed (UTC, ISO 8601)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generation": None if self.link is None else Path(self.link).name,
            "reason": self.reason,
            "since": self.since,
        }


@dataclass(frozen=True)
class _Held:
    link: str | None  # the ``current`` target this answers for (maybe a failed one)
    path: Path  # the generation folder actually served
    snapshot: Snapshot
    release: weakref.finalize  # closes the files and drops the pin


class Generations:
    def __init__(
        self,
        index_root: str | os.PathLike[str],
        load: Callable[[Path], Snapshot] = Snapshot,
        prepare: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.store = IndexStore(index_root)
        self._load_snapshot = load
        self._prepare = prepare
        # The snapshot of the calls inside ``consistent()``: [] until the first asks.
        self._view: contextvars.ContextVar[list[Snapshot] | None] = contextvars.ContextVar(
            f"pfocr_generation_view_{id(self)}", default=None
        )
        self._start_fresh()

    def _start_fresh(self) -> None:
        self._pid = os.getpid()
        self._held: _Held | None = None
        self._failure: LoadFailure | None = None
        self._load_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    # -- what a call reads ----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The snapshot to read: the one of the enclosing :meth:`consistent` block if any,
        else the current generation's (loading it if ``current`` moved)."""
        view = self._view.get()
        if view is None:
            return self._current()
        if not view:
            view.append(self._current())
        return view[0]

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Every :meth:`snapshot` inside reads the same generation."""
        token = self.begin()
        try:
            yield
        finally:
            self.end(token)

    def begin(self) -> contextvars.Token:
        """Start a :meth:`consistent` block by hand; :meth:`end` closes it."""
        return self._view.set([])

    def end(self, token: contextvars.Token) -> None:
        self._view.reset(token)

    # -- loading and swapping -------------------------------------------------------------

    def _current(self) -> Snapshot:
        if self._pid != os.getpid():
            self._forget_after_fork()
        link = self._current_link()
        held = self._held
        if held is not None and held.link == link:
            return held.snapshot
        if self._failure is not None and self._failure.link == link:
            return self._after_failure(held)  # tried already: try again when current moves
        # Someone else is loading: serve the old generation meanwhile.
        if not self._load_lock.acquire(blocking=held is None):
            return held.snapshot  # type: ignore[union-attr]
        try:
            return self._load(link)
        finally:
            self._load_lock.release()

    def _current_link(self) -> str | None:
        try:
            return os.readlink(self.store.root / CURRENT_LINK)
        except OSError:
            return None

    def _load(self, link: str | None) -> Snapshot:
        """Load the generation ``link`` names (the load lock held), or record why not."""
        held = self._held
        if held is not None and held.link == link:
            return held.snapshot
        if self._failure is not None and self._failure.link == link:
            return self._after_failure(held)
        try:
            loaded = self._open(self.store.require_current(), link)
        except Exception as exc:
            self._failure = self._failure_of(link, exc)
            serving = f"still serving {held.snapshot.version}" if held else "nothing served yet"
            # An unexpected error gets its traceback; our own ones say all there is.
            trace = None if isinstance(exc, IndexError_) else exc
            log.error(
                "cannot load index generation %s (%s): %s", link, serving, exc, exc_info=trace
            )
            if held is None:
                self._held = self._open_older(link)
            return self._after_failure(self._held)
        if self._failure is not None:
            log.warning("index generation %s loaded; no longer degraded", loaded.snapshot.version)
        self._swap(loaded)
        self._failure = None
        return loaded.snapshot

    def _open(self, path: Path, link: str | None) -> _Held:
        """Pin the generation at ``path``, load it and warm it."""
        fd = pin(path)
        try:
            snapshot = self._load_snapshot(path)
        except BaseException:
            unpin(fd)
            raise
        # The pin goes with the snapshot: dropped when its last reader lets go of it (the
        # snapshot closes its own files then).
        release = weakref.finalize(snapshot, unpin, fd)
        try:
            if self._prepare is not None:
                self._prepare(snapshot)
        except BaseException:
            snapshot.close()
            release()
            raise
        return _Held(link=link, path=path, snapshot=snapshot, release=release)

    def _open_older(self, failed_link: str | None) -> _Held | None:
        """The newest older generation that loads, served for ``failed_link``, or None."""
        failed = None if failed_link is None else (self.store.root / failed_link).resolve()
        for path in reversed(self.store.complete_generations()):
            if path.resolve() == failed:
                continue
            try:
                held = self._open(path, failed_link)
            except Exception as exc:
                log.warning("cannot load older generation %s either: %s", path.name, exc)
                continue
            log.warning("serving the older generation %s meanwhile (degraded)", path.name)
            return held
        return None

    def _swap(self, loaded: _Held) -> None:
        # In-flight calls keep the old snapshot; it is closed (and its pin dropped) when
        # the last of them lets go of it.
        self._held = loaded

    def _after_failure(self, held: _Held | None) -> Snapshot:
        """The older generation still served, or the failure raised when there is none."""
        if held is not None:
            return held.snapshot
        failure = self._failure
        assert failure is not None
        raise failure.error_type(failure.detail)  # a fresh exception: tracebacks stay short

    def _failure_of(self, link: str | None, exc: Exception) -> LoadFailure:
        detail = str(exc) if isinstance(exc, IndexError_) else f"{type(exc).__name__}: {exc}"
        reason = detail
        for root in {str(self.store.root.resolve()), str(self.store.root)}:
            reason = reason.replace(root + os.sep, "").replace(root, "the index folder")
        return LoadFailure(
            link=link,
            error_type=type(exc) if isinstance(exc, IndexError_) else IndexUnavailable,
            detail=detail,
            reason=reason,
            since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def _forget_after_fork(self) -> None:
        """In a process forked from one that held a generation: start over. Its file
        handles share offsets with the parent's and its pin is the parent's lock, so
        nothing of it is used. Closing our copy of the pin's descriptor leaves the
        parent's lock as it is (never unlock it: that would unpin the parent's
        generation); the rest closes when the old snapshot is collected."""
        held = self._held
        if held is not None:
            held.release()
        self._start_fresh()

    # -- watching, closing, reporting -----------------------------------------------------

    def watch(self, interval: float = WATCH_SECONDS) -> None:
        """Look at ``current`` every ``interval`` seconds in a daemon thread and load a new
        generation there, so that requests seldom wait for a load."""
        if self._watcher is not None and self._watcher.is_alive():
            return
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, args=(interval,), name="pfocr-generation-watcher", daemon=True
        )
        self._watcher.start()

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._current()
            except IndexError_:
                pass  # logged once by _load; requests answer 503 meanwhile
            except Exception:
                log.exception("the generation watcher failed; it goes on")

    def refresh(self) -> Snapshot:
        """Load the current generation now if it changed; return the snapshot served."""
        return self._current()

    def require_current(self) -> Snapshot:
        """The current generation's snapshot; raises why it cannot be loaded rather than
        serve an older one (a server starting up must not start degraded)."""
        snapshot = self._current()
        failure = self._failure
        if failure is not None and failure.link == self._current_link():
            raise failure.error_type(failure.detail)
        return snapshot

    def close(self) -> None:
        """Stop watching, close the files and drop the pin (a later call loads again)."""
        self._stop.set()
        held, self._held = self._held, None
        if held is not None:
            held.snapshot.close()
            held.release()

    def served(self) -> dict[str, Any]:
        """``{"generation": folder name, "version"}`` of the generation a call reads now."""
        snapshot = self.snapshot()
        return {"generation": snapshot.path.name, "version": snapshot.version}

    def viewed(self) -> Snapshot | None:
        """The snapshot the enclosing :meth:`consistent` block read, if it read one."""
        view = self._view.get()
        return view[0] if view else None

    def held(self) -> Snapshot | None:
        """The snapshot held now for new calls, if any (loads nothing)."""
        held = self._held
        return None if held is None else held.snapshot

    def load_error(self) -> dict[str, Any] | None:
        """Why the current generation is not the one served, or None when it is."""
        failure = self._failure
        if failure is None or failure.link != self._current_link():
            return None  # current moved on (maybe back to the generation served)
        return failure.as_dict()
