"""Facet values held in numpy arrays, counted over a set of matched documents.

Each facet (organism, gene, disease, ...) comes with its index generation as CSR tables
written by the build (``indexer.index.arrays.FacetTables``, memory-mapped): document ->
value ordinals, and its inverse, value -> documents. Values that differ only in case
share one ordinal. Counting the values of a matched set is one ``bincount`` over the
entries of the matched documents.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import numpy as np

from indexer.index.arrays import FacetTables
from server.search.ranks import smallest_with_ties

# What counting costs, in nanoseconds (measured at 100k figures with the serving
# processes' malloc settings): through the matched documents' rows, per document and per
# entry of theirs; or scanning the whole table, per document and per entry. The cheaper
# is taken: rows up to about 45,000 hits of the gene facet (26 entries a figure), a scan
# from about 20,000 of a small facet such as disease.
_ROW_NS, _ROW_ENTRY_NS, _SCAN_DOC_NS, _SCAN_ENTRY_NS = 13, 8, 3, 4
# Entries counted at a time: their int64 positions (512 KB) stay under the 1 MB mmap
# threshold of serving processes (server.web.heap), so each chunk's arrays reuse the
# heap's pages; one mapping for all of them was faulted in afresh by every count (the
# gene facet of 30,000 hits: 8.4 ms at once, 5.7 in chunks).
_CHUNK_ENTRIES = 1 << 16
# Up to this many matched documents, their rows are read one by one: numpy's fixed costs
# of the chunked count (15-30 us a facet) were most of a rare query's facets.
_FEW_DOCS = 32
_WORD = re.compile(r"\w+")


class FacetArrays:
    """The values of one facet for every document of an index generation."""

    def __init__(self, name: str, tables: FacetTables) -> None:
        self.name = name
        self.values = tables.values.all()
        folded = [value.casefold() for value in self.values]
        self.index = {key: ordinal for ordinal, key in enumerate(folded)}
        # each value's place in case-folded order (no two values fold alike): top()
        # breaks ties of counts with it in numpy, not a Python sort of folded strings
        self.folded_rank = np.empty(len(folded), dtype=np.int32)
        self.folded_rank[sorted(range(len(folded)), key=folded.__getitem__)] = np.arange(
            len(folded), dtype=np.int32
        )
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
        if matched <= _FEW_DOCS:
            return self.count_few(np.flatnonzero(mask) if docs is None else docs)
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
        counts = np.zeros(len(self.values), dtype=np.int64)
        for first, last in _chunks(np.cumsum(sizes)):
            chunk_starts, chunk_sizes = starts[first:last], sizes[first:last]
            total = int(chunk_sizes.sum())
            if total:  # positions of every entry of these rows, without a Python loop
                offsets = chunk_starts - np.cumsum(chunk_sizes) + chunk_sizes
                entries = np.repeat(offsets, chunk_sizes) + np.arange(total)
                counts += np.bincount(self.doc_vals[entries], minlength=len(self.values))
        return counts

    def count_few(self, docs: np.ndarray) -> np.ndarray:
        """:meth:`count` of a few documents ``docs``, row by row."""
        ptr, vals = self.doc_ptr, self.doc_vals
        rows = [vals[ptr[d] : ptr[d + 1]] for d in docs.tolist()]
        entries = np.concatenate(rows) if rows else vals[:0]
        return np.bincount(entries, minlength=len(self.values)).astype(np.int64, copy=False)

    def count_by_scan(self, mask: np.ndarray) -> np.ndarray:
        """:meth:`count` by testing every entry's document against the mask."""
        counts = np.zeros(len(self.values), dtype=np.int64)
        for first, last in _chunks(self.doc_ptr[1:]):
            held = np.repeat(mask[first:last], self.doc_sizes[first:last])
            row_vals = self.doc_vals[self.doc_ptr[first] : self.doc_ptr[last]]
            counts += np.bincount(row_vals[held], minlength=len(self.values))
        return counts

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
        ranked = first[np.lexsort((self.folded_rank[first], -counts[first]))]
        return ranked[:size].tolist(), len(nonzero) > size


def _chunks(ends: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) rows of consecutive chunks of about :data:`_CHUNK_ENTRIES` entries
    (at least one row each), ``ends`` being where each row's entries end."""
    if not len(ends):
        return []
    cuts = np.searchsorted(ends, np.arange(_CHUNK_ENTRIES, int(ends[-1]), _CHUNK_ENTRIES))
    bounds = [0, *np.unique(cuts + 1).tolist(), len(ends)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]
