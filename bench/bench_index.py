"""Indexing benchmark: our pipeline against two baselines, on synthetic PFOCR corpora.

    python -m bench.bench_index                      # 10k (3 runs) and 100k (1 run)
    python -m bench.bench_index --sizes 2000 --repeats 1 --update-count 200   # quick

For each corpus size (corpora are generated once by ``bench.synth`` and cached under
``bench/out/``, which git ignores) and each variant, the work runs in a fresh Python
process with a fresh index folder under ``bench/out/runs/``, while a thread here samples
the resident memory of that whole process tree (the process and all its workers) every
50 ms. Variants:

- ``pipeline``: ``indexer.pipeline.build`` (what ``pfocr build`` runs);
- ``sqlite``: the same files parsed the same way (``read_records`` + ``normalize``), loaded
  into one SQLite FTS5 table of the text columns, in one process and one transaction;
- ``whoosh``: the same parsing, then a plain single-process Whoosh writer
  (``ix.writer()``, ``add_document`` per record, ``commit``) over ``build_schema()``;
- ``parse``: the parsing alone (``read_records`` + ``normalize``), a floor for the others.

Then ``update``: ``indexer.pipeline.update`` after ``bench.synth.mutate`` changed N records
of the largest corpus, into the pipeline's index of that corpus (the changed files are
restored afterwards so the cached corpus stays valid).

Times are wall-clock seconds of the work itself (from discovering the files to the
committed index), without interpreter start-up. Small sizes run ``--repeats`` times and
report medians; sizes above ``--once-above`` run once per variant. The machine is shared,
so the load average at the start of each run is printed beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import inspect
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RUNS = OUT / "runs"
VARIANTS = ("pipeline", "sqlite", "whoosh", "parse")
SAMPLE_EVERY = 0.05  # seconds between memory samples


# --------------------------------------------------------------------------------------
# The work of each variant (runs in a child process: ``--child VARIANT``)


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` with the keyword arguments it accepts (the pipeline API may evolve)."""
    accepted = inspect.signature(func).parameters
    return func(*args, **{k: v for k, v in kwargs.items() if k in accepted and v is not None})


def _parsed(corpus: Path):
    """Yield ``(location, digest, figure)`` for each record, exactly as the indexer parses."""
    from indexer.errors import RecordError
    from indexer.record import normalize
    from indexer.sources import discover, read_records

    for path in discover([corpus]):
        for raw in read_records(path):
            if isinstance(raw, RecordError):
                yield None
                continue
            try:
                yield raw.location, raw.digest, normalize(raw.data, raw.location)
            except RecordError:
                yield None


def work_pipeline(corpus: Path, index: Path, workers: int | None) -> dict[str, Any]:
    from indexer import pipeline

    report = _call(pipeline.build, [corpus], index, workers=workers, progress=False)
    return {
        "records": report.figures_indexed,
        "rejected": report.figures_rejected,
        "files": report.files_read,
    }


def work_update(corpus: Path, index: Path, workers: int | None) -> dict[str, Any]:
    from indexer import pipeline

    report = _call(pipeline.update, [corpus], index, workers=workers, progress=False)
    return {
        "records": report.figures_indexed,
        "rejected": report.figures_rejected,
        "files": report.files_read,
        "unchanged": getattr(report, "figures_unchanged", None),
        "documents": getattr(report, "documents", None),
    }


def work_parse(corpus: Path, index: Path, workers: int | None) -> dict[str, Any]:
    records = rejected = 0
    for item in _parsed(corpus):
        if item is None:
            rejected += 1
        else:
            records += 1
    return {"records": records, "rejected": rejected}


