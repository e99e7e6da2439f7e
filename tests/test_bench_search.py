"""The search benchmark's queries: drawn from real indexes, distinct, deterministic, and a
class the corpus has no words for reported empty, not raised (issue 16: the rare class
divided by zero on a corpus without words in 5-50 figures). No peer engine is needed."""

from __future__ import annotations

import http.server
import shutil
import threading
import weakref
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from bench import bench_search
from bench.bench_search import class_summaries, index_part, report, summary
from bench.search_workload import CLASSES, draw_workload
from indexer import pipeline
from indexer.index import schema
from indexer.index.reader import GenerationReader
from indexer.index.store import IndexStore
from server.search.terms import analyze
from tests.conftest import SAMPLE_RECORDS

VERSIONS = {"tantivy": "tantivy", "sqlite": "sqlite"}


def reader_of(root: Path) -> GenerationReader:
    return GenerationReader(IndexStore(root).require_current())


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real figures: no word can be in 5 to 50 of them."""
    records = tmp_path_factory.mktemp("records")
    for path in sorted(SAMPLE_RECORDS.glob("*.md"))[:4]:
        shutil.copy(path, records)
    root = tmp_path_factory.mktemp("tiny-index")
    pipeline.build([records], root, workers=1)
    return root


def test_a_class_without_words_is_reported_empty_not_raised(tiny_index: Path) -> None:
    reader = reader_of(tiny_index)
    try:
        work = draw_workload(reader, per_class=5, seed=0)
    finally:
        reader.close()
    assert "two_rare" not in work.classes
    assert work.empty["two_rare"] == "no words in 5-50 figures in this corpus"
    assert set(work.classes) | set(work.empty) == set(CLASSES)
    # The report of a run in which no class was timed names the empty classes.
    text = report(work, class_summaries({}), VERSIONS)
    assert "two_rare" in text and "empty: no words in 5-50 figures in this corpus" in text
    assert summary([]) is None


def test_queries_are_distinct_deterministic_and_real(sample_index: Path) -> None:
    reader = reader_of(sample_index)
    try:
        work = draw_workload(reader, per_class=6, seed=3)
        again = draw_workload(reader, per_class=6, seed=3)
        other = draw_workload(reader, per_class=6, seed=4)
        assert work.classes == again.classes
        assert work.classes != other.classes
        assert not work.empty, work.empty  # the sample has words for every class
        words = [w for name in CLASSES for w in work.words(name)]
        assert len(words) == len(set(words)), "a word asked twice"
        genes = [r.q for r in work.classes["gene"]] + [
            g for r in work.classes["min_genes"] for g in r.filters["gene"]
        ]
        assert len(genes) == len(set(genes)), "a gene asked twice"
        for name, requests in work.classes.items():
            assert 0 < len(requests) <= 6, name
            assert all(r.per_page == 20 for r in requests)
        # Each rare pair is found together in some figure, each word in 5-50 figures.
        for request in work.classes["two_rare"]:
            docs = []
            for word in request.q.split():
                (term,) = analyze(word)
                found = reader.postings(schema.TEXT, term)[0]
                assert 5 <= len(found) <= 50
                docs.append(found)
            assert np.intersect1d(*docs).size > 0, request.q
        assert all(r.match == "all" for r in work.classes["two_common"])
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("MAIN_0123456789abcdef.pst", "Whoosh postings (.pst)"),
        ("MAIN_0123456789abcdef.trm", "Whoosh term tables (.trm)"),
        ("MAIN_0123456789abcdef.record.col", "stored records (record column)"),
        ("MAIN_0123456789abcdef._text_len.col", "field lengths (_*_len.col)"),
        ("MAIN_0123456789abcdef.facet_gene.col", "column facet_gene"),
        ("lexicon.json", "gene lexicon (lexicon.json)"),
        ("arrays/text_docs.npy", "arrays/text_docs.npy"),
        ("arrays/MAIN_0123456789abcdef_text_docs.npy", "arrays/*_text_docs.npy"),
    ],
)
def test_index_files_are_grouped_by_what_they_hold(name: str, part: str) -> None:
    assert index_part(name) == part


class _Cycle:
    """Garbage that only the cycle collector frees."""

    def __init__(self) -> None:
        self.me = self


def test_settling_collects_the_garbage_another_engine_left() -> None:
    left = _Cycle()
    gone = weakref.ref(left)
    del left
    bench_search.settle()
    assert gone() is None


class _Answers(http.server.BaseHTTPRequestHandler):
    """200 with ``X-Total-Count: 7`` on a kept-alive connection; ``/close`` closes it
    after answering, ``/missing`` is a 404. Notes each connection and request."""

    protocol_version = "HTTP/1.1"
    events: ClassVar[list[str]] = []

    def setup(self) -> None:
        super().setup()
        self.events.append("connect")

    def do_GET(self) -> None:
        self.events.append(f"GET {self.path}")
        status = 404 if self.path == "/missing" else 200
        body = b'{"total": 7}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Total-Count", "7")
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_http_client_keeps_one_connection_and_times_from_a_settled_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every timing starts from a settled process, in process and over HTTP (whose answer
    this process reads): what SQLite freed just before cost the next allocation 2 ms,
    charged to whichever engine came next. The client reuses its connection, connects
    again (untimed) when the server closed it, and stops on an answer other than 200."""
    events = _Answers.events = []
    monkeypatch.setattr(bench_search, "settle", lambda: events.append("settle"))
    bench_search.timed(lambda: events.append("search"))
    assert events == ["settle", "search"]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        client = bench_search.Client(server.server_address[1])
        for path in ("/a", "/b", "/close", "/c"):
            ms, total = client.get(path)
            assert total == 7 and 0 < ms < 5_000
        assert 0 < client.time("/healthz") < 5_000  # a request that is not a search
        assert client.get("/d", settle_first=False)[1] == 7  # back to back: no settling
        with pytest.raises(SystemExit, match="/missing: 404"):
            client.get("/missing")
        client.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert events[2:] == [
        *("settle", "connect", "GET /a", "settle", "GET /b", "settle", "GET /close"),
        *("settle", "connect", "GET /c", "settle", "GET /healthz", "GET /d"),
        *("settle", "GET /missing"),
    ]


