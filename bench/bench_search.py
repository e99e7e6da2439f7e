"""Search benchmark: our engine beside tantivy and SQLite FTS5, in process and over HTTP.

    python -m bench.bench_search --index /work/bench_out/main-index-100k \\
        [--peers /work/bench_out/peers-100k] [--distinct 20] [--restarts 5] [--json out.json]
    python -m bench.bench_search --corpus bench/out/corpus-100000-s0 --index bench/out/idx
        (builds the index first if the folder has none)

``--index`` is an ``index_data/`` root; the benchmark never writes into an existing
index (the HTTP server pins its generation with a shared lock, read-only). The peers
(``bench/search_peers.py``: tantivy 0.27 and SQLite FTS5 over the same records, read back
from our index) are built once per index generation into ``--peers`` (default: a folder
beside the index, ``<index>-peers``) and reused by later runs.

Query classes (``bench/search_workload.py``): ``two_common``, ``two_rare``, ``gene``,
``word_org_years``, ``browse``, ``min_genes``; ``--distinct`` queries each (first page of
20, default facets), no word asked twice in the process. For every query, in turn (so a
slow spell of the shared machine hits every engine alike; the order changes from query
to query so that every engine follows every other as often: :func:`balanced_orders`),
each timing starting from a settled process (garbage collected, the C heap trimmed:
:func:`settle`):

- ``ours first``: ``SearchService.search`` of a query never asked before (``match=all``
  for text: every word required, as the peers are asked);
- ``ours warm``, right after: the same query again, the result caches cleared, the
  engine's term caches as the first asking left them; ``first/warm`` is issue 16's 1.5x
  target;
- ``ours cached``: the same query again, answered from the result cache;
- ``tantivy``: parse + ``searcher.search`` (count, 20 hits) + reading and decoding the 20
  stored records; ``tantivy +facets`` adds one ``searcher.aggregate`` call of terms
  aggregations for the same facets (a second pass over the matches: tantivy-py offers no
  facet collector beside the top-k);
- ``sqlite``: FTS5 MATCH into a temporary table, the page's records and a GROUP BY per
  facet;
- ``HTTP``: the same request to ``pfocr serve --workers 1`` (gunicorn, on 127.0.0.1, over
  the same index) on one kept-alive connection, until its whole body is read, by libcurl
  (:class:`Client`); and ``GET /healthz`` from it, timed alike in a turn of its own: what
  any request costs on this machine, the engine aside (``http_floor``); and after all
  classes, every query again to a new server, one right after the other (``http_busy``:
  the server never idle, as the in-process engines are not; in the turns it idles while
  the peers run, and on this machine a request after an idle spell is slower);
- ``ours best`` (two-word classes): the same words with the service's default
  ``match=best``, asked of a second service whose caches are as cold as the first's.

Each engine analyses the words its own way (ours folds "-sis" nouns into "-tic"
adjectives and finds gene aliases with ``gene:``), so a few totals differ: the report
counts the queries where each peer finds as many figures as ours.

Then the server is restarted ``--restarts`` times and the first search after ``/healthz``
answers is timed (a query of each class in turn, the last ones: the run's very first
query pays the process's one-time loading), against the class's HTTP median. Then
the HTTP worker's memory (USS, PSS, RSS after the run), and the size on disk of each part
of our generation beside tantivy's and SQLite's. Every file of the three indexes is read
once before timing, so the OS cache holds them for every engine alike, and ours again
before the back-to-back pass and before each restart, which time our server alone: a
machine may page out file pages idle for a while (this one drops what nobody touched for
a minute), and a first query would then time the disk. Medians with the
10th-90th percentile spread, in milliseconds; ratios are of medians. The load average is
sampled through the run: the machine is shared. Last, one line per target of issue 16.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import dataclasses
import gc
import io
import json
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.search_peers import (
    PeerPaths,
    SqlitePeer,
    TantivyPeer,
    ensure_peers,
    sqlite_sizes,
    tantivy_sizes,
)
from bench.search_workload import (
    CLASSES,
    PER_PAGE,
    TWO_WORD_CLASSES,
    Workload,
    draw_workload,
)
from bench.served import Server, pfocr_serve
from indexer import pipeline
from indexer.index.reader import GenerationReader
from indexer.index.store import IndexStore
from server.search.models import SearchRequest
from server.search.service import SearchService

ROOT = Path(__file__).resolve().parent.parent
RESULT_CACHES = ("_results", "_matches")  # the service's caches of whole answers
HTTP_TIMEOUT = 120
MB = 1024 * 1024


def _glibc() -> Any:
    """The C library when it is glibc (it has ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()

# What is timed for each query (milliseconds; see the module's docstring)
MEASURES = (
    "ours_first", "ours_warm", "ours_cached", "ours_best",
    "tantivy_search", "tantivy_facets", "tantivy", "sqlite", "http", "http_floor", "http_busy",
)  # fmt: skip
FLOOR_PATH = "/healthz"  # the request that measures the HTTP floor (see _http_floor)


# -- small helpers ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    """Milliseconds ``fn()`` takes, from a settled process (see :func:`settle`)."""
    settle()
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def settle() -> None:
    """Collect the garbage and hand the C heap's free memory back, untimed, so that no
    engine pays for what the one timed before it left: SQLite's browse frees many small
    blocks, and the next sizeable ``malloc`` in this process, whichever engine makes it,
    first consolidates them all (2 ms, which made our browse "first" twice its "warm").
    As ``timeit`` turns the collector off while it times."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def summary(times: list[float]) -> dict[str, float] | None:
    """Median, 10th/90th/95th percentiles and max; None for no times."""
    if not times:
        return None
    values = np.asarray(times, dtype=float)
    p10, p90, p95 = np.percentile(values, [10, 90, 95])
    return {
        "n": len(times),
        "median": statistics.median(times),
        "p10": float(p10),
        "p90": float(p90),
        "p95": float(p95),
        "max": float(values.max()),
    }


def ratio(a: dict[str, float] | None, b: dict[str, float] | None) -> float | None:
    if not a or not b or b["median"] <= 0:
        return None
    return a["median"] / b["median"]


def fmt_ms(stats: dict[str, float] | None) -> str:
    if not stats:
        return "-"
    return f"{_num(stats['median'])} ({_num(stats['p10'])}-{_num(stats['p90'])})"


def _num(ms: float) -> str:
    """Three significant digits, or so."""
    for limit, digits in ((0.1, 3), (10, 2), (100, 1)):
        if ms < limit:
            return f"{ms:.{digits}f}"
    return f"{ms:.0f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def clear_result_caches(service: SearchService) -> None:
    """Empty the caches of whole answers (never the engine's term caches)."""
    found = [getattr(service, name) for name in RESULT_CACHES if hasattr(service, name)]
    if not found:
        raise SystemExit(
            f"SearchService has none of the result caches {RESULT_CACHES}: update "
            "RESULT_CACHES in bench/bench_search.py to the service's own"
        )
    for cache in found:
        cache.data.clear()


class LoadWatch:
    """The 1-minute load average, sampled every few seconds in a thread."""

    def __init__(self, every: float = 2.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(timeout=5)
        return {
            "start": self.samples[0],
            "median": statistics.median(self.samples),
            "max": max(self.samples),
        }


def read_once(folders: list[Path]) -> float:
    """Read every file under ``folders`` once (into the OS cache); seconds taken."""
    start = time.perf_counter()
    for folder in folders:
        files = [folder] if folder.is_file() else [p for p in folder.rglob("*") if p.is_file()]
        for path in files:
            with open(path, "rb") as handle:
                while handle.read(8 * MB):
                    pass
    return time.perf_counter() - start


# -- our index on disk ---------------------------------------------------------------------------

_SEGMENT = re.compile(r"MAIN_[a-z0-9]{16}|_MAIN_\d+")
_WHOOSH_PARTS = (  # file name pattern (segment ids as *) -> part
    (re.compile(r"\*\.pst$"), "Whoosh postings (.pst)"),
    (re.compile(r"\*\.trm$"), "Whoosh term tables (.trm)"),
    (re.compile(r"\*\.record\.col$"), "stored records (record column)"),
    (re.compile(r"\*\._stored\.col$"), "Whoosh stored fields (_stored.col: figid)"),
    (re.compile(r"\*\._\w+_len\.col$"), "field lengths (_*_len.col)"),
    (re.compile(r"^lexicon\.json$"), "gene lexicon (lexicon.json)"),
    (re.compile(r"^vocabulary\.json$"), "vocabulary (vocabulary.json)"),
    (re.compile(r"\.toc$|^meta\.json$|^report\.json$|WRITELOCK$"), "table of contents, meta"),
)


def index_part(relative: str) -> str:
    """The part of a generation a file belongs to: by its name, segment ids left out;
    files in subfolders (``arrays/*.npy``) by folder and file stem."""
    name = _SEGMENT.sub("*", relative)
    if "/" in name:
        folder, file = name.rsplit("/", 1)
        stem, dot, suffix = file.partition(".")
        return f"{folder}/{stem}{dot}{suffix}" if suffix != "npy" else f"{folder}/{stem}.npy"
    for pattern, part in _WHOOSH_PARTS:
        if pattern.search(name):
            return part
    column = re.fullmatch(r"\*\.(\w+)\.col", name)
    if column:
        return f"column {column.group(1)}"
    return name


def index_sizes(generation: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in generation.rglob("*"):
        if path.is_file():
            part = index_part(path.relative_to(generation).as_posix())
            sizes[part] = sizes.get(part, 0) + path.stat().st_size
    return sizes


# -- the HTTP server ------------------------------------------------------------------------------


def _logs(folder: Path) -> tuple[Path, Path]:
    """Where a served index writes its output and its access log (appended run by run)."""
    return folder / "serve.log", folder / "access.log"


class Client:
    """One kept-alive HTTP connection to the server, through libcurl (pycurl): a client in
    C, as curl, a browser or nginx is. Python's ``http.client`` spent 0.3 ms of every
    request parsing the answer's head (the same cached answer: 0.95-0.98 ms with it, 0.65
    with libcurl, 0.68 with a bare socket), the client's time, not the server's."""

    def __init__(self, port: int) -> None:
        import pycurl  # the test and bench extras': imported here, where it is used

        self.base = f"http://127.0.0.1:{port}"
        self.curl = curl = pycurl.Curl()
        curl.setopt(pycurl.PROXY, "")  # loopback, whatever the environment's proxy
        curl.setopt(pycurl.TCP_NODELAY, 1)
        curl.setopt(pycurl.TIMEOUT, HTTP_TIMEOUT)
        curl.setopt(pycurl.HEADERFUNCTION, self._header)
        self.total: int | None = None

    def get(self, path: str, settle_first: bool = True) -> tuple[float, int]:
        """Milliseconds to the whole answer of a search, and its ``X-Total-Count``."""
        ms = self.time(path, settle_first)
        if self.total is None:
            raise SystemExit(f"GET {path}: no X-Total-Count")
        return ms, self.total

    def time(self, path: str, settle_first: bool = True) -> float:
        """Milliseconds to the whole answer (200, else the run stops), from a settled
        process unless ``settle_first`` is false. Connecting again (the server closed the
        connection while it was idle longer than its keep-alive, the peers' slow queries
        in between) is not counted."""
        import pycurl

        curl, body = self.curl, io.BytesIO()
        curl.setopt(pycurl.URL, self.base + path)
        curl.setopt(pycurl.WRITEDATA, body)
        self.total = None
        if settle_first:  # this process reads the answer: the peers' leftovers are not the server's
            settle()
        start = time.perf_counter()
        curl.perform()
        ms = (time.perf_counter() - start) * 1000
        if curl.getinfo(pycurl.NUM_CONNECTS):
            ms -= curl.getinfo(pycurl.CONNECT_TIME) * 1000
        status = curl.getinfo(pycurl.RESPONSE_CODE)
        if status != 200:
            raise SystemExit(f"GET {path}: {status} {body.getvalue()[:300]!r}")
        return ms

    def _header(self, line: bytes) -> None:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-total-count":
            self.total = int(value)

    def close(self) -> None:
        self.curl.close()


def api_path(req: SearchRequest) -> str:
    """``/api/search?...`` asking what ``req`` asks (facets: the API's default)."""
    params: list[tuple[str, Any]] = [("q", req.q)] if req.q else []
    for name, values in req.filters.items():
        params += [(name, v) for v in values]
    for name in ("year_min", "year_max", "min_genes"):
        if getattr(req, name) is not None:
            params.append((name, getattr(req, name)))
    params += [("match", req.match), ("page", req.page), ("per_page", req.per_page)]
    return "/api/search?" + urllib.parse.urlencode(params)


def memory(server: Server) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role, proc in zip(("master", "worker"), server.processes(), strict=False):
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            out[role] = {
                "pid": proc.pid,
                "uss_mb": info.uss / MB,
                "pss_mb": info.pss / MB,
                "rss_mb": info.rss / MB,
            }
    return out


# -- the measurement ------------------------------------------------------------------------------


@dataclass
class Engines:
    ours: SearchService
    best: SearchService | None
    tantivy: TantivyPeer
    sqlite: SqlitePeer
    client: Client | None


@dataclass
class ClassResult:
    name: str
    queries: list[dict[str, Any]] = field(default_factory=list)

    def times(self, key: str) -> list[float]:
        return [q[key] for q in self.queries if q.get(key) is not None]

    def stats(self) -> dict[str, Any]:
        return {key: summary(self.times(key)) for key in MEASURES}


def measure_query(
    engines: Engines, req: SearchRequest, two_words: bool, turn: int = 0
) -> dict[str, Any]:
    """Every engine's time for ``req``, one after another, in the order of ``turn`` (the
    query's place in its class) in :func:`balanced_orders`: over a class, each engine
    follows each other as often, so none always pays for the caches the same one before
    it emptied (our HTTP request came right after SQLite's 40 ms scans of two rare words;
    reading 64 MB before each never-seen two_rare request made it 1.4 ms slower)."""
    out: dict[str, Any] = {"request": describe(req)}
    steps = [_ours, _tantivy, _sqlite]
    if engines.client is not None:
        steps += [_over_http, _http_floor]
    if two_words and engines.best is not None:
        steps.append(_ours_best)
    orders = balanced_orders(len(steps))
    for i in orders[turn % len(orders)]:
        steps[i](engines, req, out)
    return out


def balanced_orders(n: int) -> list[list[int]]:
    """Orders of ``n`` steps in which each step comes first, and each follows each other,
    equally often (a Williams design: ``n`` orders for even ``n``, ``2n`` for odd)."""
    first = [0]
    for k in range(1, n):  # 0, 1, n-1, 2, n-2, ...
        first.append((k + 1) // 2 if k % 2 else n - k // 2)
    orders = [[(step + shift) % n for step in first] for shift in range(n)]
    return orders if n % 2 == 0 else orders + [order[::-1] for order in orders]


def _ours(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    ours = engines.ours
    clear_result_caches(ours)
    result: dict[str, Any] = {}
    out["ours_first"] = timed(lambda: result.update(ours.search(req)))
    out["ours_total"] = result["total"]
    clear_result_caches(ours)  # warm: right after, so that noise hits both alike
    out["ours_warm"] = timed(lambda: ours.search(req))
    out["ours_cached"] = timed(lambda: ours.search(req))


def _tantivy(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    found: list[Any] = []  # (total and records, the query)
    out["tantivy_search"] = timed(lambda: found.extend(engines.tantivy.search(req)))
    out["tantivy_facets"] = timed(lambda: engines.tantivy.facets(found[1], req))
    out["tantivy"] = out["tantivy_search"] + out["tantivy_facets"]
    out["tantivy_total"] = found[0]["total"]


def _sqlite(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    answer: dict[str, Any] = {}
    out["sqlite"] = timed(lambda: answer.update(engines.sqlite.search(req)))
    out["sqlite_total"] = answer["total"]


def _over_http(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    assert engines.client is not None
    out["http"], out["http_total"] = engines.client.get(api_path(req))


def _http_floor(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    """The server's cheapest answer (``/healthz``, through the same app and worker), timed
    as the search is: what any request costs on this machine, the engine aside. A server
    idle between requests (the peers' turns) answers slower than one kept busy: on this
    2-core VM a WSGI hello-world took 0.35 ms back to back and 1.1 ms 20 ms apart."""
    assert engines.client is not None
    out["http_floor"] = engines.client.time(FLOOR_PATH)


def _ours_best(engines: Engines, req: SearchRequest, out: dict[str, Any]) -> None:
    best = engines.best
    assert best is not None
    clear_result_caches(best)
    loose = dataclasses.replace(req, match="best")
    answer: dict[str, Any] = {}
    out["ours_best"] = timed(lambda: answer.update(best.search(loose)))
    out["best_total"] = answer["total"]


def describe_fields(req: SearchRequest) -> dict[str, Any]:
    return {
        "q": req.q,
        "filters": {k: list(v) for k, v in req.filters.items()},
        "year_min": req.year_min,
        "year_max": req.year_max,
        "min_genes": req.min_genes,
        "match": req.match,
        "page": req.page,
        "per_page": req.per_page,
        "facets": list(req.facets),
    }


def describe(req: SearchRequest) -> dict[str, Any]:
    return {k: v for k, v in describe_fields(req).items() if v not in (None, {}, "")}


def run_classes(engines: Engines, work: Workload) -> dict[str, ClassResult]:
    results = {}
    for name, requests in work.classes.items():
        result = ClassResult(name)
        for turn, req in enumerate(requests):
            result.queries.append(measure_query(engines, req, name in TWO_WORD_CLASSES, turn))
        results[name] = result
        load = os.getloadavg()[0]
        print(f"  {name}: {len(requests)} queries done (load average {load:.1f})", flush=True)
    return results


def back_to_back(
    index: Path, folder: Path, work: Workload, results: dict[str, ClassResult]
) -> None:
    """Every class's queries again, to a new server (which has seen none of them), over
    HTTP one right after the other: the server kept busy, as the in-process engines are
    between their turns, where in the turns it idles while the peers run."""
    with pfocr_serve(index, 1, *_logs(folder)) as server:
        client = Client(server.port)
        for name, requests in work.classes.items():
            for query, req in zip(results[name].queries, requests, strict=True):
                query["http_busy"], total = client.get(api_path(req), settle_first=False)
                if total != query["http_total"]:
                    raise SystemExit(
                        f"{name}: {describe(req)} found {total}, before {query['http_total']}"
                    )
        client.close()


def first_after_start(
    index: Path,
    generation: Path,
    folder: Path,
    work: Workload,
    results: dict[str, ClassResult],
    restarts: int,
) -> list[dict[str, Any]]:
    """Restart the server ``restarts`` times; time its first search each time, the
    ``generation``'s files read into the OS cache before each start."""
    names = list(work.classes)
    out = []
    for r in range(restarts):
        name = names[r % len(names)]
        requests = work.classes[name]
        # from the end: the run's first query paid the run's one-time loading
        req = requests[-1 - (r // len(names)) % len(requests)]
        read_once([generation])
        with pfocr_serve(index, 1, *_logs(folder)) as server:
            client = Client(server.port)
            ms, _ = client.get(api_path(req))
            client.close()
        median = summary(results[name].times("http"))
        same = next(
            (q["http"] for q in results[name].queries if q["request"] == describe(req)), None
        )
        out.append(
            {
                "class": name,
                "request": describe(req),
                "ready_seconds": server.ready_seconds,
                "first_ms": ms,
                "class_http_median_ms": median["median"] if median else None,
                "same_query_in_run_ms": same,
            }
        )
        print(f"  restart {r + 1}: ready in {server.ready_seconds:.1f} s, first {name} {ms:.1f} ms")
    return out


# -- the report ------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(lines)


def class_summaries(results: dict[str, ClassResult]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, result in results.items():
        stats = result.stats()
        in_process, http = stats["ours_first"], stats["http"]
        web = None
        if in_process and http:
            extra = http["median"] - in_process["median"]
            web = {"ms": extra, "share": extra / http["median"] if http["median"] else None}
        totals = {
            key: statistics.median(found) if (found := result.times(f"{key}_total")) else None
            for key in ("ours", "tantivy", "sqlite", "http", "best")
        }
        agree = {
            peer: sum(q["ours_total"] == q[f"{peer}_total"] for q in result.queries)
            for peer in ("tantivy", "sqlite")
        }
        out[name] = {
            "stats": stats,
            "first_over_warm": ratio(stats["ours_first"], stats["ours_warm"]),
            "ours_over_tantivy": ratio(stats["ours_first"], stats["tantivy"]),
            "ours_over_tantivy_search": ratio(stats["ours_first"], stats["tantivy_search"]),
            "http_over_tantivy": ratio(stats["http"], stats["tantivy"]),
            "busy_over_tantivy": ratio(stats["http_busy"], stats["tantivy"]),
            "ours_over_sqlite": ratio(stats["ours_first"], stats["sqlite"]),
            "best_over_all": ratio(stats["ours_best"], stats["ours_first"]),
            "web_layer": web,
            "median_totals": totals,
            "same_total_as_ours": agree,
        }
    return out


def report(work: Workload, summaries: dict[str, dict[str, Any]], versions: dict[str, str]) -> str:
    lines = []
    order = [n for n in CLASSES if n in summaries or n in work.empty]
    lines.append(
        f"\nIn process, ms: median (p10-p90). ours = SearchService.search, match=all; "
        f"{versions['tantivy']}; {versions['sqlite']}"
    )
    header = ["class", "n", "ours first", "ours warm", "first/warm", "ours cached",
              "tantivy search+docs", "tantivy +facets", "sqlite", "ours/tantivy",
              "ours/tantivy search", "ours/sqlite"]  # fmt: skip
    rows = []
    for name in order:
        if name in work.empty:
            rows.append([name, "0", f"empty: {work.empty[name]}", *[""] * (len(header) - 3)])
            continue
        s = summaries[name]
        st = s["stats"]
        rows.append(
            [
                name, str(st["ours_first"]["n"]), fmt_ms(st["ours_first"]), fmt_ms(st["ours_warm"]),
                fmt_ratio(s["first_over_warm"]), fmt_ms(st["ours_cached"]),
                fmt_ms(st["tantivy_search"]), fmt_ms(st["tantivy"]), fmt_ms(st["sqlite"]),
                fmt_ratio(s["ours_over_tantivy"]), fmt_ratio(s["ours_over_tantivy_search"]),
                fmt_ratio(s["ours_over_sqlite"]),
            ]
        )  # fmt: skip
    lines.append(table(header, rows))

    if any(summaries[n]["stats"]["http"] for n in summaries):
        lines.append("\nOver HTTP (pfocr serve --workers 1, one kept-alive connection), ms")
        header = ["class", "ours over HTTP", "ours in process", "web layer", "web share",
                  f"of it, GET {FLOOR_PATH}", "HTTP/tantivy +facets", "back to back",
                  "back to back/tantivy"]  # fmt: skip
        rows = []
        for name in order:
            if name in work.empty:
                continue
            s = summaries[name]
            web = s["web_layer"]
            rows.append(
                [
                    name, fmt_ms(s["stats"]["http"]), fmt_ms(s["stats"]["ours_first"]),
                    f"{web['ms']:.1f}" if web else "-",
                    f"{web['share']:.0%}" if web and web["share"] is not None else "-",
                    fmt_ms(s["stats"]["http_floor"]),
                    fmt_ratio(s["http_over_tantivy"]),
                    fmt_ms(s["stats"]["http_busy"]),
                    fmt_ratio(s["busy_over_tantivy"]),
                ]
            )  # fmt: skip
        lines.append(table(header, rows))
        lines.append(
            f"(GET {FLOOR_PATH}: the server's cheapest answer, timed as each search is and "
            "in the same turns: what any request costs here, the engine aside. Back to back: "
            "the same queries to a new server, one right after the other, never idle)"
        )

    best = [n for n in order if n in summaries and summaries[n]["stats"]["ours_best"]]
    if best:
        lines.append("\nOur default match=best, never-seen queries (a second service), ms")
        header = ["class", "ours first, match=best", "ours first, match=all", "best/all",
                  "median matches best / all"]  # fmt: skip
        rows = []
        for name in best:
            s = summaries[name]
            t = s["median_totals"]
            rows.append(
                [
                    name, fmt_ms(s["stats"]["ours_best"]), fmt_ms(s["stats"]["ours_first"]),
                    fmt_ratio(s["best_over_all"]), f"{t['best']:,.0f} / {t['ours']:,.0f}",
                ]
            )  # fmt: skip
        lines.append(table(header, rows))

    lines.append("\nMatches per query (median) and queries with the same total as ours")
    header = ["class", "what", "ours", "tantivy", "sqlite", "same total: tantivy", "sqlite"]
    rows = []
    for name in order:
        if name in work.empty:
            continue
        s = summaries[name]
        t, n = s["median_totals"], s["stats"]["ours_first"]["n"]
        rows.append(
            [
                name, work.notes.get(name, ""), f"{t['ours']:,.0f}", f"{t['tantivy']:,.0f}",
                f"{t['sqlite']:,.0f}", f"{s['same_total_as_ours']['tantivy']}/{n}",
                f"{s['same_total_as_ours']['sqlite']}/{n}",
            ]
        )  # fmt: skip
    lines.append(table(header, rows))
    return "\n".join(lines)


def restart_report(restarts: list[dict[str, Any]]) -> str:
    header = ["restart", "ready after", "class", "first query", "class HTTP median",
              "first/median", "same query in the run"]  # fmt: skip
    rows = []
    for i, r in enumerate(restarts, 1):
        median = r["class_http_median_ms"]
        rows.append(
            [
                str(i), f"{r['ready_seconds']:.1f} s", r["class"], f"{r['first_ms']:.1f} ms",
                f"{median:.1f} ms" if median else "-",
                fmt_ratio(r["first_ms"] / median if median else None),
                f"{r['same_query_in_run_ms']:.1f} ms" if r["same_query_in_run_ms"] else "-",
            ]
        )  # fmt: skip
    return "\nFirst search after a worker starts (a new server each time)\n" + table(header, rows)


TARGETS = {  # issue 16, at 100k figures
    "ours_over_tantivy": 3.0,
    "http_over_tantivy": 3.0,
    "first_over_warm": 1.5,
    "first_after_start": 2.0,
    "index_mb": 300.0,
}


def _against(value: float | None, target: float) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x {'ok' if value <= target else 'over'}"


def targets_report(
    summaries: dict[str, dict[str, Any]],
    restarts: list[dict[str, Any]],
    index_bytes: int,
    documents: int,
) -> str:
    """Issue 16's targets, each figure beside its bound."""
    header = ["class", f"ours/tantivy (<= {TARGETS['ours_over_tantivy']:g}x)",
              f"HTTP/tantivy (<= {TARGETS['http_over_tantivy']:g}x)",
              f"first/warm (<= {TARGETS['first_over_warm']:g}x)",
              f"first after start/median (<= {TARGETS['first_after_start']:g}x)"]  # fmt: skip
    rows = []
    for name, s in summaries.items():
        after = [
            r["first_ms"] / r["class_http_median_ms"]
            for r in restarts
            if r["class"] == name and r["class_http_median_ms"]
        ]
        rows.append(
            [
                name,
                _against(s["ours_over_tantivy"], TARGETS["ours_over_tantivy"]),
                _against(s["http_over_tantivy"], TARGETS["http_over_tantivy"]),
                _against(s["first_over_warm"], TARGETS["first_over_warm"]),
                _against(max(after) if after else None, TARGETS["first_after_start"]),
            ]
        )
    size = index_bytes / MB
    verdict = "ok" if size <= TARGETS["index_mb"] else "over"
    if documents < 100_000:
        verdict = f"not judged at {documents:,} figures"
    return (
        "\nIssue 16's targets (tantivy: search, 20 records and facets)\n"
        + table(header, rows)
        + f"\nour index on disk: {size:,.0f} MB (<= {TARGETS['index_mb']:g} MB at 100k: {verdict})"
    )


def size_report(sizes: dict[str, dict[str, int]]) -> str:
    lines = ["\nSize on disk, MB"]
    for engine, parts in sizes.items():
        total = sum(parts.values())
        digits = 1 if total > 100 * MB else 2 if total > 10 * MB else 3
        rows = [
            [part, f"{size / MB:,.{digits}f}", f"{size / total:.1%}" if total else "-"]
            for part, size in sorted(parts.items(), key=lambda kv: -kv[1])
        ]
        rows.append(["total", f"{total / MB:,.{digits}f}", "100%"])
        lines.append(table([engine, "MB", "share"], rows) + "\n")
    return "\n".join(lines)


def memory_report(mem: dict[str, Any]) -> str:
    parts = [
        f"{role} (pid {m['pid']}) USS {m['uss_mb']:.0f} MB, PSS {m['pss_mb']:.0f} MB, "
        f"RSS {m['rss_mb']:.0f} MB"
        for role, m in mem.items()
    ]
    return "\nHTTP server memory after the run: " + "; ".join(parts)


# -- main ---------------------------------------------------------------------------------------


@dataclass
class Setup:
    """What the timing needs, prepared before any engine is timed."""

    index: Path
    generation: Path
    version: str
    documents: int
    work: Workload
    peers: PeerPaths
    built: dict[str, str]


def prepare(args: argparse.Namespace, classes: list[str]) -> Setup:
    """The index (built from ``--corpus`` if the folder has none), the queries and the
    peers, all read with a reader of our own: the timed services have read nothing yet."""
    index = args.index.resolve()
    store = IndexStore(index)
    if store.current() is None:
        if args.corpus is None:
            raise SystemExit(f"no index in {index}: give --corpus to build one")
        print(f"building the index of {args.corpus} into {index} ...", flush=True)
        print(f"  built in {timed(lambda: pipeline.build([args.corpus], index)) / 1000:.0f} s")
    generation = store.require_current()
    peers = (args.peers or index.parent / f"{index.name}-peers").resolve()
    reader = GenerationReader(generation)
    try:
        work = draw_workload(reader, args.distinct, args.seed)
        work.classes = {n: r for n, r in work.classes.items() if n in classes}
        work.empty = {n: why for n, why in work.empty.items() if n in classes}
        paths = PeerPaths.of(peers, reader.version)
        print(f"peers in {peers} ...", flush=True)
        built = ensure_peers(reader, paths)
        return Setup(index, generation, reader.version, reader.documents, work, paths, built)
    finally:
        reader.close()


def measure(setup: Setup, args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Time every class on every engine, then the restarts; the per-class results."""
    work = setup.work
    tantivy, sqlite = TantivyPeer(setup.peers.tantivy), SqlitePeer(setup.peers.sqlite)
    ours = SearchService(setup.index)
    load_ms = timed(ours.refresh)
    best = None
    if any(n in work.classes for n in TWO_WORD_CLASSES):
        best = SearchService(setup.index)
        best.refresh()
    print(
        f"\n{setup.documents:,} figures, generation {setup.version}; our service loaded in "
        f"{load_ms:.0f} ms; tantivy: {tantivy.segments} segments"
    )
    for name, why in work.empty.items():
        print(f"  {name}: empty, {why}")
    results["versions"] = {"tantivy": tantivy.version, "sqlite": sqlite.version}
    with tempfile.TemporaryDirectory(prefix="bench-search-") as scratch:
        folder = Path(scratch)
        with contextlib.ExitStack() as stack:
            client = None
            if not args.no_http:
                server = stack.enter_context(pfocr_serve(setup.index, 1, *_logs(folder)))
                print(f"pfocr serve --workers 1 ready in {server.ready_seconds:.1f} s")
                client = Client(server.port)
            print("timing, query by query:", flush=True)
            measured = run_classes(Engines(ours, best, tantivy, sqlite, client), work)
            if client is not None:
                client.close()
                results["memory"] = memory(server)
        for service in (ours, best):
            if service is not None:
                service.close()
        if not args.no_http and work.classes:
            print("every query again, back to back, to a new server", flush=True)
            read_once([setup.generation])  # held in the OS cache again: see the docstring
            back_to_back(setup.index, folder, work, measured)
        results["restarts"] = []
        if not args.no_http and args.restarts > 0 and work.classes:
            print(f"restarting the server {args.restarts} times:", flush=True)
            results["restarts"] = first_after_start(
                setup.index, setup.generation, folder, work, measured, args.restarts
            )
    results["sizes"] = {
        "ours": index_sizes(setup.generation),
        tantivy.version: tantivy_sizes(setup.peers.tantivy),
        sqlite.version: sqlite_sizes(setup.peers.sqlite),
    }
    return measured


def print_results(setup: Setup, measured: dict[str, ClassResult], results: dict[str, Any]) -> None:
    work, summaries = setup.work, results["summaries"]
    print(
        f"\n{setup.documents:,} figures, {PER_PAGE} a page, {results['distinct']} queries a class"
    )
    for name, note in work.notes.items():
        if name in work.classes:
            print(f"  {name}: {note}")
    print(report(work, summaries, results["versions"]))
    if measured:
        name, result = next(iter(measured.items()))
        very_first = result.queries[0]
        results["first_query_of_the_run"] = {"class": name, **very_first}
        http = very_first.get("http")
        print(
            f"\nThe run's first query ({name}) also pays what a process loads on first use: "
            f"{very_first['ours_first']:.1f} ms in process"
            + (f", {http:.1f} ms over HTTP" if http is not None else "")
            + " (in the figures above)"
        )
    if results["restarts"]:
        print(restart_report(results["restarts"]))
    if results.get("memory"):
        print(memory_report(results["memory"]))
    print(size_report(results["sizes"]))
    index_bytes = sum(results["sizes"]["ours"].values())
    print(targets_report(summaries, results["restarts"], index_bytes, setup.documents))
    la = results["load_average"]
    print(
        f"\nload average (1 min) during the run: start {la['start']:.1f}, median "
        f"{la['median']:.1f}, max {la['max']:.1f} on {os.cpu_count()} cores"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index root (index_data/)")
    parser.add_argument("--corpus", type=Path, help="records to build the index from, if none")
    parser.add_argument("--peers", type=Path, help="peer indexes folder (default: <index>-peers)")
    parser.add_argument("--distinct", type=int, default=20, help="distinct queries per class")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated classes")
    parser.add_argument("--restarts", type=int, default=5, help="server restarts timed")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if unknown := set(classes) - set(CLASSES):
        parser.error(f"unknown classes {sorted(unknown)}; known: {', '.join(CLASSES)}")

    load = LoadWatch()
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    setup = prepare(args, classes)
    for engine, what in setup.built.items():
        print(f"  {engine}: {what}")
    seconds = read_once([setup.generation, setup.peers.tantivy, setup.peers.sqlite])
    print(f"every index file read once (into the OS cache) in {seconds:.1f} s")
    results: dict[str, Any] = {
        "documents": setup.documents, "generation": setup.version, "index": str(setup.index),
        "peers": {"folder": str(setup.peers.tantivy.parent), "built": setup.built},
        "notes": setup.work.notes, "empty": setup.work.empty, "distinct": args.distinct,
        "seed": args.seed,
    }  # fmt: skip
    measured = measure(setup, args, results)
    results["summaries"] = class_summaries(measured)
    results["load_average"] = load.stop()
    print_results(setup, measured, results)
    results["classes"] = {
        name: {**results["summaries"][name], "queries": measured[name].queries} for name in measured
    }
    del results["summaries"]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        print(f"every figure: {args.json}")


if __name__ == "__main__":
    main()
