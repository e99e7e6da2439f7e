"""The `pfocr` command line: summaries, reports and exit codes."""

from __future__ import annotations

import json

import pytest

from indexer.index.store import IndexStore
from pfocr.cli import EXIT_EMPTY, EXIT_INDEX, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, main
from tests.conftest import OLDER_RECORD, SAMPLE_RECORDS, sample_path


def test_build_then_stats(tmp_path, capsys):
    root = tmp_path / "ix"
    assert (
        main(["build", str(sample_path(OLDER_RECORD)), "--index", str(root), "--quiet"]) == EXIT_OK
    )
    out = capsys.readouterr().out
    assert "build: 1 files read, 1 figures indexed, 0 figures rejected, 1 in the index" in out
    assert main(["stats", "--index", str(root)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "documents" in out and "schema_version" in out and "lexicon_genes" in out


def test_rejections_are_listed_and_strict_fails(tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "good.md").write_text(sample_path(OLDER_RECORD).read_text(), encoding="utf-8")
    (folder / "bad.md").write_text("---\nfigtitle: no id\n---\n", encoding="utf-8")
    root = tmp_path / "ix"
    assert main(["build", str(folder), "--index", str(root), "--quiet"]) == EXIT_OK
    captured = capsys.readouterr()
    assert f"rejected: {folder / 'bad.md'} [figid]: missing figid" in captured.err
    assert "1 figures indexed, 1 figures rejected" in captured.out
    first = IndexStore(root).current()

    assert (
        main(["build", str(folder), "--index", str(root), "--quiet", "--strict"]) == EXIT_REJECTED
    )
    captured = capsys.readouterr()
    assert "--strict: 1 records rejected; nothing was published" in captured.err
    assert IndexStore(root).current() == first
    report = json.loads((root / "report.json").read_text())
    assert report["rejected"][0]["problem"] == "missing figid"


def test_check_writes_a_report_and_touches_no_index(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    args = ["check", str(sample_path(OLDER_RECORD)), "--quiet", "--report", str(report_path)]
    assert main(args) == EXIT_OK
    assert "check: 1 files read, 1 figures indexed, 0 figures rejected" in capsys.readouterr().out
    assert json.loads(report_path.read_text())["figures_indexed"] == 1
    assert not (tmp_path / "index_data").exists()


def test_update_without_an_index_says_to_build(tmp_path, capsys):
    root = tmp_path / "ix"
    assert (
        main(["update", str(sample_path(OLDER_RECORD)), "--index", str(root), "--quiet"])
        == EXIT_INDEX
    )
    assert "run `pfocr build SRC" in capsys.readouterr().err


def test_missing_source_is_a_usage_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "absent")]) == EXIT_USAGE
    assert "absent: no such file or folder" in capsys.readouterr().err


def test_serve_builds_first_when_there_is_no_index_it_can_read(tmp_path, monkeypatch, capsys):
    served = []
    monkeypatch.setattr("server.web.serving.serve", lambda root, options: served.append(root) or 0)
    root = tmp_path / "ix"
    args = ["serve", "--index", str(root), "--build-from", str(sample_path(OLDER_RECORD))]

    assert main(args) == EXIT_OK  # no index: built, then served
    assert "no index in" in capsys.readouterr().out
    first = IndexStore(root).require_current()

    assert main(args) == EXIT_OK  # a readable index: served as it is
    assert IndexStore(root).require_current() == first

    meta = json.loads((first / "meta.json").read_text())
    (first / "meta.json").write_text(json.dumps({**meta, "schema_version": 0}))
    assert main(args) == EXIT_OK  # an index of an older schema: rebuilt
    assert "index schema version 0" in capsys.readouterr().out
    assert IndexStore(root).require_current() != first
    assert served == [root] * 3

    (IndexStore(root).require_current() / "meta.json").write_text(
        json.dumps({**meta, "schema_version": 0})
    )
    assert main(["serve", "--index", str(root)]) == EXIT_INDEX  # nothing to build from
    assert "rebuild it with `pfocr build`" in capsys.readouterr().err


