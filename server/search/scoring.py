"""What a query node evaluates to (:class:`Match`), BM25, and combining matches.

Scores are BM25 (Robertson's idf, k1 = 1.2, b = 0.75) per field and term, summed over
fields (titles weigh twice, gene names 1.5 times) and over the words of a query: BM25F
in the simple form of a weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.index import schema
from server.search.snapshot import Snapshot

K1, B = 1.2, 0.75
TITLE_BOOST = 2.0
GENE_BOOST = 1.5
PREFIX_SCORE = 1.0
TITLE_EXACT_BOOST = 4.0  # a title typed whole outranks a title holding the same words
ORGANISM_SCORE = 1.0  # below a word's BM25: figures that name the organism rank first


@dataclass
class Loose:
    """A query's free words when a figure need not hold them all: which documents hold
    each, and how many of them each document holds (a title typed whole holds all)."""

    words: tuple[str, ...]  # as typed; words naming an organism together ("Homo sapiens")
    masks: tuple[np.ndarray, ...]  # the documents holding each word
    held: np.ndarray  # uint8 per document
    # The fewest words a document may hold: 0 when the query also requires something
    # (+word, a field, a phrase), which every document then holds.
    floor: int = 1

    def level(self, matched: np.ndarray, enough: int) -> int:
        """The most words the ``matched`` documents may be asked to hold so that at least
        ``enough`` of them do (all of the words if that many hold all; else down to
        ``floor``)."""
        counts = np.bincount(self.held[matched], minlength=len(self.words) + 1)
        total = 0
        for level in range(len(self.words), self.floor, -1):
            total += int(counts[level])
            if total >= enough:
                return level
        return self.floor


class Match:
    """The documents a node matches (``mask``, a bool array over all documents), their
    scores (``scores``, float32 over all documents; None for nodes that only filter),
    and, where free words need not all be held, ``loose``: then ``mask`` holds every
    document with any of them, and the service keeps those holding as many as a page
    needs.

    A match of few documents (a rare term's) is kept sparse until read: its documents'
    numbers (``docs``) and the numbers and values of its scores (``scored``, ``values``;
    a conjunction's scores are summed over every document any part scores, as the dense
    arrays are). ``mask`` and ``scores`` make the dense arrays on first reading, and
    combining sparse matches stays sparse: at 100k figures, making and combining one
    term's dense arrays took 0.3-0.4 ms on a fresh heap, its sparse ones microseconds."""

    MASK_BYTES, SCORE_BYTES = 1, 4  # per document, read: a bool mask, float32 scores

    def __init__(
        self, mask: np.ndarray, scores: np.ndarray | None = None, loose: Loose | None = None
    ) -> None:
        self.n = len(mask)
        self._mask, self._scores, self.loose = mask, scores, loose
        self.docs: np.ndarray | None = None
        self.scored: np.ndarray | None = None
        self.values: np.ndarray | None = None

    @classmethod
    def of_docs(
        cls, n: int, docs: np.ndarray, scored: np.ndarray | None, values: np.ndarray | None
    ) -> Match:
        """A sparse match among ``n`` documents: ``docs`` sorted without repeats, and the
        scores ``values`` of the sorted documents ``scored`` (both None: no scores)."""
        match = cls.__new__(cls)
        match.n, match.loose = n, None
        match._mask = match._scores = None
        match.docs, match.scored, match.values = docs, scored, values
        return match

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            mask = np.zeros(self.n, dtype=bool)
            mask[self.docs] = True
            self._mask = mask  # made once (threads that race make the same array)
        return self._mask

    @property
    def scores(self) -> np.ndarray | None:
        if self._scores is None and self.values is not None:
            scores = np.zeros(self.n, dtype=np.float32)
            scores[self.scored] = self.values
            self._scores = scores
        return self._scores

    @property
    def is_scored(self) -> bool:
        """Whether it has scores (without making the dense array of a sparse match)."""
        return self._scores is not None or self.values is not None

    def scores_at(self, docs: np.ndarray) -> np.ndarray:
        """The float32 scores of documents ``docs``, a sparse match's without its dense
        array: a rare query's page read four bytes a figure of the whole index for them
        (400 KB at 100k, a hundred fresh pages to fault in after the heap is trimmed)."""
        if self._scores is not None or self.values is None:
            scores = self.scores
            assert scores is not None, "scores_at of a match without scores"
            return scores[docs]
        scored, values = self.scored, self.values
        assert scored is not None
        out = np.zeros(len(docs), dtype=np.float32)
        if len(scored):
            where = np.minimum(np.searchsorted(scored, docs), len(scored) - 1)
            found = scored[where] == docs
            out[found] = values[where[found]]
        return out

    def any(self) -> bool:
        """Whether it matches any document (without making the mask of a sparse one)."""
        return bool(len(self.docs)) if self.docs is not None else bool(self.mask.any())

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold once read (what a cache of matches is bounded by)."""
        scored = self._scores is not None or self.values is not None
        total = self.n * (self.MASK_BYTES + (self.SCORE_BYTES if scored else 0))
        if self.docs is not None:
            total += sum(a.nbytes for a in (self.docs, self.scored, self.values) if a is not None)
        if self.loose is not None:
            total += sum(a.nbytes for a in (*self.loose.masks, self.loose.held))
        return total


def bm25(snap: Snapshot, field: str, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
    """BM25 of one term's postings (document numbers ``ids``, term frequencies ``tf``)."""
    df = len(ids)
    idf = np.float32(np.log(1.0 + (snap.documents - df + 0.5) / (df + 0.5)))
    if field in schema.LENGTH_NORMALISED_FIELDS:
        lengths, average = snap.field_lengths(field)
        norm = K1 * (1 - B + B * lengths[ids] / np.float32(average))
    else:  # exact values: a figure's gene count should not dilute a gene match
        norm = np.float32(K1)
    return idf * tf * np.float32(K1 + 1) / (tf + norm)


@lru_cache(maxsize=4)
def no_documents(n: int) -> Match:
    """The scored match of nothing among ``n`` documents, shared and read-only: a query
    looks up many terms that no figure holds, each half a megabyte of zeros at 100k
    figures otherwise."""
    mask, scores = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.float32)
    mask.flags.writeable = scores.flags.writeable = False
    return Match(mask, scores)


