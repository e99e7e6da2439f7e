"""Export benchmark: a search exported whole, as served, against the same export with a
snippet made for every hit (what every format did before only JSON's hits held them).

    python -m bench.bench_export --index bench/out/search-index-100000 [--runs 3]

For each format (csv, gmt, json; tsv is csv's code with tabs) and a few searches of each
of three classes of the search benchmark (``bench/search_workload.py``: two rare words,
a few figures; a word with an organism and years, hundreds; a gene, thousands), the
exports are streamed in process (``SearchService.iter_hits`` into
``server.web.export.render``, no HTTP) with the hits' snippets as the format asks, and
again with every snippet made: alternately, each ``--runs`` times, in the same run.
Prints figures, megabytes, the median (and range) of each in milliseconds and their
ratio. JSON exports make every snippet either way: their ratio is this machine's noise,
against which to read the others'.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.search_workload import draw_workload
from indexer.index.store import IndexStore
from server.search.models import SearchRequest
from server.search.service import SearchService
from server.web import export

FORMATS = ("csv", "gmt", "json")  # tsv is csv's code with tabs
CLASSES = ("two_rare", "word_org_years", "gene")  # tens of figures, then thousands
SEARCHES = 3  # drawn of each class; those an export may hold whole are exported


def searches(service: SearchService, seed: int) -> dict[str, list[SearchRequest]]:
    """The searches of each of :data:`CLASSES` (from ``bench/search_workload.py``) whose
    every match an export may hold."""
    classes = draw_workload(service._snapshot(), SEARCHES, seed).classes
    chosen = {
        name: [r for r in classes.get(name, ()) if service.count(r) <= export.EXPORT_MAX]
        for name in CLASSES
    }
    return {name: requests for name, requests in chosen.items() if requests}


def timed_exports(
    service: SearchService, requests: list[SearchRequest], fmt: str, snippets: bool
) -> tuple[float, int]:
    """(milliseconds, bytes) of the whole exports of ``requests`` in ``fmt``, streamed as
    the API streams them."""
    start = time.perf_counter()
    size = 0
    for req in requests:
        hits = service.iter_hits(req, export.EXPORT_MAX, snippets)
        size += sum(len(chunk.encode()) for chunk in export.render(fmt, hits))
    return (time.perf_counter() - start) * 1000, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index root (index_data/)")
    parser.add_argument("--runs", type=int, default=3, help="timed exports of each kind")
    parser.add_argument("--seed", type=int, default=0, help="of the searches drawn")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if IndexStore(args.index).current() is None:
        raise SystemExit(f"no index in {args.index}: build one with `pfocr build SRC --index DIR`")
    service = SearchService(args.index)
    results: list[dict[str, Any]] = []
    head = f"{'class':14s} {'searches':>8s} {'format':6s} {'figures':>7s} {'MB':>6s}"
    print(f"{head}  {'as served':>20s}  {'every snippet':>20s}  ratio")
    for name, requests in searches(service, args.seed).items():
        figures = sum(service.count(r) for r in requests)
        for fmt in FORMATS:
            served, every = [], []
            size = 0
            for _ in range(args.runs):  # alternated: the machine's speed drifts
                ms, size = timed_exports(service, requests, fmt, export.holds_snippets(fmt))
                served.append(ms)
                every.append(timed_exports(service, requests, fmt, True)[0])
            results.append(
                {
                    "class": name,
                    "searches": [r.q for r in requests],
                    "format": fmt,
                    "figures": figures,
                    "bytes": size,
                    "served_ms": served,
                    "every_snippet_ms": every,
                }
            )
            ratio = statistics.median(served) / statistics.median(every)
            line = f"{name:14s} {len(requests):8d} {fmt:6s} {figures:7d} {size / 1e6:6.2f}"
            print(f"{line}  {_spread(served):>20s}  {_spread(every):>20s}  {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def _spread(times: list[float]) -> str:
    return f"{statistics.median(times):.0f} ({min(times):.0f}-{max(times):.0f}) ms"


if __name__ == "__main__":
    sys.exit(main())