def test_each_engine_follows_every_other_as_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Query after query the engines' order changes so that each goes first, and each
    follows each other, as often (SQLite's long scans, always right before our HTTP
    request, charged it for the caches they emptied)."""
    for n in range(1, 8):
        orders = bench_search.balanced_orders(n)
        assert all(sorted(order) == list(range(n)) for order in orders)
        firsts = Counter(order[0] for order in orders)
        pairs = Counter(p for order in orders for p in pairwise(order))
        assert set(firsts) == set(range(n)) and len(set(firsts.values())) == 1
        assert len(pairs) == n * (n - 1) and len(set(pairs.values())) <= 1, (n, pairs)

    steps = ["_ours", "_tantivy", "_sqlite", "_over_http", "_http_floor", "_ours_best"]
    run: list[str] = []
    monkeypatch.setattr(bench_search, "describe", lambda req: {})
    for name in steps:
        monkeypatch.setattr(
            bench_search, name, lambda engines, req, out, name=name: run.append(name)
        )
    engines = bench_search.Engines(object(), object(), object(), object(), object())  # type: ignore[arg-type]
    for turn in range(10):
        bench_search.measure_query(engines, object(), True, turn)  # type: ignore[arg-type]
    runs = [run[i : i + 6] for i in range(0, 60, 6)]
    orders = bench_search.balanced_orders(6)
    assert [[steps.index(s) for s in r] for r in runs] == [orders[t % 6] for t in range(10)]
    run.clear()  # no HTTP client, one word: three engines
    no_http = bench_search.Engines(object(), object(), object(), object(), None)  # type: ignore[arg-type]
    bench_search.measure_query(no_http, object(), False, 0)  # type: ignore[arg-type]
    assert sorted(run) == ["_ours", "_sqlite", "_tantivy"]
