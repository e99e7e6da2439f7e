"""Sparse matches (a rare term's documents and scores) combine exactly as dense ones do:
the same documents, the same float32 scores, so ranking never depends on which form a
term's match took."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from server.search import matching
from server.search.models import SearchRequest
from server.search.scoring import Match, all_of, any_of, union_of
from server.search.service import SearchService

N = 120  # few documents: matches overlap, so sums of three or four are tested


def sparse_match(rng: np.random.Generator, scored: bool) -> Match:
    docs = np.unique(rng.integers(0, N, rng.integers(0, 60)))
    values = rng.random(len(docs), dtype=np.float32) * 7 if scored else None
    return Match.of_docs(N, docs, docs if scored else None, values)


def dense_copy(match: Match) -> Match:
    scores = None if match.scores is None else match.scores.copy()
    return Match(match.mask.copy(), scores)


def assert_same(got: Match | None, want: Match | None) -> None:
    assert (got is None) == (want is None)
    if got is None or want is None:
        return
    assert np.array_equal(got.mask, want.mask)
    assert (got.scores is None) == (want.scores is None)
    if got.scores is not None:
        assert got.scores.dtype == np.float32
        assert np.array_equal(got.scores, want.scores)  # bit for bit, not approximately


@pytest.mark.parametrize("seed", range(40))
def test_sparse_conjunctions_and_disjunctions_equal_dense_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    matches = [sparse_match(rng, scored=rng.random() < 0.8) for _ in range(rng.integers(1, 5))]
    if rng.random() < 0.3:  # the same documents twice, as a word's text and title terms
        first = matches[0]
        matches.append(Match.of_docs(N, first.docs, first.scored, first.values))
    for combine in (all_of, any_of):
        for some in itertools.chain.from_iterable(
            itertools.combinations(matches, k) for k in range(1, len(matches) + 1)
        ):
            sparse = combine(list(some))
            assert sparse is not None and sparse.docs is not None  # stayed sparse
            dense = [dense_copy(m) for m in some]
            assert_same(sparse, combine(dense))
            nested = combine([combine(list(some)), any_of(list(some))])
            assert_same(nested, combine([combine(dense), any_of(dense)]))


def test_mixed_sparse_and_dense_combine_as_dense() -> None:
    rng = np.random.default_rng(7)
    rare, common = sparse_match(rng, True), sparse_match(rng, True)
    dense = dense_copy(common)
    for combine in (all_of, any_of):
        assert_same(combine([rare, dense]), combine([dense_copy(rare), dense]))
    assert all_of([rare, None]) is rare and any_of([None]) is None


def test_a_sparse_match_reads_as_its_dense_arrays() -> None:
    match = Match.of_docs(N, np.array([3, 9]), np.array([3, 9, 20]), np.float32([1, 2, 3]))
    assert match.any() and not Match.of_docs(N, np.array([], int), None, None).any()
    assert np.flatnonzero(match.mask).tolist() == [3, 9]
    assert match.scores is not None and match.scores[[3, 9, 20]].tolist() == [1, 2, 3]
    assert match.nbytes >= 5 * N  # weighed as it will be once read


@pytest.mark.parametrize("seed", range(20))
def test_scores_at_reads_the_dense_scores_without_making_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    match = sparse_match(rng, scored=True)
    docs = rng.integers(0, N, rng.integers(0, 40))  # any order, repeats, unscored documents
    got = match.scores_at(docs)
    assert match.is_scored and match._scores is None  # still sparse
    want = dense_copy(match).scores
    assert want is not None
    assert got.dtype == np.float32 and np.array_equal(got, want[docs])
    assert np.array_equal(dense_copy(match).scores_at(docs), want[docs])  # a dense match too
    assert not sparse_match(rng, scored=False).is_scored


QUERIES = [
    "insulin signaling",
    "NF-kB apoptosis",
    "crosstalk",
    "TP53 OR MDM2",
    '"cell cycle" kinase',
    "apopt* -cancer",
    "gene:TP53",
    "Homo sapiens insulin",
    "what does p53 do in apoptosis",
]


@pytest.mark.parametrize("match", ["all", "best"])
def test_search_ranks_the_same_with_sparse_or_dense_term_matches(
    sample_index: Path, monkeypatch, match: str
) -> None:
    def answers() -> list[tuple]:
        service = SearchService(sample_index)
        found = []
        for q in QUERIES:
            result = service.search(SearchRequest(q=q, match=match, per_page=100))
            hits = [(h["figid"], h["score"]) for h in result["hits"]]
            found.append((result["total"], hits, result["facets"]))
        service.close()
        return found

    monkeypatch.setattr(matching, "SPARSE_BELOW", 0)  # every term's match sparse
    sparse = answers()
    monkeypatch.setattr(matching, "SPARSE_BELOW", 10**9)  # every term's match dense
    assert sparse == answers()
    assert any(total for total, _, _ in sparse)


@pytest.mark.parametrize("sizes", [(0, 0), (1, 0), (5, 30), (3, 4, 10), (1000, 3000, 7)])
def test_union_of_is_numpys_unique_of_the_arrays_together(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(sizes) * 100 + sum(sizes))
    arrays = [np.unique(rng.integers(0, 5000, size)).astype(np.int32) for size in sizes]
    union = union_of(arrays)
    expected = np.unique(np.concatenate(arrays))
    assert union.dtype == np.int32
    np.testing.assert_array_equal(union, expected)
