"""Facet values held in numpy arrays, counted over a set of matched documents.

Each facet (organism, gene, disease, ...) comes with its index generation as CSR tables
written by the build (``indexer.index.arrays.FacetTables``, memory-mapped): document ->
value ordinals, and its inverse, value -> documents. Values that differ only in case
share one ordinal. Counting the values of a matched set is one ``bincount`` over the
entries of the matched documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from indexer.index.arrays import FacetTables
from server.search.ranks import smallest_with_ties

# What counting costs, in nanoseconds (measured at 100k figures): through the matched
# documents' rows, per document and per entry of theirs; or scanning the whole table, per
# document (repeating the mask over each document's entries) and per entry. The cheaper
# is taken: rows up to about 15,000 hits of the gene facet (26 entries a figure), a scan
# from a few thousand of a small facet such as disease.
_ROW_NS, _ROW_ENTRY_NS, _SCAN_DOC_NS, _SCAN_ENTRY_NS = 15, 10, 2, 2
_WORD = re.compile(r"\w+")


class FacetArrays:
    """The values of one facet for every document of an index generation."""

    def __init__(self, name: str, tables: FacetTables) -> None:
        self.name = name
        self.values = tables.values.all()
        self.index = {value.casefold(): ordinal for ordinal, value in enumerate(self.values)}
        self.doc_ptr = tables.doc_ptr
        self.doc_vals = tables.doc_vals
        self.doc_sizes = tables.doc_sizes()
        self.val_docs = tables.val_docs
        self.val_ptr = tables.val_ptr
        self.val_sizes = tables.val_sizes()
        self.totals = tables.totals
        self._folded_words: list[frozenset[str]] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def count(
        self, mask: np.ndarray, matched: int | None = None, docs: np.ndarray | None = None
    ) -> np.ndarray:
        """Number of documents in ``mask`` (bool array over all documents) per value;
        ``docs``, if known, are the documents of ``mask``."""
        if matched is None:
            matched = int(np.count_nonzero(mask))
        if matched == 0 or len(self.doc_vals) == 0:
            return np.zeros(len(self.values), dtype=np.int64)
        entries = len(self.doc_vals)
        through_rows = matched * (_ROW_NS + _ROW_ENTRY_NS * entries / len(mask))
        if through_rows < _SCAN_DOC_NS * len(mask) + _SCAN_ENTRY_NS * entries:
            return self.count_by_rows(mask, docs)
        return self.count_by_scan(mask)

    def count_by_rows(self, mask: np.ndarray, docs: np.ndarray | None = None) -> np.ndarray:
        """:meth:`count` through the rows of the matched documents."""
        docs = np.flatnonzero(mask) if docs is None else docs
        starts = self.doc_ptr[docs]
        sizes = self.doc_ptr[docs + 1] - starts
        total = int(sizes.sum())
        if total == 0:
            return np.zeros(len(self.values), dtype=np.int64)
        # positions of every entry of the matched rows, without a Python loop
        offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
        entries = offsets + np.arange(total)
        return np.bincount(self.doc_vals[entries], minlength=len(self.values))

    def count_by_scan(self, mask: np.ndarray) -> np.ndarray:
        """:meth:`count` by testing every entry's document against the mask."""
        entries = np.repeat(mask, self.doc_sizes)
        return np.bincount(self.doc_vals[entries], minlength=len(self.values))

    def docs(self, ordinal: int) -> np.ndarray:
        """Document numbers carrying value ``ordinal``."""
        return self.val_docs[self.val_ptr[ordinal] : self.val_ptr[ordinal + 1]]

    def mask(self, ordinals: Iterable[int], n_docs: int) -> np.ndarray:
        """Bool array of the documents carrying any of ``ordinals``."""
        result = np.zeros(n_docs, dtype=bool)
        for ordinal in ordinals:
            result[self.docs(ordinal)] = True
        return result

    def lookup(self, value: str) -> int | None:
        return self.index.get(value.strip().casefold())

    def containing_words(self, text: str) -> list[int]:
        """Ordinals of values holding every word of ``text`` ("cancer" -> "breast cancer")."""
        wanted = set(_WORD.findall(text.casefold()))
        if not wanted:
            return []
        if self._folded_words is None:
            self._folded_words = [frozenset(_WORD.findall(v.casefold())) for v in self.values]
        return [i for i, words in enumerate(self._folded_words) if wanted <= words]

    def top(self, counts: np.ndarray, size: int) -> tuple[list[int], bool]:
        """The ``size`` ordinals with most documents (ties by value), and whether more exist."""
        nonzero = np.flatnonzero(counts)
        first = nonzero[smallest_with_ties(-counts[nonzero], size)]
        ranked = sorted(first.tolist(), key=lambda o: (-counts[o], self.values[o].casefold()))
        return ranked[:size], len(nonzero) > size
