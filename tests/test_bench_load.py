"""The load benchmark's requests: planned from a real index, and each one answered by the
API as the benchmark sends it (a request the server refuses would only measure errors)."""

from __future__ import annotations

import json
import os
import random
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

from bench.bench_load import (
    ENRICH_MIN_FIGURE_GENES,
    MIX,
    cache_lookups,
    enrichment_requests,
    plan,
    print_mode,
    private_pages,
)
from bench.served import pfocr_serve
from indexer.index.store import IndexStore
from server.search.snapshot import Snapshot
from server.web import create_app
from tests.conftest import ShapeBuilder


@pytest.fixture(scope="module")
def index(index_shapes: ShapeBuilder) -> Path:
    return index_shapes("updated")  # deleted documents are never drawn


@pytest.fixture(scope="module")
def planned(index: Path) -> dict:
    return plan(index, distinct=3, seed=1)


def test_every_endpoint_of_the_mix_has_requests(planned: dict) -> None:
    assert planned["mix"] == MIX
    assert all(planned["requests"][name] for name in MIX)


def test_every_planned_request_is_answered(index: Path, planned: dict) -> None:
    client = create_app(index, {"TESTING": True}).test_client()
    for name, requests in planned["requests"].items():
        for method, path, body in requests[:25]:
            data = None if body is None else json.dumps(body)
            with client.open(path, method=method, data=data) as reply:  # exports stream
                text = reply.get_data(as_text=True)
                assert reply.status_code == 200, (name, path, text[:300])


def figure_genes(genes, d: int) -> set[str]:
    return {genes.values[o] for o in genes.doc_vals[genes.doc_ptr[d] : genes.doc_ptr[d + 1]]}


def test_an_enrichment_list_finds_the_figure_it_was_drawn_from(index: Path) -> None:
    client = create_app(index, {"TESTING": True}).test_client()
    snap = Snapshot(IndexStore(index).require_current())
    try:
        genes = snap.facets["gene"]
        requests = enrichment_requests(snap, random.Random(3))
        assert requests
        for _, path, body in requests[:10]:
            listed = set(body["genes"].split("\n"))
            seeds = [  # the figure a list was drawn from has this many of its genes
                snap.figids[d]
                for d in np.flatnonzero(snap.live)
                if len(listed & figure_genes(genes, d)) >= ENRICH_MIN_FIGURE_GENES
            ]
            assert seeds, body
            answer = client.post(path, data=json.dumps({**body, "per_page": 100})).get_json()
            found = {hit["figid"] for hit in answer["results"]}
            assert found & set(seeds), (seeds, sorted(found)[:10])
    finally:
        snap.close()


def test_a_workers_private_memory_is_its_heap_and_the_pages_it_alone_read(capsys) -> None:
    """The split of USS that the benchmark prints adds up to psutil's USS, and the share
    a worker beyond the first adds is its USS over the first's RSS."""
    private = private_pages(os.getpid())
    uss = psutil.Process().memory_full_info().uss / 2**20
    assert private["heap"] > 0
    assert private["heap"] + private["file"] == pytest.approx(uss, rel=0.05)
    row = {"requests": 1, "rps": 1.0, "p50": 1, "p95": 1, "p99": 1, "failures": 0}
    first = {"pid": 1, "uss": 200.0, "pss": 250.0, "rss": 300.0, "heap": 190.0, "file": 10.0}
    second = {**first, "pid": 2, "uss": 90.0, "heap": 80.0}
    result = {"cpu_cores": 1.0, "client_cpu_cores": 0.1, "load_average": 1.0}
    quiet = [first, {**second, "uss": 60.0, "heap": 50.0}]
    memory = {"memory": [first, second], "memory_quiet": quiet}
    print_mode("w2", {**result, "endpoints": {"all": row}, **memory})
    out = capsys.readouterr().out
    end, once_quiet = out.split("memory at the end:")[1].split("memory once quiet:")
    assert "USS 90 MB (heap 80, index pages 10)" in end
    assert "adds USS 30% of the first's RSS" in end
    assert "USS 60 MB (heap 50, index pages 10)" in once_quiet
    assert "adds USS 20% of the first's RSS" in once_quiet


def test_the_cache_lookups_are_read_from_the_servers_and_printed(
    index: Path, tmp_path: Path, capsys
) -> None:
    with pfocr_serve(index, 1, tmp_path / "serve.log") as server:
        for _ in range(3):
            with urllib.request.urlopen(f"{server.url}/api/search?q=kinase", timeout=10):
                pass
        caches = cache_lookups([server])
    assert caches["answers"] == {"hit": 2.0, "miss": 1.0}
    assert caches["matches"]["miss"] >= 1
    row = {"requests": 1, "rps": 1.0, "p50": 1, "p95": 1, "p99": 1, "failures": 0}
    result = {"cpu_cores": 1.0, "client_cpu_cores": 0.1, "load_average": 1.0, "caches": caches}
    print_mode("w1", {**result, "endpoints": {"all": row}, "memory": [], "memory_quiet": []})
    assert "answers cache: 2 hits of 3 lookups (67%)" in capsys.readouterr().out