def all_of(matches: list[Match | None]) -> Match | None:
    """Documents of every one of ``matches`` (None constrains nothing), scores summed."""
    present = [m for m in matches if m is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    if all(m.docs is not None for m in present):
        docs = present[0].docs
        for m in present[1:]:
            docs = np.intersect1d(docs, m.docs, assume_unique=True)
        return Match.of_docs(present[0].n, docs, *_summed_sparse(present))
    mask = present[0].mask.copy()
    for m in present[1:]:
        mask &= m.mask
    return Match(mask, sum_scores(present))


def any_of(matches: list[Match | None]) -> Match | None:
    """Documents of any of ``matches`` (None constrains nothing), scores summed."""
    present = [m for m in matches if m is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    if all(m.docs is not None for m in present):
        docs = union_of([m.docs for m in present])  # type: ignore[misc]
        return Match.of_docs(present[0].n, docs, *_summed_sparse(present))
    mask = present[0].mask.copy()
    for m in present[1:]:
        mask |= m.mask
    return Match(mask, sum_scores(present))


def sum_scores(matches: list[Match]) -> np.ndarray | None:
    scored = [m.scores for m in matches if m.scores is not None]
    if not scored:
        return None
    total = scored[0].copy()
    for s in scored[1:]:
        total += s
    return total


def _summed_sparse(matches: list[Match]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`sum_scores` of sparse matches, sparse: the documents any of them scores and
    the sums, added in the same order as the dense arrays are (the same float32 sums)."""
    scored = [m for m in matches if m.values is not None]
    if not scored:
        return None, None
    docs = union_of([m.scored for m in scored])  # type: ignore[misc]
    values = np.zeros(len(docs), dtype=np.float32)
    for m in scored:
        values[np.searchsorted(docs, m.scored)] += m.values
    return docs, values


def union_of(arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted numbers of any of ``arrays`` (each sorted, without repeats). Sorted and
    deduplicated here, not by ``np.unique``: since numpy 2.3 it hashes first, 5 to 20
    times slower on these arrays (4,000 numbers: 307 against 28 us)."""
    if len(arrays) == 1:
        return arrays[0]
    joined = np.concatenate(arrays)
    joined.sort()
    first = np.empty(len(joined), dtype=bool)  # each number's first place
    first[:1] = True
    np.not_equal(joined[1:], joined[:-1], out=first[1:])
    return joined[first]
