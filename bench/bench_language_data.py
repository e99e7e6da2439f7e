"""Load time and memory of the shipped linguistic data (indexer/data/README.md).

    python -m bench.bench_language_data [--runs 7]

Each load runs in a fresh Python process (its module already imported, so only the
loading is timed), ``--runs`` times; the figures are medians with the range, in wall
time and in the process's CPU time (which a machine busy with other work inflates less).
Beside each loader, the same run times a baseline: reading its file alone (decompress
and split into lines), so a ratio says what the loader adds on this machine.

Memory: the growth of the process's resident set over the load (after a garbage
collection), and tracemalloc's count of the Python objects kept and of the peak while
loading, in a separate process (tracing slows the load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

LOADERS = {
    "gene nomenclature": (
        "from indexer.nomenclature import GeneNomenclature as G, TABLE",
        "G.from_file(TABLE)",
        "import gzip; gzip.decompress(TABLE.read_bytes()).decode().split('\\n')",
    ),
    "spelling pairs": (
        "from indexer import language as L",
        "L.spelling_pairs()",
        "L.SPELLINGS.read_text(encoding='utf-8').split('\\n')",
    ),
    "query stop words": (
        "from indexer import language as L",
        "L._read_words(L.STOP_WORDS_FILE)",
        "L.STOP_WORDS_FILE.read_text(encoding='utf-8').split('\\n')",
    ),
}

TIMED = """
import gc, json, time, psutil
{setup}
process = psutil.Process()
gc.collect(); before = process.memory_info().rss
start, cpu = time.perf_counter(), time.process_time()
kept = {load}
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
gc.collect(); grown = process.memory_info().rss - before
start = time.perf_counter(); {baseline}; base = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "cpu": cpu, "rss": grown, "baseline": base}}))
"""

TRACED = """
import gc, json, tracemalloc
{setup}
gc.collect(); tracemalloc.start()
kept = {load}
gc.collect(); current, peak = tracemalloc.get_traced_memory()
print(json.dumps({{"kept": current, "peak": peak}}))
"""


def run(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def spread(values: list[float], scale: float, unit: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid * scale:.1f} {unit} ({low * scale:.1f}-{high * scale:.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    for name, (setup, load, baseline) in LOADERS.items():
        timed = [run(TIMED.format(setup=setup, load=load, baseline=baseline))]
        timed += [
            run(TIMED.format(setup=setup, load=load, baseline=baseline))
            for _ in range(args.runs - 1)
        ]
        traced = run(TRACED.format(setup=setup, load=load))
        seconds = [t["seconds"] for t in timed]
        ratios = [t["seconds"] / t["baseline"] for t in timed]
        cpu = [t["cpu"] for t in timed]
        print(
            f"{name}: load {spread(seconds, 1000, 'ms')} (CPU {spread(cpu, 1000, 'ms')}), "
            f"{statistics.median(ratios):.1f}x reading its file alone "
            f"({spread([t['baseline'] for t in timed], 1000, 'ms')}); "
            f"resident set +{spread([t['rss'] for t in timed], 1e-6, 'MB')}; "
            f"Python objects kept {traced['kept'] / 1e6:.1f} MB, "
            f"peak {traced['peak'] / 1e6:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
