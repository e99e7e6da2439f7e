"""Build, update and check the index from record files.

A full build runs in two passes over shards of the input, one worker process per core:

1. *read*: each worker parses and validates its files and spills the clean figures to a
   temporary file; it returns its rejections, the figids it saw, and the genes' symbol
   -> Entrez pairs. The main process then settles duplicate figids (the first file in
   path order wins) and merges the gene knowledge into one lexicon.
2. *index*: each worker reads its spill back, gives newer-generation figures their Entrez
   IDs from the lexicon, and writes Whoosh segments (a new one whenever memory fills). The main process commits
   all segments at once and publishes the new generation (see ``indexer.index.store``).

Parsing and indexing both run on every core; nothing is parsed twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm
from whoosh import index as whoosh_index

from indexer import __version__
from indexer.errors import RecordError
from indexer.index import schema
from indexer.index.derived import write_search_arrays
from indexer.index.records import TRAINING_RECORDS, RecordCodec
from indexer.index.store import (
    BUILD_TEMP_PREFIX,
    LEXICON_FILE,
    META_FILE,
    REPORT_FILE,
    VOCABULARY_FILE,
    IndexStore,
    share_index_files,
    write_json,
)
from indexer.index.writer import (
    BulkSegmentWriter,
    IndexedDocument,
    commit_segments,
    indexed_documents,
    replace_documents,
    stored_records,
)
from indexer.lexicon import GeneLexicon
from indexer.record import Figure, normalize
from indexer.report import Report
from indexer.sources import discover, read_records
from indexer.vocabulary import Vocabulary

WRITER_MEMORY_MB = 192  # postings each worker holds before it finishes a segment
FILES_PER_WORKER_MIN = 500  # below this a pool costs more than it saves
PROGRESS_EVERY = 100  # files or figures between progress reports from a worker
READ_AHEAD_FILES = 64  # files a reader asks the kernel to fetch ahead of parsing

Progress = Callable[[int], None]


class StrictFailure(Exception):
    """--strict was given and some records were rejected: nothing was published."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


class EmptyIndexRefused(Exception):
    """The run would publish an index with no figures; the served one was kept."""

    def __init__(self, message: str, report: Report) -> None:
        super().__init__(message)
        self.report = report


# -- pass 1: read -----------------------------------------------------------------------


@dataclass
class ShardRead:
    files_read: int = 0
    records_read: int = 0
    rejected: list[RecordError] = field(default_factory=list)
    # (figid, file rank, position in file, location) of each valid record
    entries: list[tuple[str, int, int, str]] = field(default_factory=list)
    entrez_by_symbol: dict[str, str | None] = field(default_factory=dict)


def read_shard(
    files: Sequence[tuple[int, str]], spill: str, progress: Progress | None = None
) -> ShardRead:
    """Parse and validate ``(rank, path)`` files; spill the clean figures to ``spill``."""
    result = ShardRead()
    for _, path in files[:READ_AHEAD_FILES]:
        _will_read(path)
    with _cycle_collector_paused(), open(spill, "wb") as out:
        for number, (rank, path) in enumerate(files):
            if number + READ_AHEAD_FILES < len(files):
                _will_read(files[number + READ_AHEAD_FILES][1])
            result.files_read += 1
            for position, raw in enumerate(read_records(Path(path))):
                if isinstance(raw, RecordError):
                    result.rejected.append(raw)
                    continue
                result.records_read += 1
                try:
                    figure = normalize(raw.data, raw.location)
                except RecordError as error:
                    result.rejected.append(error)
                    continue
                pickle.dump((raw.location, raw.digest, figure), out, pickle.HIGHEST_PROTOCOL)
                result.entries.append((figure.figid, rank, position, raw.location))
                for gene in figure.genes:
                    result.entrez_by_symbol[gene.symbol] = (
                        result.entrez_by_symbol.get(gene.symbol) or gene.entrez
                    )
            if progress and result.files_read % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)  # in batches: each report crosses a process boundary
    if progress:
        progress(result.files_read % PROGRESS_EVERY)
    return result


def _will_read(path: str) -> None:
    """Have the kernel start reading a file the shard will parse soon, without waiting:
    on a cold page cache the read pass otherwise stalls on the disk for every file."""
    if not hasattr(os, "posix_fadvise"):  # not on macOS or Windows
        return
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return  # read_records reports it
    try:
        os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    finally:
        os.close(handle)


# -- pass 2: index ----------------------------------------------------------------------