def work_sqlite(corpus: Path, index: Path, workers: int | None) -> dict[str, Any]:
    import sqlite3

    from indexer.index.schema import searchable_text

    index.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(index / "fts5.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE VIRTUAL TABLE figures USING fts5(figid UNINDEXED, title, text, genes, organisms,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    insert = "INSERT INTO figures VALUES (?, ?, ?, ?, ?)"
    records = rejected = 0
    batch: list[tuple[str, ...]] = []
    with db:  # one transaction
        for item in _parsed(corpus):
            if item is None:
                rejected += 1
                continue
            _, _, figure = item
            genes = [g.symbol for g in figure.genes] + [a for g in figure.genes for a in g.aliases]
            genes += [g.entrez for g in figure.genes if g.entrez] + figure.gene_keywords
            batch.append(
                (
                    figure.figid,
                    " ".join(t for t in (figure.figtitle, figure.papertitle) if t),
                    searchable_text(figure),
                    " ".join(genes),
                    " | ".join(figure.organisms),
                )
            )
            records += 1
            if len(batch) >= 1000:
                db.executemany(insert, batch)
                batch.clear()
        db.executemany(insert, batch)
    db.close()
    return {"records": records, "rejected": rejected}


def work_whoosh(corpus: Path, index: Path, workers: int | None) -> dict[str, Any]:
    from whoosh import index as whoosh_index

    from indexer.index import schema
    from indexer.lexicon import GeneLexicon

    index.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(index), schema.build_schema())
    writer = ix.writer()
    lexicon = GeneLexicon()  # the same per-record gene work as the pipeline, in one pass
    records = rejected = 0
    for item in _parsed(corpus):
        if item is None:
            rejected += 1
            continue
        location, digest, figure = item
        lexicon.learn(figure.genes)
        lexicon.resolve_keywords(figure)
        lexicon.count(figure)
        document = schema.document(figure, location, digest)
        for key in schema.ARRAYS_ONLY:  # what the search arrays alone index: no Whoosh field
            document.pop(key, None)
        writer.add_document(**document)
        records += 1
    writer.commit()
    return {"records": records, "rejected": rejected}


WORK = {
    "pipeline": work_pipeline,
    "sqlite": work_sqlite,
    "whoosh": work_whoosh,
    "parse": work_parse,
    "update": work_update,
}


