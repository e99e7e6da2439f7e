"""Search page benchmark: the HTML search page against the JSON API for the same request.

    python -m bench.bench_pages --index bench/out/search-index-100000 [--runs 30]

For each query class of the search benchmark (``bench/search_workload.py``: two_common,
two_rare, gene, word_org_years, browse, min_genes) the same request is sent as
``/api/search?<params>`` and as ``/?<params>`` through Flask's test client (no network,
no HTTP server), alternately, in the same run. The service's result cache is cleared
before every request, so both do the whole search; what the page adds is rendering the
results, facets and links. Prints the median and p95 of each in milliseconds, the
median extra time of the page (the goal: at most 10 ms) and the median page size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.bench_search import summary
from bench.search_workload import draw_workload
from indexer.index.store import IndexStore
from server.search import models
from server.search.models import SearchRequest
from server.web import create_app

PAGE_BUDGET_MS = 10.0


def query_string(request: SearchRequest) -> str:
    """The URL parameters (the API's and the page's) that describe ``request``."""
    pairs: list[tuple[str, Any]] = []
    if request.q:
        pairs.append(("q", request.q))
    for name, values in request.filters.items():
        pairs += [(name, v) for v in values]
    for name in ("year_min", "year_max", "min_genes"):
        if getattr(request, name) is not None:
            pairs.append((name, getattr(request, name)))
    if request.page != 1:
        pairs.append(("page", request.page))
    if request.per_page != models.DEFAULT_PER_PAGE:
        pairs.append(("per_page", request.per_page))
    if request.facets != models.DEFAULT_FACETS:
        pairs.append(("facets", ",".join(request.facets)))
    return urlencode(pairs)


def timed_get(client: Any, service: Any, url: str) -> tuple[float, int]:
    service._results.data.clear()  # measure the work, not the result cache
    service._matches.data.clear()
    start = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}: {body[:300]!r}")
    return elapsed, len(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index root (index_data/)")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per class")
    parser.add_argument("--distinct", type=int, default=10, help="distinct queries per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if IndexStore(args.index).current() is None:
        raise SystemExit(f"no index in {args.index}: build one with `pfocr build SRC --index DIR`")

    app = create_app(args.index, test_config={"TESTING": False})
    client = app.test_client()
    service = app.extensions["pfocr"]
    snap = service._snapshot()
    classes = draw_workload(snap, args.distinct, args.seed).classes
    print(f"{snap.documents} figures, index generation {snap.version}\n")
    header = (
        f"{'class':14} | {'api med':>8} {'p95':>7} | {'page med':>8} {'p95':>7} | "
        f"{'extra med':>9} | {'page kB':>7}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, Any] = {"documents": snap.documents, "classes": {}}
    worst = 0.0
    for name, requests in classes.items():
        urls = [query_string(r) for r in requests]
        for qs in urls:  # first touches of postings and templates, not timed
            timed_get(client, service, f"/api/search?{qs}")
            timed_get(client, service, f"/?{qs}")
        plan = [urls[i % len(urls)] for i in range(args.runs)]
        api, page, extra, sizes = [], [], [], []
        for qs in plan:
            api_ms, _ = timed_get(client, service, f"/api/search?{qs}")
            page_ms, size = timed_get(client, service, f"/?{qs}")
            api.append(api_ms)
            page.append(page_ms)
            extra.append(page_ms - api_ms)
            sizes.append(size)
        a, p = summary(api), summary(page)
        added = p["median"] - a["median"]
        worst = max(worst, added)
        print(
            f"{name:14} | {a['median']:8.1f} {a['p95']:7.1f} | {p['median']:8.1f} "
            f"{p['p95']:7.1f} | {added:+9.1f} | {statistics.median(sizes) / 1000:7.1f}"
        )
        results["classes"][name] = {
            "api": a,
            "page": p,
            "page_minus_api_median": added,
            "paired_extra_median": statistics.median(extra),
            "page_bytes_median": statistics.median(sizes),
        }
    verdict = "within" if worst <= PAGE_BUDGET_MS else "OVER"
    print(
        f"\nthe page adds at most {worst:.1f} ms to the API's median "
        f"({verdict} the {PAGE_BUDGET_MS:.0f} ms budget)"
    )
    results["worst_page_minus_api_median"] = worst
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
