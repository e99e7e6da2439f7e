"""The on-disk layout of ``index_data/`` and the safe switch between index generations.

::

    index_data/
      current -> generations/20261126T150102-1234   (symlink, replaced atomically)
      generations/<id>/        one complete index: Whoosh files, meta.json,
                               lexicon.json, vocabulary.json, report.json
      generations/<id>.partial a build in progress (removed if the build fails)
      build.lock               held (flock) by the one build or update running
      pfocr-build-*/           a build's temporary files (removed by the next build
                               if the build was killed)
      report.json              the report of the last run, even a failed one

A build writes a new generation beside the served one and only then points
``current`` at it, so an interrupted build never touches the index being served, and a
server that re-reads ``current`` picks up the new one without a restart.

A server process *pins* the generation it reads (:func:`pin`: a shared ``flock`` on the
generation's folder, held by a descriptor of its own); a build's clean-up removes an old
generation only once it can take an exclusive lock on it, so a generation some process
still reads is never deleted, however many builds run meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from indexer.index.schema import SCHEMA_VERSION

META_FILE = "meta.json"
LEXICON_FILE = "lexicon.json"
VOCABULARY_FILE = "vocabulary.json"
REPORT_FILE = "report.json"
CURRENT_LINK = "current"
GENERATIONS_DIR = "generations"
LOCK_FILE = "build.lock"
PARTIAL_SUFFIX = ".partial"
BUILD_TEMP_PREFIX = "pfocr-build-"
GENERATIONS_KEPT = 2  # the newest ones: the current one and the one before (rollback)


class IndexError_(Exception):
    """Base class for problems with the index folder (named to avoid the builtin)."""


class NoIndex(IndexError_):
    pass


class IncompatibleIndex(IndexError_):
    pass


class BuildInProgress(IndexError_):
    pass


class GenerationGone(IndexError_):
    """A generation was removed before it could be pinned (``current`` moved on meanwhile)."""


class IndexStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def generations(self) -> Path:
        return self.root / GENERATIONS_DIR

    def current(self) -> Path | None:
        """The folder of the index being served, or None if no build has completed."""
        link = self.root / CURRENT_LINK
        try:
            target = os.readlink(link)
        except OSError:
            return None
        path = (self.root / target).resolve()
        return path if path.is_dir() else None

    def require_current(self) -> Path:
        path = self.current()
        if path is None:
            raise NoIndex(
                f"no index in {self.root}: run `pfocr build SRC --index {self.root}` first"
            )
        check_compatible(path)
        return path

    def open_current(self) -> whoosh_index.Index:
        return whoosh_index.open_dir(str(self.require_current()))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock; refuse at once if another build or update holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise BuildInProgress(
                    f"another build or update is running on {self.root} ({holder}); "
                    "wait for it to finish"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            handle.flush()
            self.remove_abandoned()
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_generation(self) -> Path:
        """Create and return an empty ``.partial`` folder for a build to write into."""
        self.generations.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        for attempt in range(1000):
            name = f"{stamp}-{os.getpid()}-{attempt}"
            if (self.generations / name).exists():
                continue
            path = self.generations / f"{name}{PARTIAL_SUFFIX}"
            with contextlib.suppress(FileExistsError):
                path.mkdir()
                return path
        raise IndexError_(f"cannot create a new generation folder in {self.generations}")

    def publish(self, partial: Path) -> Path:
        """Make a finished ``.partial`` generation the current index, atomically."""
        final = partial.with_name(partial.name.removesuffix(PARTIAL_SUFFIX))
        partial.rename(final)
        _fsync_dir(self.generations)
        temp_link = self.root / f".{CURRENT_LINK}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temp_link.unlink()
        temp_link.symlink_to(Path(GENERATIONS_DIR) / final.name)
        temp_link.replace(self.root / CURRENT_LINK)  # rename(2): atomic for readers
        _fsync_dir(self.root)
        self.collect_garbage()
        return final

    def remove_abandoned(self) -> None:
        """Remove what killed builds left: temporary folders, partial generations and
        half-made links. Called holding the lock, so no running build owns them."""
        for temp in self.root.glob(f"{BUILD_TEMP_PREFIX}*"):
            shutil.rmtree(temp, ignore_errors=True)
        for partial in self.generations.glob(f"*{PARTIAL_SUFFIX}"):
            shutil.rmtree(partial, ignore_errors=True)
        for link in self.root.glob(f".{CURRENT_LINK}.*"):
            link.unlink(missing_ok=True)

    def discard(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)

    def complete_generations(self) -> list[Path]:
        """The published generation folders, oldest first."""
        if not self.generations.is_dir():
            return []
        return sorted(
            (
                p
                for p in self.generations.iterdir()
                if p.is_dir() and not p.name.endswith(PARTIAL_SUFFIX)
            ),
            key=lambda p: p.stat().st_mtime,
        )

    def collect_garbage(self) -> None:
        """Remove abandoned partial builds, and the complete generations older than the
        newest ``GENERATIONS_KEPT`` that are neither current nor pinned by a process."""
        current = self.current()
        for old in self.complete_generations()[:-GENERATIONS_KEPT]:
            if old != current:
                _remove_unless_pinned(old)
        for partial in self.generations.glob(f"*{PARTIAL_SUFFIX}"):
            shutil.rmtree(partial, ignore_errors=True)  # we hold the lock: nobody writes it

    def write_report(self, report: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / REPORT_FILE, report)


def pin(generation: Path) -> int:
    """Pin ``generation`` for as long as the returned descriptor stays open: a shared
    ``flock`` on its folder, which :meth:`IndexStore.collect_garbage` respects.

    The descriptor is this process's own (close-on-exec); a process forked from this one
    shares the lock through it, so a server pins in each worker after the fork. Raises
    :class:`GenerationGone` if the folder is being, or has been, removed."""
    try:
        fd = os.open(generation, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise GenerationGone(f"{generation}: the generation was removed") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        # Removed between our open and our lock: the folder we locked is not there.
        if not os.path.samestat(os.fstat(fd), os.stat(generation)):
            raise FileNotFoundError(generation)
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        raise GenerationGone(f"{generation}: the generation is being removed") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def unpin(fd: int) -> None:
    """Let go of a pin taken by :func:`pin` (closing its descriptor drops the lock)."""
    os.close(fd)


def _remove_unless_pinned(generation: Path) -> bool:
    """Remove ``generation`` unless a process pins it; say whether it was removed."""
    try:
        fd = os.open(generation, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False  # some server process still reads it
    try:  # held while removing: a server cannot pin it half-removed
        shutil.rmtree(generation, ignore_errors=True)
    finally:
        os.close(fd)
    return True


def share_index_files(source: Path, target: Path) -> None:
    """Give generation ``target`` the (immutable) Whoosh files of ``source``, as hard links
    where the file system allows; the files every run rewrites are left out."""
    rewritten = (META_FILE, LEXICON_FILE, VOCABULARY_FILE, REPORT_FILE)
    for path in source.iterdir():
        if path.name in rewritten or path.name.endswith("WRITELOCK") or path.is_dir():
            continue  # the search arrays (a folder) are derived anew
        try:
            os.link(path, target / path.name)
        except OSError:  # another file system, or links not allowed: copy instead
            shutil.copy2(path, target / path.name)


def read_meta(generation: Path) -> dict[str, Any]:
    try:
        return json.loads((generation / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IncompatibleIndex(
            f"{generation}: no readable {META_FILE} ({exc}); rebuild the index"
        ) from None


def check_compatible(generation: Path) -> dict[str, Any]:
    meta = read_meta(generation)
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise IncompatibleIndex(
            f"{generation}: index schema version {version} is not the version this program "
            f"reads ({SCHEMA_VERSION}); rebuild it with `pfocr build`"
        )
    return meta


def write_json(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    temp.replace(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