def test_an_empty_build_is_refused_and_the_index_kept(tmp_path, capsys):
    root = tmp_path / "ix"
    assert main(["build", str(sample_path(OLDER_RECORD)), "--index", str(root), "--quiet"]) == 0
    first = IndexStore(root).current()
    capsys.readouterr()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "no-id.md").write_text("---\nfigtitle: no id\n---\n", encoding="utf-8")
    assert main(["build", str(bad), "--index", str(root), "--quiet"]) == EXIT_EMPTY
    err = capsys.readouterr().err
    assert f"rejected: {bad / 'no-id.md'} [figid]: missing figid" in err
    assert (
        "pfocr: all 1 records were rejected; the index was not changed "
        "(--allow-empty publishes an empty index)"
    ) in err
    assert IndexStore(root).current() == first

    args = ["build", str(bad), "--index", str(root), "--quiet", "--allow-empty"]
    assert main(args) == EXIT_OK
    assert "0 in the index" in capsys.readouterr().out
    assert IndexStore(root).current() != first


def test_memory_flag_reaches_the_writers(tmp_path):
    root = tmp_path / "ix"
    args = ["build", str(SAMPLE_RECORDS), "--index", str(root), "--quiet", "--workers", "2"]
    assert main([*args, "--memory-mb", "0.25"]) == EXIT_OK
    assert len(IndexStore(root).open_current()._segments()) > 2  # segments finished early


@pytest.mark.parametrize("command", [[], ["build"], ["update"], ["check"], ["stats"], ["serve"]])
def test_help_is_plain_text(capsys, command):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pfocr")
    assert "`" not in out and "::" not in out  # no reStructuredText markup


def test_enrich_prints_the_ranked_table_as_the_api_does(index_shapes, tmp_path, capsys):
    from server.web import create_app

    root = index_shapes("one-segment")
    genes = tmp_path / "genes.txt"
    genes.write_text("STAT3\nJAK\nIL6, TP53\tNOTAGENE\n", encoding="utf-8")
    argv = ["enrich", str(genes), "--index", str(root), "--organism", "Homo sapiens"]
    assert main(argv) == EXIT_OK
    captured = capsys.readouterr()
    body = {"genes": genes.read_text(), "organism": "Homo sapiens", "format": "tsv"}
    api = create_app(root, {"TESTING": True}).test_client().post("/api/enrich", json=body)
    assert captured.out == api.get_data(as_text=True)
    assert captured.out.startswith("Term\tTitle\tOverlap\tP-value")
    assert "unrecognised: NOTAGENE" in captured.err
    assert main([*argv, "--format", "json", "--limit", "2"]) == EXIT_OK
    answer = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in answer["results"]] == [1, 2]
    assert answer["query"]["ambiguous"][0]["input"] == "JAK"


def test_enrich_reads_standard_input_and_names_a_bad_parameter(index_shapes, monkeypatch, capsys):
    import io

    root = str(index_shapes("one-segment"))
    monkeypatch.setattr("sys.stdin", io.StringIO("TP53\n"))
    assert main(["enrich", "-", "--index", root, "--background-size", "5"]) == EXIT_USAGE
    assert "pfocr: background_size: background_size (5) is smaller" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n \n"))
    assert main(["enrich", "-", "--index", root]) == EXIT_USAGE
    assert "pfocr: genes: genes is empty" in capsys.readouterr().err


def test_build_memory_flag_is_checked(tmp_path, capsys):
    """A writer's memory is a positive, finite number of megabytes: anything else is a
    usage error naming the flag, not a traceback from inside the build."""
    build = ["build", str(SAMPLE_RECORDS), "--index", str(tmp_path / "ix"), "--quiet"]
    for value in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(SystemExit) as stop:
            main([*build, "--memory-mb", value])
        assert stop.value.code == EXIT_USAGE
        assert "argument --memory-mb" in capsys.readouterr().err
    assert not (tmp_path / "ix").exists()


def test_serve_flags_are_checked(capsys):
    for args in (["--workers", "0"], ["--threads", "x"], ["--max-requests", "-1"]):
        with pytest.raises(SystemExit) as stop:
            main(["serve", *args])
        assert stop.value.code == EXIT_USAGE
        assert f"argument {args[0]}" in capsys.readouterr().err