@dataclass
class ShardIndexed:
    segments: list[Any]
    documents: int
    lexicon: GeneLexicon
    vocabulary: Vocabulary


def index_shard(
    index_dir: str,
    spill: str,
    skip: frozenset[str],
    lexicon: GeneLexicon,
    records: RecordCodec,
    memory_mb: float,
    progress: Progress | None = None,
) -> ShardIndexed:
    """Write the spilled figures (except locations in ``skip``) as new segments."""
    ix = whoosh_index.open_dir(index_dir)
    counted, vocabulary = GeneLexicon(), Vocabulary()
    figures = ((loc, dig, fig) for loc, dig, fig in _read_spill(spill) if loc not in skip)
    segments, documents = write_segments(
        ix, figures, lexicon, counted, vocabulary, records, memory_mb, progress
    )
    return ShardIndexed(segments, documents, counted, vocabulary)


def write_segments(
    ix: whoosh_index.Index,
    figures: Iterable[tuple[str, str, Figure]],
    lexicon: GeneLexicon,
    counted: GeneLexicon,
    vocabulary: Vocabulary,
    records: RecordCodec,
    memory_mb: float,
    progress: Progress | None = None,
) -> tuple[list[Any], int]:
    """Write ``(location, digest, figure)`` items as new segments of ``ix``; commit nothing.

    Newer-generation figures get their genes from ``lexicon``; every figure is counted in
    ``counted`` and its words in ``vocabulary``; ``records`` stores their records. A segment is finished whenever its
    postings fill ``memory_mb``, so memory stays bounded and nothing is sorted on disk.
    """

    def new_writer() -> BulkSegmentWriter:
        return BulkSegmentWriter(ix, memory_mb=memory_mb, words=vocabulary.words)

    writer = new_writer()
    segments = []
    documents = 0
    try:
        with _cycle_collector_paused():
            for location, digest, figure in figures:
                lexicon.resolve_keywords(figure)
                counted.count(figure)
                writer.add_document(**schema.document(figure, location, digest, records))
                documents += 1
                if writer.full:
                    segments.append(writer.finish())
                    writer = new_writer()
                if progress and documents % PROGRESS_EVERY == 0:
                    progress(PROGRESS_EVERY)
            segments.append(writer.finish())
    except BaseException:
        writer.cancel()  # closes its files; the partial generation is discarded
        raise
    if progress:
        progress(documents % PROGRESS_EVERY)
    return [s for s in segments if s is not None], documents


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector. A shard allocates millions of long-lived objects
    (figures, postings lists) and no cycles; the collector's repeated passes over them
    cost about a fifth of a build. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _trained_records(spills: Sequence[str], skip: frozenset[str]) -> RecordCodec:
    """The codec of the build's stored records, its dictionary trained on a sample of
    them: the first records of each shard (files come in no meaningful order)."""
    each = TRAINING_RECORDS // max(len(spills), 1)
    sample = []
    for spill in spills:
        figures = (f for loc, _, f in _read_spill(spill) if loc not in skip)
        sample += [figure.as_dict() for figure in itertools.islice(figures, each)]
    return RecordCodec.trained(sample)


def _read_spill(spill: str) -> Iterable[tuple[str, str, Figure]]:
    with open(spill, "rb") as handle:
        while True:
            try:
                yield pickle.load(handle)
            except EOFError:
                return


# -- worker processes -------------------------------------------------------------------

_worker_progress: Any = None


def _init_worker(queue: Any, parent: int) -> None:
    global _worker_progress
    _worker_progress = queue
    _die_with_parent(parent)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_CHECK_SECONDS = 1.0


