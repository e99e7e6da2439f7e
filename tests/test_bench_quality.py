"""The quality benchmark's ground: the judged query file is well formed, and the ranking
metrics give the values worked out by hand. (tantivy is benchmark-only: not used here.)"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from bench import ranking_metrics as rm
from bench.bench_quality import GRADED_KINDS, JUDGED, graded_queries, judged_queries
from bench.peer_engines import Fts5Engine, PeerDocument, query_words
from indexer.record import normalize
from indexer.sources import discover, read_records

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "pfocr"
CLASSES = {
    "filler",
    "extra_word",
    "word_family",
    "british",
    "compound",
    "synonym",
    "unprinted_name",
}


@pytest.fixture(scope="module")
def sample_figids() -> set[str]:
    return {
        normalize(raw.data, raw.location).figid
        for path in discover([SAMPLE])
        for raw in read_records(path)
    }


# -- the judged queries ---------------------------------------------------------------------


def test_every_judged_figure_is_in_the_sample(sample_figids: set[str]) -> None:
    judged = {f for q in judged_queries() for f in q["relevant"]}
    judged |= {f for q in graded_queries() for f in q["grades"]}
    assert judged - sample_figids == set()


def test_grades_are_one_or_two_and_every_query_has_an_answer() -> None:
    for query in graded_queries():
        grades = list(query["grades"].values())
        assert all(type(g) is int and g in (1, 2) for g in grades), query["q"]
        assert 2 in grades, query["q"]  # the sample holds a figure about what it asks


def test_graded_queries_cover_every_kind() -> None:
    queries = graded_queries()
    assert len(queries) >= 60
    kinds = Counter(q["kind"] for q in queries)
    assert set(kinds) == set(GRADED_KINDS)
    assert min(kinds.values()) >= 8, kinds
    assert len({(q["kind"], q["q"]) for q in queries}) == len(queries)  # no repeats
    assert all(q["q"].strip() for q in queries)
    assert {q["class"] for q in queries if "class" in q} <= CLASSES


def test_the_known_item_queries_are_kept() -> None:
    known = judged_queries()
    assert len(known) >= 142
    assert all(q["relevant"] and "grades" not in q for q in known)
    assert "graded" in JUDGED.read_text(encoding="utf-8")


# -- metrics, worked by hand ----------------------------------------------------------------


def test_ndcg_uses_the_grades_as_gains_and_every_judged_figure_for_the_ideal() -> None:
    grades = {"a": 2, "b": 1, "c": 2}
    # two answers only: b (gain 1 at rank 1), an unjudged x, a (gain 2 at rank 3)
    dcg = 1 / math.log2(2) + 0 + 2 / math.log2(4)  # = 2
    ideal = 2 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)  # a, c, b
    assert rm.ndcg(["b", "x", "a"], grades) == pytest.approx(dcg / ideal)
    assert rm.ndcg(["b", "x", "a"], grades) == pytest.approx(0.53165, abs=1e-5)
    assert rm.ndcg(["a", "c", "b"], grades) == pytest.approx(1.0)
    assert rm.ndcg([], grades) == 0.0


def test_ndcg_ideal_stops_at_ten() -> None:
    grades = {f"f{i}": 1 for i in range(12)}
    assert rm.ndcg([f"f{i}" for i in range(10)], grades) == pytest.approx(1.0)
    assert rm.ndcg(["f0"], grades) == pytest.approx(
        1 / sum(1 / math.log2(r + 1) for r in range(1, 11))
    )


def test_reciprocal_rank_counts_only_grade_two() -> None:
    assert rm.reciprocal_rank(["a", "b"], {"a": 1, "b": 1}) == 0.0
    assert rm.reciprocal_rank(["a", "x", "b"], {"a": 1, "b": 2}) == pytest.approx(1 / 3)
    deep = [f"x{i}" for i in range(100)] + ["b"]
    assert rm.reciprocal_rank(deep, {"b": 2}) == 0.0  # rank 101: past the first hundred


def test_precision_at_five_counts_empty_places_as_misses() -> None:
    assert rm.precision(["a", "x"], {"a": 1}) == pytest.approx(1 / 5)
    assert rm.precision(["a", "b", "x", "c", "d", "e"], {"a": 2, "b": 1, "c": 1, "e": 2}) == 0.6


def test_recall_at_ten_counts_grades_one_and_two() -> None:
    grades = {"a": 2, "b": 1, "c": 1, "d": 2}
    ranked = ["a", *(f"x{i}" for i in range(8)), "b", "c"]  # c is eleventh
    assert rm.recall(ranked, grades) == pytest.approx(2 / 4)
    assert rm.recall([], grades) == 0.0


def test_summary_counts_queries_with_no_hit() -> None:
    rows = [rm.scores([], {"a": 2}), rm.scores(["a"], {"a": 2})]
    summary = rm.summarize(rows)
    assert summary["no_hit"] == 1 and summary["n"] == 2
    assert summary["ndcg@10"] == pytest.approx(0.5) and summary["mrr"] == pytest.approx(0.5)


# -- the peers read the typed words only ----------------------------------------------------


def test_query_words_keep_letters_of_any_script_and_drop_syntax() -> None:
    assert query_words('"PGC-1α" AND +Bcl-xL (title:x*)') == [
        "pgc",
        "1α",
        "and",
        "bcl",
        "xl",
        "title",
        "x",
    ]
    assert query_words('!!! "" -- ') == []


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ('"unbalanced', ["f1"]),
        ("NEAR(columns", ["f1"]),  # FTS5's NEAR( group: here only two words, stemmed
        ("a AND OR NOT", ["f1"]),  # operators read as the words the figure holds
        ("col:umn", []),  # no column filter, and neither "col" nor "umn" is a word of f1
        ("x* ^2", ["f1"]),
        ("'", []),
        ("—", []),
    ],
)
def test_punctuation_never_breaks_the_fts5_peer(typed: str, found: list[str]) -> None:
    engine = Fts5Engine(
        [
            PeerDocument("f1", "Unbalanced near column", "and or not x"),
            PeerDocument("f2", "Other", "words"),
        ]
    )
    try:
        assert engine.search(typed, 10) == found
    finally:
        engine.close()
