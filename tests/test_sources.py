"""Reading record files of every accepted format, and reporting unreadable ones precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
import yaml_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.errors import RecordError
from indexer.sources import (
    RawRecord,
    SourceError,
    discover,
    parse_yaml,
    read_records,
    reads_alike_in_yaml_1_2,
)
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


def test_a_nul_byte_is_refused_not_read_as_the_end_of_the_record(tmp_path):
    path = tmp_path / "nul.md"
    path.write_bytes(b"---\nfigid: BIN\x00NUL\ncaption: after\n---\n")
    (error,) = read_all(path)
    assert isinstance(error, RecordError)
    assert (error.location, error.problem) == (
        str(path),
        "bad YAML at line 2, column 11: control character U+0000 is not allowed",
    )


# -- one meaning: YAML 1.1, whichever parser reads the file --------------------------------


def yaml_1_1(text: str):
    """The reference reading: PyYAML's safe loader over libyaml (YAML 1.1)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def outcome(parse, text: str) -> str:
    """What a parser makes of ``text``, comparable across parsers (NaN equals NaN)."""
    try:
        return repr(parse(text))
    except (yaml.YAMLError, RecordError, ValueError):
        return "error"
    except Exception as exc:  # yaml_rs raises its own error types
        return "error" if type(exc).__module__.startswith("yaml_rs") else repr(exc)


def read_as_pfocr(text: str):
    return parse_yaml(text, first_line=1)


def front_matter(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n---", 1)[0].removeprefix("---\n")


@pytest.mark.parametrize(
    ("scalar", "meaning"),
    [
        ("no", False),
        ("On", True),
        ("1e3", "1e3"),
        ("0o17", "0o17"),
        ("017", 15),
        ("12:30", 750),
        ("+.5", "+.5"),
        ("'no'", "no"),
        ("0.9107804", 0.9107804),
    ],
)
@pytest.mark.parametrize("shape", ["value: {}\n", "- {}\n", "value:\n  {}\n", "- [a, {}]\n"])
def test_plain_scalars_mean_what_yaml_1_1_says(scalar, meaning, shape):
    parsed = read_as_pfocr(shape.format(scalar))
    found = parsed["value"] if isinstance(parsed, dict) else parsed[0]
    found = found[1] if isinstance(found, list) else found
    assert (found, type(found)) == (meaning, type(meaning))


def test_every_sample_record_reads_as_yaml_1_1_mostly_by_the_fast_parser():
    paths = discover([SAMPLE_RECORDS])
    fast = 0
    for path in paths:
        text = front_matter(path)
        assert outcome(read_as_pfocr, text) == outcome(yaml_1_1, text), path.name
        if reads_alike_in_yaml_1_2(text):
            fast += 1
            assert outcome(yaml_rs.loads, text) == outcome(yaml_1_1, text), path.name
    assert fast >= 0.95 * len(paths)  # PyYAML is ~5x slower: keep it the exception


_TRICKY = [
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "=",
    "<<",
    ".5",
    "+.5",
    "-.5",
    ".inf",
    "-.Inf",
    ".NaN",
    "1e3",
    "1E3",
    "1e+3",
    "1.0e+3",
    "1.0e3",
    "0.5e3",
    "0o17",
    "0O17",
    "0x1F",
    "0b101",
    "017",
    "08",
    "00",
    "1_000",
    "1_0.5",
    "12:30",
    "1:20:30",
    "190:20:30.15",
    "2001-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "1.",
    "3.",
    "2014.",
    "-0",
    "+1",
    "10.3389/fpls",
    "14-3-3",
    "1HGF",
    "4-Coumaroyl-CoA",
    "0.9107804",
    "2001-12-14 21:59:43.10 -5",
]
_SCALAR_CHARS = "0123456789-+._:eExXoObBaAfFtTzZ "
scalars = st.one_of(
    st.sampled_from(_TRICKY),
    st.text(alphabet=_SCALAR_CHARS, min_size=1, max_size=12),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8),
)
shapes = st.sampled_from(
    [
        "key: {}\n",
        "key: {}  # a comment\n",
        "- {}\n",
        "- - {}\n",
        "{}: value\n",
        "? {}\n: value\n",
        "key:\n  {}\n",
        "key: [a, {}]\n",
        "key: {{k: {}}}\n",
        "caption: text\n  {}\n",
        "key: &anchor {}\n",
    ]
)


@settings(
    max_examples=600,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scalars, shapes, st.sampled_from(["figid: X\n", ""]))
def test_both_parsers_read_generated_scalars_alike(scalar, shape, before):
    """Where the fast YAML 1.2 parser is trusted, it must read what YAML 1.1 reads."""
    text = before + shape.format(scalar)
    expected = outcome(yaml_1_1, text)
    assert outcome(read_as_pfocr, text) == expected
    if reads_alike_in_yaml_1_2(text):
        assert outcome(yaml_rs.loads, text) in (expected, "error")


def test_a_file_too_large_for_a_record_is_refused_unread(tmp_path):
    path = tmp_path / "huge.md"
    path.write_bytes(b"---\nfigid: HUGE\ncaption: " + b"a" * (1 << 20) + b"\n---\n")
    (error,) = read_all(path)
    assert isinstance(error, RecordError)
    assert (error.location, error.problem) == (
        str(path),
        "file too large: 1,048,606 bytes, at most 1,048,576 bytes allowed",
    )


def test_a_json_line_too_large_is_refused_and_the_others_read(tmp_path):
    path = tmp_path / "records.jsonl"
    big = json.dumps({"figid": "BIG", "caption": "a" * (1 << 20)})
    path.write_text(f'{{"figid": "J1"}}\n{big}\n{{"figid": "J3"}}\n', encoding="utf-8")
    first, error, last = read_all(path)
    assert (first.data, last.data) == ({"figid": "J1"}, {"figid": "J3"})
    assert (error.location, error.problem) == (
        f"{path}:2",
        "record too large: 1,048,607 bytes, at most 1,048,576 bytes allowed",
    )
