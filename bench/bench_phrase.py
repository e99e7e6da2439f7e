"""Quoted phrases of common words through SearchService: median and worst latency.

    python -m bench.bench_phrase --index bench/out/search-index-100000 [--runs 5]
        [--unbudgeted]

Each phrase runs ``--runs`` times cold (the service's result and match caches and the
index's cached positions cleared before each run) and as many times warm (only the
service's caches cleared: the phrase is checked again, from the index's cached
positions). Besides the fixed phrases, two are made of the two and three
commonest words of the index's text (the second past the phrase budget's limit), and
each is timed cold without its quotes too ("bare"), to show what the phrase adds. ``--unbudgeted`` lifts the phrase budget, to time code that would refuse
(run it with an older tree first on ``PYTHONPATH`` to measure that tree). Milliseconds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

from indexer.index import schema
from server.search import service as service_module
from server.search.models import InvalidParameter, SearchRequest
from server.search.service import SearchService

PHRASES = ('"signaling pathway"', '"cell cycle"', '"protein kinase"', '"the cell and the nucleus"')


def commonest(service: SearchService, count: int) -> str:
    """A phrase of the ``count`` commonest text words (as their surface forms)."""
    snap = service._snapshot()
    counts = sorted(snap.iter_terms(schema.TEXT), key=lambda item: -item[1])
    words = [snap.spelling.get(term, term) for term, _ in counts[:count]]
    return '"' + " ".join(words) + '"'


def clear(service: SearchService, *, positions: bool) -> None:
    service._results.data.clear()
    service._matches.data.clear()
    if positions:  # the index's cached positions (postings are read from its arrays)
        snap = service._snapshot()
        if hasattr(snap, "_positions"):  # trees before cached positions have none
            snap._positions.clear()
            snap._positions_bytes = 0


def timed(run: Callable[[], str]) -> tuple[float, str]:
    start = time.perf_counter()
    answer = run()
    return (time.perf_counter() - start) * 1000, answer


def answer(service: SearchService, text: str) -> str:
    try:
        return f"{service.search(SearchRequest(q=text))['total']} figures"
    except InvalidParameter as error:
        return f"400: {error.message[:70]}"


def measure(service: SearchService, text: str, runs: int) -> None:
    """Cold and warm times of ``text``, then cold of its words unquoted (what BM25 and
    reading the words' postings cost without the phrase check)."""
    for label, cold, query in (
        ("cold", True, text),
        ("warm", False, text),
        ("bare", True, text.strip('"')),
    ):
        times, said = [], ""
        for _ in range(runs):
            clear(service, positions=cold)
            elapsed, said = timed(lambda q=query: answer(service, q))
            times.append(elapsed)
        print(
            f"  {text:32} {label}  median {statistics.median(times):8.1f} ms"
            f"  worst {max(times):8.1f} ms   {said}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--unbudgeted", action="store_true")
    args = parser.parse_args(argv)
    if args.unbudgeted:
        limit = (
            "phrase_figures"
            if hasattr(service_module.Budget, "phrase_figures")
            else "phrase_candidates"
        )
        unbounded = functools.partial(service_module.Budget, **{limit: 10**12})
        service_module.Budget = unbounded  # type: ignore[misc]
    service = SearchService(args.index)
    try:
        print(f"{service._snapshot().documents:,} figures, {args.runs} runs each", flush=True)
        for text in (*PHRASES, commonest(service, 2), commonest(service, 3)):
            measure(service, text, args.runs)
    finally:
        service.close()


if __name__ == "__main__":
    main()
