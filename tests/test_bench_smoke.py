"""Every benchmark script runs end to end on the bundled sample or a tiny corpus, so that
none breaks unseen as the code under it changes (``bench_phrase`` had: it cleared a
cache the reader no longer has). Smoke tests: they time nothing. The benchmarks with
tests of their own (index, load, quality, search, worker pages) are not repeated here."""

from __future__ import annotations

import re
import threading

import psutil

from bench import (
    bench_enrich,
    bench_export,
    bench_hostile,
    bench_hostile_input,
    bench_http_floor,
    bench_language_data,
    bench_pages,
    bench_phrase,
)
from tests.conftest import SAMPLE_RECORDS


def _server_threads() -> list[str]:
    """Threads of an in-process waitress server still running (its loop, its tasks). One
    left running by a benchmark went on polling descriptor numbers it had closed, and a
    later test's server lost its own (EBADF)."""
    return [
        t.name
        for t in threading.enumerate()
        if "waitress" in t.name or t.name.endswith(("(run)", "(_serve)"))
    ]


def test_language_data(capsys):
    assert bench_language_data.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    for what in ("gene nomenclature", "spelling pairs", "query stop words"):
        assert re.search(rf"^{what}: load \d+\.\d ms", out, re.MULTILINE), what


def test_hostile_input(capsys):
    bench_hostile_input.main(["--runs", "1"])
    out = capsys.readouterr().out
    assert re.search(r"^text check of 1M Latin characters\s+\d+\.\d{4} s$", out, re.MULTILINE)


def test_pages(index_shapes, capsys):
    bench_pages.main(
        ["--index", str(index_shapes("one-segment")), "--runs", "2", "--distinct", "2"]
    )
    assert "the page adds at most" in capsys.readouterr().out


def test_export(index_shapes, capsys):
    assert bench_export.main(["--index", str(index_shapes("updated")), "--runs", "1"]) == 0
    out = capsys.readouterr().out
    for fmt in bench_export.FORMATS:
        assert re.search(rf"\n\S+ +\d+ {fmt} +\d+ .* ms .* ms +\d+\.\d\d", out), fmt


def test_phrase(index_shapes, capsys):
    bench_phrase.main(["--index", str(index_shapes("many-segments")), "--runs", "1"])
    out = capsys.readouterr().out
    for label in ("cold", "warm", "bare"):
        assert re.search(rf'"cell cycle"\s+{label}\s+median\s+\d+\.\d ms.*\d+ figures', out), label


def test_hostile(tmp_path, capsys):
    index = tmp_path / "ix"  # built by the script from the sample
    argv = ["--corpus", str(SAMPLE_RECORDS), "--index", str(index), "--runs", "1"]
    before = _server_threads()
    bench_hostile.main([*argv, "--ordinary-runs", "2", "--load-seconds", "1"])
    out = capsys.readouterr().out
    assert re.search(r"hostile 64 common words\s+\d+ requests, worst\s+\d+\.\d ms", out)
    assert _server_threads() == before  # its server stopped, loop and task threads


def test_enrich(tmp_path, capsys):
    before = _server_threads()
    bench_enrich.main(["--out", str(tmp_path), "--count", "300", "--runs", "2"])
    assert _server_threads() == before
    out = capsys.readouterr().out
    for row in ("all / 10", "all / 3000", "human 2015+ / 300"):
        assert f"| {row} |" in out, row


def test_http_floor(index_shapes, capsys):
    argv = ["--index", str(index_shapes("one-segment")), "--rounds", "1", "--requests", "2"]
    assert bench_http_floor.main([*argv, "--gap", "1"]) == 0
    out = capsys.readouterr().out
    for server, path in (
        ("gunicorn, WSGI", "/healthz"),
        ("gunicorn, Flask", "/healthz"),
        ("pfocr serve", "/healthz"),
        ("pfocr serve", "/api/search?q=signaling&per_page=20"),
    ):
        cell = r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)"
        assert re.search(rf"^{re.escape(server)}\s+{re.escape(path)}\s+{cell}\s+{cell}$", out, re.M)
    assert not psutil.Process().children(recursive=True)  # every server stopped
