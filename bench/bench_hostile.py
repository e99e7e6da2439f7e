"""Hostile queries: the worst latency of each kind of costly query, beside the median of
the ordinary query classes of ``bench_search`` measured in the same run; then, over HTTP
on 127.0.0.1, ``/healthz`` and a cheap query while six hostile queries run at once.

    python -m bench.bench_hostile --corpus bench/out/corpus-100000-s0 \\
        --index bench/out/search-index-100000 [--runs 3] [--load-seconds 20] [--json out.json]

The index is built from the corpus (as ``bench_search`` does) if it has none. Every kind
of hostile query fits the 1,000 characters ``q`` may hold. In process, each kind runs
``--runs`` times with the service's caches cleared before each run, and its worst time is
printed with what the service answered (the number of figures, or the start of its error
message: a refusal is a good answer when it comes fast). Over HTTP the server is the real
one (``pfocr serve``: waitress, its default threads); six client threads send hostile
queries without pause for ``--load-seconds`` (each request a new text, so no cache helps)
while a seventh measures ``/healthz`` and a cheap query (a rare word, a new page size each
time). Latencies are milliseconds, loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import random
import statistics
import string
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_search import summary, timed
from bench.search_workload import draw_workload
from indexer import pipeline
from indexer.index.store import IndexStore
from server.search.models import InvalidParameter, SearchRequest
from server.search.service import SearchService
from server.web.serving import make_server, serve_in_thread, stop_in_thread

MAX_Q = 1000
HTTP_TIMEOUT = 300  # seconds; the code before the budget took minutes under load
HTTP_KINDS = (  # the six sent at once: the three, and the costliest accepted ones
    "one-letter prefixes",
    "prefixes joined by OR",
    "unknown words (did-you-mean)",
    "64 unknown words",
    "64 common words",
    "phrases of common words",
)


def _fill(items: Callable[[int], str], sep: str) -> str:
    """As many items joined by ``sep`` as fit in ``MAX_Q`` characters."""
    out: list[str] = []
    for i in range(MAX_Q):
        if len(sep.join([*out, items(i)])) > MAX_Q:
            break
        out.append(items(i))
    return sep.join(out)


def _unknown_word(rng: random.Random) -> str:
    return "".join(rng.choice("qxzjvwk") for _ in range(5))


def hostile_kinds(common: list[str], rng: random.Random) -> dict[str, Callable[[], str]]:
    """Each kind of hostile query: a function giving a new text of that kind each call."""
    letters = string.ascii_lowercase

    def shuffled(words: list[str]) -> list[str]:
        return rng.sample(words, len(words))

    pairs = [f'"{a} {b}"' for a, b in zip(common, common[1:] + common[:1], strict=True)]
    return {
        "one-letter prefixes": lambda: _fill(
            lambda i: f"{letters[(i + rng.randrange(26)) % 26]}*", " "
        ),
        "26 one-letter prefixes": lambda: " ".join(f"{c}*" for c in shuffled(list(letters))),
        "prefixes joined by OR": lambda: _fill(
            lambda i: f"{letters[i % 26]}{letters[(i // 26 + rng.randrange(26)) % 26]}*", " OR "
        ),
        "unknown words (did-you-mean)": lambda: _fill(lambda i: _unknown_word(rng), " "),
        "64 unknown words": lambda: " ".join(_unknown_word(rng) for _ in range(64)),
        "64 common words": lambda: " ".join((shuffled(common) * 64)[:64]),
        "phrases of common words": lambda: " OR ".join(shuffled(pairs)[:8]),
        "nested parentheses": lambda: "(" * 330 + rng.choice(common) + ")" * 330,
        "NOT chain": lambda: "NOT " * 240 + rng.choice(common),
    }


def _answer(service: SearchService, text: str) -> str:
    try:
        return f"{service.search(SearchRequest(q=text))['total']} figures"
    except InvalidParameter as error:
        return f"400: {error.message[:60]}"
    except RecursionError:
        return "RecursionError (500)"


def in_process(service: SearchService, kinds: dict[str, Callable[[], str]], runs: int) -> dict:
    out = {}
    for name, make in kinds.items():
        times, answer = [], ""
        for _ in range(runs):
            text = make()
            service._results.data.clear()  # measure the work, not the cache
            service._matches.data.clear()
            start = time.perf_counter()
            answer = _answer(service, text)
            times.append((time.perf_counter() - start) * 1000)
        out[name] = {"max": max(times), "median": statistics.median(times), "answer": answer}
        print(f"  {name:30} worst {max(times):9.1f} ms   {answer}", flush=True)
    return out


def ordinary(service: SearchService, classes: dict[str, list[SearchRequest]], runs: int) -> dict:
    out = {}
    for name, requests in classes.items():
        times = []
        for i in range(runs):
            service._results.data.clear()
            service._matches.data.clear()
            request = requests[i % len(requests)]
            times.append(timed(lambda r=request: service.search(r)))
        out[name] = summary(times)
        print(f"  {name:30} median {out[name]['median']:8.1f} ms", flush=True)
    return out


# -- over HTTP --------------------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, float]:
    """(HTTP status, milliseconds); status 0 when no answer came within ``HTTP_TIMEOUT``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    start = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - start) * 1000
    except TimeoutError:
        return 0, (time.perf_counter() - start) * 1000
    finally:
        connection.close()


