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


@dataclass
class Match:
    """The documents a node matches (a bool mask over all documents), their scores (None
    for nodes that only filter), and, where free words need not all be held, ``loose``:
    then ``mask`` holds every document with any of them, and the service keeps those
    holding as many as a page needs."""

    mask: np.ndarray
    scores: np.ndarray | None = None
    loose: Loose | None = None

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold (what a cache of matches is bounded by)."""
        arrays = [self.mask, self.scores]
        if self.loose is not None:
            arrays += [*self.loose.masks, self.loose.held]
        return sum(a.nbytes for a in arrays if a is not None)


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