def child_main(variant: str, corpus: Path, index: Path, workers: int | None) -> None:
    # Import what the work needs before the clock starts, like a running `pfocr` would.
    import resource

    import indexer.index.schema
    import indexer.pipeline
    import indexer.sources  # noqa: F401

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        workers_done = resource.getrusage(resource.RUSAGE_CHILDREN)  # joined workers
        return own.ru_utime + own.ru_stime + workers_done.ru_utime + workers_done.ru_stime

    started, cpu_started = time.perf_counter(), cpu()
    result = WORK[variant](corpus, index, workers)
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = cpu() - cpu_started
    print("RESULT " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------
# Running a child and measuring its process tree


class TreeMemory(threading.Thread):
    """Samples the summed RSS of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0
        self.peak_processes = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopped.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            if total > self.peak:
                self.peak, self.peak_processes = total, len(procs)
            self.stopped.wait(SAMPLE_EVERY)


def run_child(
    variant: str, corpus: Path, index: Path, workers: int | None = None
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.bench_index", "--child", variant]
    command += ["--corpus", str(corpus), "--index", str(index)]
    if workers:
        command += ["--workers", str(workers)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sampler = TreeMemory(proc.pid)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.stopped.set()
    sampler.join()
    if proc.returncode != 0:
        print(f"  {variant} FAILED (exit {proc.returncode}): {' '.join(command)}", flush=True)
        result = {"failed": proc.returncode, "seconds": float("nan"), "records": 0, "rejected": 0}
    else:
        line = next(li for li in stdout.splitlines() if li.startswith("RESULT "))
        result = json.loads(line.removeprefix("RESULT "))
    result.update(
        variant=variant,
        peak_mb=sampler.peak / 2**20,
        processes=sampler.peak_processes,
        load=load,
        process_seconds=time.perf_counter() - started,
        index_mb=_du(index) / 2**20 if index.exists() else 0.0,
    )
    return result


def _du(path: Path) -> int:
    seen: set[int] = set()  # count hard-linked files (shared update segments) once
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            st = p.lstat()
            if p.is_file() and not p.is_symlink() and st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
    return total


# --------------------------------------------------------------------------------------
# Corpora


def corpus_for(size: int, seed: int) -> Path:
    from bench import synth

    folder = OUT / f"corpus-{size}-s{seed}"
    manifest = synth.read_manifest(folder)
    wanted = {"count": size, "seed": seed, "format": "md", "version": synth.GENERATOR_VERSION}
    if manifest != wanted:
        print(f"generating {size:,} synthetic records in {folder} ...", flush=True)
        started = time.perf_counter()
        if folder.exists():
            shutil.rmtree(folder)
        synth.generate(size, folder, seed=seed)
        print(f"  {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def warm(corpus: Path) -> None:
    """Read every file once so that no variant pays for a cold page cache."""
    for path in corpus.rglob("*.md"):
        path.read_bytes()


@contextlib.contextmanager
def mutated(corpus: Path, count: int, seed: int):
    """Change ``count`` records of ``corpus`` in place, and restore them afterwards."""
    from bench import synth

    files = sorted(corpus.rglob("*.md"))
    chosen = random.Random(seed).sample(files, min(count, len(files)))
    saved = {path: path.read_bytes() for path in chosen}
    manifest = corpus / synth.MANIFEST
    manifest_text = manifest.read_text(encoding="utf-8")
    manifest.write_text('{"dirty": true}\n', encoding="utf-8")  # regenerate if we crash
    try:
        changed = synth.mutate(chosen, len(chosen), seed=seed)
        yield changed
    finally:
        for path, data in saved.items():
            path.write_bytes(data)
        manifest.write_text(manifest_text, encoding="utf-8")


# --------------------------------------------------------------------------------------
# Where the time goes, per record (in this process)


def profile_stages(corpus: Path, limit: int) -> str:
    """Per-record cost of each step of our pipeline's path (its bulk segment writer)."""
    from whoosh import index as whoosh_index

    from indexer.index import schema
    from indexer.index.writer import BulkSegmentWriter
    from indexer.lexicon import GeneLexicon
    from indexer.pipeline import WRITER_MEMORY_MB
    from indexer.record import normalize
    from indexer.sources import discover, parse_yaml, read_records

    files = discover([corpus])[:limit]
    stages = dict.fromkeys(
        ("read+split file", "YAML parse", "normalize", "schema.document", "add_document"), 0.0
    )
    folder = Path(tempfile.mkdtemp(prefix="profile-", dir=RUNS))
    gc.disable()  # as the pipeline's workers do (see indexer.pipeline)
    try:
        ix = whoosh_index.create_in(str(folder), schema.build_schema())
        writer = BulkSegmentWriter(ix, memory_mb=WRITER_MEMORY_MB)
        lexicon = GeneLexicon()
        clock = time.perf_counter
        n = 0
        for path in files:
            t0 = clock()
            text = path.read_text(encoding="utf-8")
            front = text.split("\n---", 1)[0].removeprefix("---\n")
            t1 = clock()
            parse_yaml(front, first_line=2)
            t2 = clock()
            raws = list(read_records(path))  # the real reader, to normalize what it yields
            t3 = clock()
            for raw in raws:
                figure = normalize(raw.data, raw.location)
                t4 = clock()
                lexicon.learn(figure.genes)
                lexicon.resolve_keywords(figure)
                doc = schema.document(figure, raw.location, raw.digest)
                t5 = clock()
                writer.add_document(**doc)
                t6 = clock()
                n += 1
                stages["normalize"] += t4 - t3
                stages["schema.document"] += t5 - t4
                stages["add_document"] += t6 - t5
                t3 = clock()
            stages["read+split file"] += t1 - t0
            stages["YAML parse"] += t2 - t1
        t0 = clock()
        writer.finish()
        stages["finish segment"] = clock() - t0
        lines = [f"per-record cost of each step, single process, first {n:,} records of {corpus}:"]
        total = sum(stages.values())
        for name, seconds in stages.items():
            lines.append(
                f"  {name:<22} {seconds / n * 1e6:8.0f} µs  {seconds / total * 100:5.1f} %"
            )
        lines.append(f"  {'total':<22} {total / n * 1e6:8.0f} µs  -> {n / total:,.0f} records/s")

        profiler = cProfile.Profile()
        ix2 = whoosh_index.create_in(str(folder), schema.build_schema(), indexname="p2")
        writer2 = BulkSegmentWriter(ix2, memory_mb=WRITER_MEMORY_MB)
        profiler.enable()
        for path in files:
            for raw in read_records(path):
                figure = normalize(raw.data, raw.location)
                writer2.add_document(**schema.document(figure, raw.location, raw.digest))
        writer2.finish()
        profiler.disable()
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("tottime").print_stats(18)
        lines.append("\ncProfile (parse + index, single process), top functions by own time:")
        lines.extend(
            li for li in buffer.getvalue().splitlines() if li.strip() and "Ordered by" not in li
        )
        return "\n".join(lines)
    finally:
        gc.enable()
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The benchmark


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    runs = [r for r in runs if not r.get("failed")]
    if not runs:
        return None
    seconds = [r["seconds"] for r in runs]
    return {
        "runs": len(runs),
        "seconds": median(seconds),
        "spread": (min(seconds), max(seconds)),
        "records": runs[0]["records"],
        "rejected": runs[0]["rejected"],
        "rate": runs[0]["records"] / median(seconds) if median(seconds) else 0.0,
        "cpu": median([r.get("cpu_seconds", float("nan")) for r in runs]),
        "peak_mb": median([r["peak_mb"] for r in runs]),
        "max_peak_mb": max(r["peak_mb"] for r in runs),
        "processes": max(r["processes"] for r in runs),
        "index_mb": median([r["index_mb"] for r in runs]),
        "loads": [round(r["load"], 1) for r in runs],
    }


def fresh_index(label: str) -> Path:
    RUNS.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=RUNS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_index", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="10000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (small sizes)")
    parser.add_argument(
        "--once-above", type=int, default=20000, help="sizes above this run once per variant"
    )
    parser.add_argument("--update-count", type=int, default=1000, help="0: no update run")
    parser.add_argument("--update-repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="pipeline workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile", type=int, default=2000, help="records for the per-step profile (0: none)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the index folders")
    parser.add_argument("--child", choices=sorted(WORK), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_main(args.child, args.corpus, args.index, args.workers)
        return 0

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    cores = os.cpu_count()
    print(f"python {sys.version.split()[0]}, {cores} cores, sizes {sizes}, variants {variants}")

    results: dict[tuple[int, str], dict[str, Any]] = {}
    all_runs: list[dict[str, Any]] = []
    update_runs: list[dict[str, Any]] = []
    largest_index: Path | None = None
    largest_size = 0
    try:
        for size in sizes:
            corpus = corpus_for(size, args.seed)
            warm(corpus)
            repeats = args.repeats if size <= args.once_above else 1
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
            for rep in range(repeats):
                for variant in variants:  # interleaved, so that drifting load hits all alike
                    index = fresh_index(f"{variant}-{size}")
                    result = run_child(variant, corpus, index, args.workers)
                    result.update(size=size, rep=rep)
                    runs[variant].append(result)
                    all_runs.append(result)
                    if result.get("failed"):
                        if not args.keep:
                            shutil.rmtree(index, ignore_errors=True)
                        continue
                    print(
                        f"  {size:>7,} {variant:<9} run {rep + 1}/{repeats}: "
                        f"{result['seconds']:7.2f} s  {result['records'] / result['seconds']:7,.0f} rec/s"
                        f"  peak {result['peak_mb']:6.0f} MB ({result['processes']} proc)"
                        f"  index {result['index_mb']:5.0f} MB  load {result['load']:.1f}",
                        flush=True,
                    )
                    if variant == "pipeline":  # the largest built index gets the update
                        if largest_index is not None and not args.keep:
                            shutil.rmtree(largest_index, ignore_errors=True)
                        largest_index, largest_size = index, size
                    elif not args.keep:
                        shutil.rmtree(index, ignore_errors=True)
            for variant in variants:
                results[size, variant] = summarize(runs[variant])

        if args.update_count and largest_index is not None:
            corpus = corpus_for(largest_size, args.seed)
            for rep in range(args.update_repeats):
                with mutated(corpus, args.update_count, seed=1000 + rep) as changed:
                    result = run_child("update", corpus, largest_index, args.workers)
                result.update(size=largest_size, rep=rep, changed=len(changed))
                update_runs.append(result)
                all_runs.append(result)
                print(
                    f"  update {len(changed):,} changed of {largest_size:,}, run {rep + 1}: "
                    f"{result['seconds']:6.2f} s, {result['records']:,} indexed, "
                    f"{result.get('unchanged')} unchanged, peak {result['peak_mb']:.0f} MB, "
                    f"load {result['load']:.1f}",
                    flush=True,
                )
            if args.keep:  # restoring the files is a change too: bring the index in line
                run_child("update", corpus, largest_index, args.workers)

        profile = ""
        if args.profile:
            profile = profile_stages(corpus_for(sizes[0], args.seed), args.profile)
    finally:
        if largest_index is not None and not args.keep:
            shutil.rmtree(largest_index, ignore_errors=True)

    print()
    print_table(sizes, variants, results, update_runs, args)
    if profile:
        print()
        print(profile)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (OUT / f"results-{stamp}.json").write_text(
        json.dumps({"runs": all_runs, "argv": sys.argv[1:]}, indent=1), encoding="utf-8"
    )
    print(f"\nall runs: {OUT / f'results-{stamp}.json'}")
    return 0


def print_table(sizes, variants, results, update_runs, args) -> None:
    header = (
        f"{'records':>9} {'variant':<9} {'runs':>4} {'seconds':>8} {'min-max':>13} {'cpu s':>7} "
        f"{'rec/s':>8} {'peak MB':>8} {'index MB':>8} {'vs sqlite':>9} {'vs whoosh':>9}"
    )
    print("RESULTS (times are medians; 'vs X' = X's time / this time, >1 means faster than X;")
    print("         'cpu s' = CPU seconds of the process and its workers, robust to machine load)")
    print(header)
    print("-" * len(header))
    for size in sizes:
        for variant in variants:
            r = results[size, variant]
            if r is None:
                print(f"{size:>9,} {variant:<9} FAILED (see the log above)")
                continue
            ratios = []
            for base in ("sqlite", "whoosh"):
                b = results.get((size, base))
                ratios.append(f"{b['seconds'] / r['seconds']:8.2f}x" if b else f"{'-':>9}")
            low, high = r["spread"]
            print(
                f"{size:>9,} {variant:<9} {r['runs']:>4} {r['seconds']:8.2f} "
                f"{f'{low:.1f}-{high:.1f}':>13} {r['cpu']:7.1f} {r['rate']:8,.0f} {r['peak_mb']:8.0f} "
                f"{r['index_mb']:8.0f} {ratios[0]} {ratios[1]}"
                + (f"  ({r['rejected']} rejected!)" if r["rejected"] else "")
            )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(
            f"\nlinearity: per-record time at {large:,} / per-record time at {small:,}"
            " (1.00 = linear; >1 = grows faster than linear)"
        )
        for variant in variants:
            a, b = results[small, variant], results[large, variant]
            if a is None or b is None:
                print(f"  {variant:<9} (failed at one size)")
                continue
            per_small = a["seconds"] / a["records"]
            per_large = b["seconds"] / b["records"]
            print(
                f"  {variant:<9} {per_small * 1e6:7.0f} µs -> {per_large * 1e6:7.0f} µs"
                f"  ratio {per_large / per_small:5.2f}"
            )
        if any(s > args.once_above for s in sizes):
            print(f"  (sizes above {args.once_above:,} ran once per variant: single samples)")
    if update_runs:
        seconds = [r["seconds"] for r in update_runs]
        r = update_runs[0]
        print(
            f"\nupdate of {r['changed']:,} changed records into the {r['size']:,}-record index: "
            f"median {median(seconds):.2f} s over {len(seconds)} runs "
            f"({', '.join(f'{s:.2f}' for s in seconds)} s); "
            f"peak {max(u['peak_mb'] for u in update_runs):.0f} MB; "
            f"indexed {[u['records'] for u in update_runs]}"
        )
    target = results.get((100000, "pipeline"))  # None if absent or failed
    if target:
        print(
            f"\ntargets at 100k: build < 90 s (issue 16: < 60 s): {target['seconds']:.1f} s; "
            f"peak < 1 GB: {target['max_peak_mb']:.0f} MB"
            + (
                f"; update < 10 s: {median([u['seconds'] for u in update_runs]):.1f} s"
                if update_runs and update_runs[0]["size"] == 100000
                else ""
            )
        )


if __name__ == "__main__":
    raise SystemExit(main())
