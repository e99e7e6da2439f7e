"""The synthetic corpus generator writes records the indexer reads like the real ones."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench import synth
from indexer.errors import RecordError
from indexer.record import normalize
from indexer.sources import discover, read_records

COUNT = 400


def _read_all(root: Path) -> tuple[list, list[RecordError]]:
    """(raw record, figure) pairs of every record under ``root``, and every rejection."""
    read, rejected = [], []
    for path in discover([root]):
        for raw in read_records(path):
            if isinstance(raw, RecordError):
                rejected.append(raw)
                continue
            try:
                read.append((raw, normalize(raw.data, raw.location)))
            except RecordError as error:
                rejected.append(error)
    return read, rejected


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    return out, synth.generate(COUNT, out, seed=7)


def test_markdown_records_parse_and_normalize_without_rejections(corpus) -> None:
    out, paths = corpus
    assert len(paths) == COUNT
    read, rejected = _read_all(out)
    assert rejected == []
    assert len(read) == COUNT
    figids = [figure.figid for _, figure in read]
    assert len(set(figids)) == COUNT
    for raw, figure in read:
        assert Path(raw.location).name == f"{figure.figid}.md"
        assert figure.figid.startswith("PMC") and "__" in figure.figid


def test_both_generations_in_about_the_real_proportion(corpus) -> None:
    out, _ = corpus
    read, _ = _read_all(out)
    older = [raw for raw, _ in read if "genes" in raw.data]
    newer = [raw for raw, _ in read if "organisms_ner" in raw.data]
    assert len(older) + len(newer) == COUNT
    # 56 of the 214 real records are of the older generation (26%).
    assert 0.15 < len(older) / COUNT < 0.40
    assert any(isinstance(raw.data["organisms"], str) for raw in older)
    assert any(figure.genes and figure.genes[0].entrez for _, figure in read)
    assert any(figure.gene_keywords and not raw.data.get("genes") for raw, figure in read)
    assert any(raw.data.get("doi") == ".na.character" for raw in newer)
    assert any(raw.data.get("organisms") == ["NA"] for raw in newer)
    years = Counter(figure.year for _, figure in read)
    assert min(years) >= 2000 and max(years) <= 2025 and len(years) > 10


def test_text_is_exactly_what_was_generated(tmp_path: Path) -> None:
    """The hand-written YAML parses (with PyYAML and with yaml_rs) back to the same data."""
    expected = list(synth.records(150, seed=3))
    synth.generate(150, tmp_path / "c", seed=3)
    for record in expected:
        files = list((tmp_path / "c").rglob(f"{record['figid']}.md"))
        assert len(files) == 1
        front = files[0].read_text(encoding="utf-8").split("\n---", 1)[0].removeprefix("---\n")
        assert yaml.safe_load(front) == record
    read, rejected = _read_all(tmp_path / "c")
    assert not rejected
    by_figid = {raw.data["figid"]: raw.data for raw, _ in read}
    assert by_figid == {record["figid"]: record for record in expected}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "NA",
        "On",
        "off",
        "yes",
        "null",
        "2012",
        "1.5",
        ".na.character",
        "a: b",
        "a #b",
        "x:",
        "- x",
        "'q'",
        '"q"',
        " pad ",
        "β-catenin",
        "line\nbreak",
        "tab\there",
        "@id",
        "[x]",
        "{y}",
        "&a",
        "*a",
        "!t",
        "%p",
        "|",
        ">",
        "=",
        "<<",
        "~",
        "?x",
        "0x1F",
        "1e3",
        "PI3K/Akt",
        "NF-κB",
    ],
)
def test_scalars_round_trip(value: str) -> None:
    text = synth.to_front_matter({"k": value, "l": [value], "m": [{"w": value}]})
    front = text.split("\n---", 1)[0].removeprefix("---\n")
    assert yaml.safe_load(front) == {"k": value, "l": [value], "m": [{"w": value}]}


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = synth.generate(120, tmp_path / "a", seed=5)
    second = synth.generate(120, tmp_path / "b", seed=5)
    other = synth.generate(120, tmp_path / "c", seed=6)
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    assert {p.name for p in first} != {p.name for p in other}


def test_subfolders_hold_at_most_a_thousand_files(tmp_path: Path) -> None:
    paths = synth.generate(2100, tmp_path / "c", seed=1)
    folders = Counter(p.parent.name for p in paths)
    assert sorted(folders) == ["0000", "0001", "0002"]
    assert max(folders.values()) == synth.FILES_PER_FOLDER


def test_jsonl_format(tmp_path: Path) -> None:
    paths = synth.generate(200, tmp_path / "j", seed=2, fmt="jsonl")
    assert [p.name for p in paths] == ["records.jsonl"]
    read, rejected = _read_all(tmp_path / "j")
    assert not rejected and len(read) == 200
    lines = paths[0].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(synth.records(200, seed=2))


def test_generate_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError):
        synth.generate(10, tmp_path)
    synth.generate(10, tmp_path / "c")
    synth.generate(5, tmp_path / "c")  # a previous synthetic corpus is replaced
    assert len(discover([tmp_path / "c"])) == 5


def test_mutate_changes_exactly_k_records_which_still_read(tmp_path: Path) -> None:
    paths = synth.generate(200, tmp_path / "c", seed=4)
    before = {p: p.read_bytes() for p in paths}
    changed = synth.mutate(paths, 25, seed=9)
    assert len(changed) == len(set(changed)) == 25
    differing = {str(p) for p in paths if p.read_bytes() != before[p]}
    assert differing == set(changed)
    read, rejected = _read_all(tmp_path / "c")
    assert not rejected and len(read) == 200
    assert len(synth.mutate(paths, 0.1, seed=9)) == 20


def test_mutate_jsonl_lines(tmp_path: Path) -> None:
    paths = synth.generate(50, tmp_path / "j", seed=2, fmt="jsonl")
    before = paths[0].read_text(encoding="utf-8").splitlines()
    changed = synth.mutate(paths, 5, seed=1)
    after = paths[0].read_text(encoding="utf-8").splitlines()
    assert len(changed) == 5
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 5
    assert not _read_all(tmp_path / "j")[1]


def test_vocabulary_grows_with_the_corpus() -> None:
    def vocabulary(n: int) -> int:
        words: set[str] = set()
        for record in synth.records(n, seed=0):
            if isinstance(record.get("caption"), str):
                words.update(record["caption"].lower().split())
        return len(words)

    small, large = vocabulary(300), vocabulary(3000)
    assert large > small * 1.5
