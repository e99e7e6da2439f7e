"""Reading record files of every accepted format, and reporting unreadable ones precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.errors import RecordError
from indexer.sources import RawRecord, SourceError, discover, read_records
from tests.conftest import OLDER_RECORD, SAMPLE_RECORDS, sample_path


def read_all(path: Path) -> list[RawRecord | RecordError]:
    return list(read_records(path))


def test_markdown_front_matter(tmp_path):
    (record,) = read_all(sample_path(OLDER_RECORD))
    assert isinstance(record, RawRecord)
    assert record.location == str(sample_path(OLDER_RECORD))
    assert record.data["figid"] == OLDER_RECORD
    assert record.data["year"] == "2001"  # quoted in the file: stays a string until normalised


def test_yaml_file_with_one_record_or_a_list(tmp_path):
    one = tmp_path / "one.yml"
    one.write_text("figid: A1\nfigtitle: One\n", encoding="utf-8")
    many = tmp_path / "many.yaml"
    many.write_text("- figid: B1\n- figid: B2\n", encoding="utf-8")
    assert [r.location for r in read_all(one)] == [str(one)]
    records = read_all(many)
    assert [r.location for r in records] == [f"{many}#0", f"{many}#1"]
    assert [r.data["figid"] for r in records] == ["B1", "B2"]


def test_json_lines_with_a_bad_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(
        json.dumps({"figid": "J1"})
        + "\n\n"
        + '{"figid": "J2",\n'
        + json.dumps({"figid": "J3"})
        + "\n",
        encoding="utf-8",
    )
    results = read_all(path)
    assert [r.location for r in results] == [f"{path}:1", f"{path}:3", f"{path}:4"]
    assert isinstance(results[1], RecordError)
    assert results[1].problem.startswith("invalid JSON at column")
    assert results[2].data == {"figid": "J3"}


def test_bad_yaml_reports_the_line_in_the_file(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("---\nfigid: X\ncaption: [unclosed\nyear: '2001'\n---\n", encoding="utf-8")
    (error,) = read_all(path)
    assert isinstance(error, RecordError)
    assert error.location == str(path)
    assert error.problem.startswith("bad YAML at line 4, column 5: did not find expected")
    assert "started at line 3, column 10" in error.problem


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"Just some notes\n", "not a record: no YAML front matter (first line is not '---')"),
        (b"---\nfigid: X\n", "not a record: YAML front matter has no closing '---' line"),
        (
            b"---\nfigid: \xff\xfeX\n---\n",
            "unreadable encoding: not UTF-8 (byte 0xff at offset 11)",
        ),
    ],
)
def test_unreadable_markdown(tmp_path, content, problem):
    path = tmp_path / "f.md"
    path.write_bytes(content)
    (error,) = read_all(path)
    assert isinstance(error, RecordError)
    assert (error.location, error.problem) == (str(path), problem)


def test_discover_recurses_sorts_and_skips_other_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/b/z.md", "a/y.jsonl", "x.yaml", "notes.txt", ".hidden/h.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    names = [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path])]
    assert names == ["a/b/z.md", "a/y.jsonl", "x.yaml"]


def test_discover_names_a_missing_path(tmp_path):
    with pytest.raises(SourceError, match="nope: no such file or folder"):
        discover([tmp_path / "nope"])


def test_every_sample_record_parses():
    for path in discover([SAMPLE_RECORDS]):
        (record,) = read_all(path)
        assert isinstance(record, RawRecord), record