def _search_path(text: str, **extra: Any) -> str:
    return "/api/search?" + urllib.parse.urlencode({"q": text, **extra})


def over_http(
    index: Path, kinds: dict[str, Callable[[], str]], rare: list[str], seconds: float
) -> dict:
    # waitress warns at every queued request; the queue is what is being measured here
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = make_server(index, port=0)
    port = server.effective_port
    serving = serve_in_thread(server)
    try:
        _get(port, "/healthz")  # the index is loaded before anything is timed
        page_sizes = iter(range(10**9))

        def cheap() -> str:
            n = next(page_sizes)
            return _search_path(rare[n % len(rare)], per_page=1 + n % 100, page=1 + n // 100)

        quiet = _probe(port, cheap, seconds=min(5.0, seconds))
        print(f"  idle:  /healthz {_fmt(quiet['healthz'])}   cheap query {_fmt(quiet['cheap'])}")
        stop = threading.Event()
        hostile: list[tuple[str, int, float]] = []
        chosen = [(name, kinds[name]) for name in HTTP_KINDS]

        def attack(name: str, make: Callable[[], str]) -> None:
            while not stop.is_set():
                status, ms = _get(port, _search_path(make()))
                hostile.append((name, status, ms))

        attackers = [threading.Thread(target=attack, args=kind, daemon=True) for kind in chosen]
        for thread in attackers:
            thread.start()
        time.sleep(0.5)  # let them occupy the server
        loaded = _probe(port, cheap, seconds=seconds)
        stop.set()
        for thread in attackers:
            thread.join(HTTP_TIMEOUT)
        print(f"  under 6 hostile: /healthz {_fmt(loaded['healthz'])}   "
              f"cheap query {_fmt(loaded['cheap'])}")  # fmt: skip
        by_kind: dict[str, dict[str, Any]] = {}
        for name, status, ms in hostile:
            entry = by_kind.setdefault(name, {"requests": 0, "max": 0.0, "statuses": set()})
            entry["requests"] += 1
            entry["max"] = max(entry["max"], ms)
            entry["statuses"].add(status)
        for name, entry in by_kind.items():
            entry["statuses"] = sorted(entry["statuses"])
            print(f"    hostile {name:30} {entry['requests']:4} requests, worst "
                  f"{entry['max']:9.1f} ms, status {entry['statuses']}")  # fmt: skip
        return {"idle": quiet, "loaded": loaded, "hostile": by_kind}
    finally:
        stop_in_thread(server, serving)


def _probe(port: int, cheap: Callable[[], str], seconds: float) -> dict[str, dict[str, float]]:
    health, queries = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(health) < 5:
        health.append(_get(port, "/healthz")[1])
        queries.append(_get(port, cheap())[1])
    return {"healthz": summary(health), "cheap": summary(queries)}


def _fmt(stats: dict[str, float]) -> str:
    return f"median {stats['median']:7.1f} ms, p95 {stats['p95']:7.1f}, max {stats['max']:7.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True, help="index root (built if empty)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each hostile kind")
    parser.add_argument("--ordinary-runs", type=int, default=20, help="runs of each class")
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--only-http", action="store_true", help="only the HTTP measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    if IndexStore(args.index).current() is None:
        print(f"building the index of {args.corpus} into {args.index} ...", flush=True)
        pipeline.build([args.corpus], args.index)
    service = SearchService(args.index)
    service.refresh()
    snap = service._snapshot()
    rng = random.Random(args.seed)
    work = draw_workload(snap, 10, args.seed)
    classes = work.classes
    common = work.words("two_common")
    rare = work.words("two_rare")
    kinds = hostile_kinds(common, rng)
    print(f"{snap.documents} figures, index generation {snap.version}")
    results: dict[str, Any] = {"documents": snap.documents}
    if not args.only_http:
        print("ordinary classes of bench_search (in process, caches cleared):")
        results["ordinary"] = ordinary(service, classes, args.ordinary_runs)
        print(f"hostile queries (in process, caches cleared, worst of {args.runs}):")
        results["hostile"] = in_process(service, kinds, args.runs)
    service.close()
    if not args.no_http:
        print(f"over HTTP on 127.0.0.1 ({args.load_seconds:.0f} s of load):")
        results["http"] = over_http(args.index, kinds, rare, args.load_seconds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