def _die_with_parent(parent: int) -> None:
    """End this worker when the build that started it dies, even by SIGKILL: an orphan
    would go on working for seconds, then sleep forever holding its memory.

    Linux kills it at once (prctl PR_SET_PDEATHSIG); elsewhere, and should that fail, a
    thread notices that the parent is gone (the worker is handed to another parent).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    watcher = threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True)
    watcher.start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _report_progress(amount: int) -> None:
    _worker_progress.put(amount)


def _read_shard_in_worker(files: Sequence[tuple[int, str]], spill: str) -> ShardRead:
    return read_shard(files, spill, _report_progress)


def _index_shard_in_worker(
    index_dir: str,
    spill: str,
    skip: frozenset[str],
    lexicon: GeneLexicon,
    records: RecordCodec,
    memory_mb: float,
) -> ShardIndexed:
    return index_shard(index_dir, spill, skip, lexicon, records, memory_mb, _report_progress)


class _Runner:
    """Runs shard jobs in worker processes (or inline for small inputs) with a progress bar."""

    def __init__(self, workers: int, show_progress: bool) -> None:
        self.workers = workers
        self.show_progress = show_progress
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            context = multiprocessing.get_context("spawn")
            self.queue = context.SimpleQueue()
            self.pool = ProcessPoolExecutor(
                workers, context, _init_worker, (self.queue, os.getpid())
            )

    def map(
        self,
        label: str,
        total: int,
        unit: str,
        inline: Callable,
        pooled: Callable,
        jobs: list[tuple],
    ) -> list:
        with tqdm(
            total=total, desc=label, unit=unit, disable=not self.show_progress, smoothing=0.1
        ) as bar:
            if self.pool is None:
                return [inline(*job, bar.update) for job in jobs]
            futures = [self.pool.submit(pooled, *job) for job in jobs]
            while not all(f.done() for f in futures):
                self._drain(bar, timeout=0.2)
            self._drain(bar, timeout=0)
            return [f.result() for f in futures]

    def _drain(self, bar: tqdm, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            while not self.queue.empty():
                bar.update(self.queue.get())
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _shards(files: list[Path], count: int) -> list[list[tuple[int, str]]]:
    """Split files into ``count`` shards of about equal bytes, keeping each file's rank."""
    shards: list[list[tuple[int, str]]] = [[] for _ in range(count)]
    loads = [0] * count
    sized = sorted(((_size(path), rank, path) for rank, path in enumerate(files)), reverse=True)
    for size, rank, path in sized:  # largest first, each to the lightest shard so far
        lightest = loads.index(min(loads))
        shards[lightest].append((rank, str(path)))
        loads[lightest] += size
    return [sorted(shard) for shard in shards if shard]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _worker_count(files: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    return max(1, min(os.cpu_count() or 1, files // FILES_PER_WORKER_MIN))


# -- reading all sources ----------------------------------------------------------------


@dataclass
class ReadResult:
    shards: list[ShardRead]
    spills: list[str]
    losers: frozenset[str]  # locations of duplicate figids that are not indexed
    lexicon: GeneLexicon


def _read_all(files: list[Path], runner: _Runner, report: Report, temp_dir: str) -> ReadResult:
    shards = _shards(files, runner.workers)
    spills = [os.path.join(temp_dir, f"shard{i}.pickle") for i in range(len(shards))]
    results: list[ShardRead] = runner.map(
        "reading",
        len(files),
        "file",
        read_shard,
        _read_shard_in_worker,
        list(zip(shards, spills, strict=True)),
    )
    lexicon = GeneLexicon()
    for shard in results:
        report.files_read += shard.files_read
        report.records_read += shard.records_read
        for error in shard.rejected:
            report.reject(error)
        lexicon.learn_pairs(shard.entrez_by_symbol)
    losers = _settle_duplicates([e for shard in results for e in shard.entries], report)
    return ReadResult(results, spills, losers, lexicon)


def _settle_duplicates(entries: list[tuple[str, int, int, str]], report: Report) -> frozenset[str]:
    """Keep the first record of each figid in path order; reject the others, naming both."""
    first: dict[str, tuple[int, int, str]] = {}
    for figid, rank, position, location in sorted(entries, key=lambda e: (e[1], e[2])):
        if figid in first:
            winner = first[figid][2]
            report.reject(
                RecordError(
                    location, "figid", f"duplicate figid {figid!r}: already read from {winner}"
                )
            )
        else:
            first[figid] = (rank, position, location)
    kept = {location for _, _, location in first.values()}
    return frozenset(location for *_, location in entries if location not in kept)


# -- public entry points ----------------------------------------------------------------


def check(
    sources: Sequence[str | os.PathLike[str]], *, workers: int | None = None, progress: bool = False
) -> Report:
    """Validate records without touching any index."""
    started = time.perf_counter()
    report = Report("check", [str(s) for s in sources])
    files = discover(sources)
    runner = _Runner(_worker_count(len(files), workers), progress)
    try:
        with tempfile.TemporaryDirectory(prefix="pfocr-check-") as temp_dir:
            read = _read_all(files, runner, report, temp_dir)
            report.figures_indexed = sum(len(s.entries) for s in read.shards) - len(read.losers)
    finally:
        runner.close()
    report.seconds = time.perf_counter() - started
    return report


def build(
    sources: Sequence[str | os.PathLike[str]],
    index_root: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = False,
    strict: bool = False,
    memory_mb: float = WRITER_MEMORY_MB,
    allow_empty: bool = False,
) -> Report:
    """Build a new index from all records in ``sources`` and publish it in ``index_root``.

    The index being served is untouched until the new one is complete. With ``strict``,
    any rejected record abandons the build (raising ``StrictFailure``); so does finding
    no figure to index, unless ``allow_empty`` (raising ``EmptyIndexRefused``). Each
    worker holds about ``memory_mb`` of postings in memory before it finishes a segment.
    """
    started = time.perf_counter()
    store = IndexStore(index_root)
    report = Report("build", [str(s) for s in sources], index=str(store.root))
    lap = report.stopwatch()
    with store.lock():
        files = discover(sources)
        lap("discover")
        runner = _Runner(_worker_count(len(files), workers), progress)
        try:
            with _new_generation(store, report, started) as partial:
                ix = whoosh_index.create_in(str(partial), schema.build_schema())
                with tempfile.TemporaryDirectory(prefix=BUILD_TEMP_PREFIX, dir=store.root) as temp:
                    read = _read_all(files, runner, report, temp)
                    lap("read")
                    _check_strict(report, strict)
                    indexed = sum(len(s.entries) for s in read.shards) - len(read.losers)
                    _check_not_empty(report, indexed, allow_empty)
                    records = _trained_records(read.spills, read.losers)
                    records.save(partial)
                    jobs = [
                        (str(partial), spill, read.losers, read.lexicon, records, memory_mb)
                        for spill in read.spills
                    ]
                    shards = runner.map(
                        "indexing", indexed, "fig", index_shard, _index_shard_in_worker, jobs
                    )
                    runner.close()  # the workers' memory goes back before the merge
                    lap("index")
                lexicon, vocabulary = read.lexicon, Vocabulary()
                for shard in shards:
                    lexicon.merge_counts(shard.lexicon)
                    vocabulary.merge(shard.vocabulary)
                commit_segments(ix, [segment for shard in shards for segment in shard.segments])
                report.figures_indexed = report.documents = sum(s.documents for s in shards)
                spelling = vocabulary.surface()
                write_json(partial / VOCABULARY_FILE, spelling)
                lap("commit")
                write_search_arrays(partial, lexicon, spelling)
                lap("arrays")
                _publish(store, partial, report, lexicon, started)
        finally:
            runner.close()
    return report


@contextlib.contextmanager
def _new_generation(store: IndexStore, report: Report, started: float) -> Iterator[Path]:
    """A new ``.partial`` generation to write into. Unless the run publishes it, it is
    removed; the run's report is written whatever happens."""
    partial = store.new_generation()
    try:
        yield partial
    finally:
        if not report.published:
            store.discard(partial)
        report.seconds = time.perf_counter() - started
        store.write_report(report.as_dict())


def _check_strict(report: Report, strict: bool) -> None:
    if strict and report.rejected:
        raise StrictFailure(
            f"{report.figures_rejected} records rejected; nothing was published", report
        )


def _check_not_empty(report: Report, figures: int, allow_empty: bool) -> None:
    """An empty index replacing a full one is nearly always a mistake (a wrong folder, a
    broken export): refuse it unless asked for."""
    if figures > 0 or allow_empty:
        return
    if report.command == "update":
        why = "the update would leave no figures in the index"
    elif report.figures_rejected:
        why = f"all {report.figures_rejected} records were rejected"
    else:
        why = f"no figures to index in the {report.files_read} files read"
    raise EmptyIndexRefused(
        f"{why}; the index was not changed (--allow-empty publishes an empty index)", report
    )


def _publish(
    store: IndexStore, partial: Path, report: Report, lexicon: GeneLexicon, started: float
) -> None:
    _write_generation_files(partial, report, lexicon, started)
    store.publish(partial)
    report.published = True


def _write_generation_files(
    folder: Path, report: Report, lexicon: GeneLexicon, started: float
) -> None:
    report.seconds = time.perf_counter() - started
    lexicon.save(folder / LEXICON_FILE)
    write_json(folder / REPORT_FILE, report.as_dict())
    write_json(
        folder / META_FILE,
        {
            "schema_version": schema.SCHEMA_VERSION,
            "indexer_version": __version__,
            "generation": folder.name.removesuffix(".partial"),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": report.command,
            "sources": report.sources,
            "documents": report.documents,
            "files_read": report.files_read,
            "figures_rejected": report.figures_rejected,
            "lexicon_genes": len(lexicon),
            "lexicon_aliases": len(lexicon.alias_symbols),
        },
    )


# -- incremental update -----------------------------------------------------------------


def update(
    sources: Sequence[str | os.PathLike[str]],
    index_root: str | os.PathLike[str],
    *,
    progress: bool = False,
    strict: bool = False,
    allow_empty: bool = False,
) -> Report:
    """Bring the index in line with ``sources``: add new and changed figures, drop gone ones.

    Records are matched by where they were read from and a digest of their text, so
    unchanged files are not parsed again. The update is written to a new generation
    (sharing the unchanged segment files by hard links) and published atomically. An
    update that would leave no figures is refused unless ``allow_empty``.
    """
    started = time.perf_counter()
    store = IndexStore(index_root)
    report = Report("update", [str(s) for s in sources], index=str(store.root))
    with store.lock():
        current = store.require_current()
        files = discover(sources)
        with _new_generation(store, report, started) as partial:
            share_index_files(current, partial)  # the records' dictionary too
            ix = whoosh_index.open_dir(str(partial))
            lexicon = GeneLexicon.load(current / LEXICON_FILE)
            vocabulary = Vocabulary()
            removed = _apply_changes(ix, current, files, lexicon, vocabulary, report, progress)
            _check_strict(report, strict)
            report.documents = ix.doc_count()
            if removed is not None:  # else keep serving the same generation: caches stay valid
                _check_not_empty(report, report.documents, allow_empty)
                # Spellings already known stay; new stems get theirs.
                known = Vocabulary.load_surface(current / VOCABULARY_FILE)
                spelling = {**vocabulary.surface(), **known}
                write_json(partial / VOCABULARY_FILE, spelling)
                write_search_arrays(partial, lexicon, spelling, current, removed)
                _publish(store, partial, report, lexicon, started)
    return report


def _apply_changes(
    ix: whoosh_index.Index,
    previous: Path,
    files: list[Path],
    lexicon: GeneLexicon,
    vocabulary: Vocabulary,
    report: Report,
    progress: bool,
) -> list[int] | None:
    """Apply the differences between ``files`` and the index to its segments; return the
    documents replaced or removed, or None when nothing changed."""
    from indexer.sources import digest_units

    indexed = indexed_documents(ix)
    seen: set[str] = set()
    changed_files: list[Path] = []
    for path in tqdm(files, desc="comparing", unit="file", disable=not progress):
        units = list(digest_units(path))
        seen.update(location for location, _ in units)
        if any(indexed.get(loc) is None or indexed[loc].digest != digest for loc, digest in units):
            changed_files.append(path)
    report.files_read = len(files)
    gone = [record for location, record in indexed.items() if location not in seen]
    report.figures_removed = len(gone)
    new_figures = _read_changed(changed_files, indexed, report)
    replaced = [indexed[location] for location, _, _ in new_figures if location in indexed]
    report.figures_unchanged = len(indexed) - len(gone) - len(replaced)
    if not gone and not new_figures:
        return None
    for _, _, figure in new_figures:
        lexicon.learn(figure.genes)
    records = RecordCodec.load(previous)  # the records carried over were written with it
    segments, _ = write_segments(
        ix, new_figures, lexicon, lexicon, vocabulary, records, WRITER_MEMORY_MB
    )
    removed = [document.docnum for document in (*gone, *replaced)]
    for stored in stored_records(ix, removed, records):
        lexicon.count(Figure.from_dict(stored), -1)
    replace_documents(ix, removed, segments)
    report.figures_indexed = len(new_figures)
    return removed


def _read_changed(
    files: list[Path], indexed: dict[str, IndexedDocument], report: Report
) -> list[tuple[str, str, Figure]]:
    """Parse changed files; return their new or changed figures, duplicates rejected."""
    kept_figids = {record.figid: location for location, record in indexed.items()}
    new: list[tuple[str, str, Figure]] = []
    for path in files:
        for raw in read_records(path):
            if isinstance(raw, RecordError):
                report.reject(raw)
                continue
            report.records_read += 1
            old = indexed.get(raw.location)
            if old is not None and old.digest == raw.digest:
                continue
            try:
                figure = normalize(raw.data, raw.location)
            except RecordError as error:
                report.reject(error)
                continue
            owner = kept_figids.get(figure.figid)
            if owner is not None and owner != raw.location:
                report.reject(
                    RecordError(
                        raw.location,
                        "figid",
                        f"duplicate figid {figure.figid!r}: already read from {owner}",
                    )
                )
                continue
            kept_figids[figure.figid] = raw.location
            new.append((raw.location, raw.digest, figure))
    return new
