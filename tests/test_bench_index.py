"""The indexing benchmark runs end to end on a tiny corpus (every variant, an update, the
per-step profile) and reports what it measured: a smoke test, it times nothing."""

from __future__ import annotations

import argparse
import json
import re

from bench import bench_index


def test_a_tiny_run_measures_every_variant_and_an_update(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_index, "OUT", tmp_path)  # corpus, runs and results here
    monkeypatch.setattr(bench_index, "RUNS", tmp_path / "runs")
    argv = ["--sizes", "60", "--repeats", "1", "--update-count", "5", "--update-repeats", "1"]
    assert bench_index.main([*argv, "--profile", "20", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    for variant in bench_index.VARIANTS:
        assert re.search(rf"\s60 {variant}\s+run 1/1:\s+\d+\.\d+ s", out), variant
        assert re.search(rf"^\s+60 {variant}\s+1\s", out, re.MULTILINE), variant  # its row
    assert "update 5 changed of 60, run 1:" in out
    assert "per-record cost of each step" in out
    (results,) = tmp_path.glob("results-*.json")
    runs = json.loads(results.read_text(encoding="utf-8"))["runs"]
    assert sorted(r["variant"] for r in runs) == sorted([*bench_index.VARIANTS, "update"])
    assert all(not r.get("failed") and r["records"] > 0 for r in runs)
    assert not list((tmp_path / "runs").glob("*-60-*"))  # its index folders removed


def test_the_100k_targets_are_printed_beside_the_build(capsys):
    run = {"seconds": 83.0, "records": 100_000, "rejected": 0, "cpu_seconds": 152.1}
    run |= {"peak_mb": 923.0, "processes": 4, "index_mb": 283.0, "load": 0.7}
    results = {(100_000, "pipeline"): bench_index.summarize([run])}
    args = argparse.Namespace(once_above=20_000)
    bench_index.print_table([100_000], ["pipeline"], results, [], args)
    out = capsys.readouterr().out
    assert "build < 90 s (issue 16: < 60 s): 83.0 s; peak < 1 GB: 923 MB" in out
