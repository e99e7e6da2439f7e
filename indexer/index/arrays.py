"""The search arrays of a generation: what queries read, decoded once by the build into
numpy files that every serving process memory-maps (so they share one copy in the page
cache), with both halves of the format here: writing and reading.

Whoosh stays the index of record (its terms, stored records and segments); these arrays
are derived by the build from the same postings it writes into Whoosh, versioned with the
schema, and ``tests/test_index_format.py`` checks them against Whoosh's own reading over
every index shape. Layout of ``<generation>/arrays/``::

    postings/<field>.terms.npy     uint8   every term of the field, UTF-8, sorted, joined
    postings/<field>.term_ptr.npy  int64   where each term starts in ``terms`` (n + 1)
    postings/<field>.key8.npy      uint64  each term's first 8 bytes, big-endian: found
                                           with ``searchsorted``, prefixes too
    postings/<field>.post_ptr.npy  int64   where each term's postings start (n + 1)
    postings/<field>.docs.npy      uint16  document numbers, ascending within a term: their
                                           low 16 bits (the document's place in its page
                                           of 65,536); int32, whole, where the pages would
                                           weigh more (about a posting a term: lookups)
    postings/<field>.pages.npy     int64   where each term's postings of each page after
                                           the first start (terms x pages - 1; no file for
                                           an index of one page)
    postings/<field>.tf.npy        uint8   term frequencies (uint16 or 32 if any is larger);
                                           no file where every one is 1 (exact values)
    postings/<field>.pos_ptr.npy   int64   where each term's positions start (n + 1)  } text
    postings/<field>.pos.npy       uint16  each posting's positions, ascending (uint32) }
    docs/<name>.npy                live, years, figid order and rank, the year orders of
                                   searches without text, field lengths
    docs/figids.*                  figids as a string table
    facets/<facet>.*               each facet as CSR tables: document -> value ordinals
                                   (doc_ptr, doc_vals: ordinals in the fewest of 8, 16
                                   or 32 bits) and value -> documents (val_ptr,
                                   val_docs), its values as a string table, totals
    names/spelling.*               stem -> the word shown for it ("muscl" -> "muscle"):
                                   sorted stems (string table, key8), their words
    names/suggest.*                autocomplete's names sorted by folded key, then kind:
                                   keys (string table, key8), texts, kinds (uint8, in
                                   NAME_KINDS), figures (int64), extras (JSON objects)

Document numbers are global over the generation's segments, as Whoosh's reader numbers
them; deleted documents hold no postings, and term statistics count live documents only.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from indexer.index.schema import VALUE_SEPARATOR

ARRAYS_DIR = "arrays"
FORMAT_FILE = "format.json"
# 2: names/ (spellings and autocomplete); 3: no frequencies where all are 1, facet
# ordinals narrowed, no per-entry document and value arrays in facets (np.repeat of each
# row's size makes them, faster than they were read), postings' document numbers in 16
# bits by page: 80 MB less at 100k. (Schema 6 came with format 3: an index of an older
# format is rebuilt, never read.)
FORMAT_VERSION = 3
MISSING_YEAR = 0
_PARTS = ("docs", "facets", "names", "postings")  # the folders of a generation's arrays
_DOC_SHIFT = 32  # a position key is doc << 32 | position
_PAGE_BITS = 16  # postings keep the low 16 bits of a document number, by page of 65,536
# A mapped file holds a file descriptor while it is mapped (Python's mmap keeps its own
# copy), so smaller files are read instead: a generation of 100k figures maps 101 files,
# not 170 (0.6 MB read), and a small one none (the tests' processes hold many generations
# at once; waitress's select() fails past descriptor 1,023).
MAPPED_FROM_BYTES = 64 << 10

Postings = tuple[np.ndarray, np.ndarray]  # (document numbers, ascending; term frequencies)
_EMPTY_DOCS = np.zeros(0, dtype=np.int32)


# -- strings --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # numpy arrays: compare their contents, not tables
class StringTable:
    """Strings as one UTF-8 blob and the offsets of each (``len + 1``)."""

    blob: np.ndarray  # uint8
    ptr: np.ndarray  # int64

    @classmethod
    def of(cls, strings: Sequence[bytes]) -> StringTable:
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        ptr = np.zeros(len(strings) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        return cls(np.frombuffer(b"".join(strings), dtype=np.uint8), ptr)

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def bytes_at(self, i: int) -> bytes:
        return self.blob[self.ptr[i] : self.ptr[i + 1]].tobytes()

    def __getitem__(self, i: int) -> str:
        return self.bytes_at(i).decode("utf-8")

    def all_bytes(self) -> list[bytes]:
        data = self.blob.tobytes()
        ptr = self.ptr.tolist()
        return [data[a:b] for a, b in pairwise(ptr)]

    def all(self) -> list[str]:
        return [b.decode("utf-8") for b in self.all_bytes()]

    def save(self, folder: Path, name: str) -> None:
        _save(folder, f"{name}.strings", self.blob)
        _save(folder, f"{name}.string_ptr", self.ptr)

    @classmethod
    def load(cls, folder: Path, name: str) -> StringTable:
        return cls(_load(folder, f"{name}.strings"), _load(folder, f"{name}.string_ptr"))


def key8(term: bytes) -> np.uint64:
    """A term's first 8 bytes as a big-endian number: the order of the terms' bytes.
    (A numpy scalar: ``searchsorted`` given a Python int takes 20 times longer.)"""
    return np.uint64(int.from_bytes(term[:8].ljust(8, b"\0"), "big"))


def _key8s(terms: Sequence[bytes]) -> np.ndarray:
    padded = b"".join(t[:8].ljust(8, b"\0") for t in terms)
    return np.frombuffer(padded, dtype=">u8").astype(np.uint64)


def find_sorted(strings: StringTable, keys: memoryview, wanted: bytes) -> int | None:
    """The number of ``wanted`` in sorted ``strings`` (``keys`` a view of their key8s,
    kept by the table: making one costs as much as the search), or None. One term is
    looked up by ``bisect``, in C on Python ints: numpy's ``searchsorted`` of one value
    cost twice as much in call overheads (4.2 against 1.9 us at 100k figures), and a
    query looks up dozens of terms."""
    k = int.from_bytes(wanted[:8].ljust(8, b"\0"), "big")
    lo = bisect.bisect_left(keys, k)
    if lo == len(keys) or keys[lo] != k:
        return None
    if strings.bytes_at(lo) == wanted:  # most terms: the first with its 8 bytes
        return lo
    hi = bisect.bisect_right(keys, k, lo)
    while lo < hi:  # strings sharing their first 8 bytes: by the rest
        mid = (lo + hi) // 2
        found = strings.bytes_at(mid)
        if found < wanted:
            lo = mid + 1
        elif found > wanted:
            hi = mid
        else:
            return mid
    return None


def find_many(
    strings: StringTable, keys: np.ndarray, key_view: memoryview, wanted: list[bytes]
) -> list[int | None]:
    """:func:`find_sorted` of each of ``wanted``, in one search of ``keys`` (``key_view``
    the table's native view of them, for strings sharing their first 8 bytes)."""
    if not wanted:
        return []
    keyed = _key8s(wanted)
    starts = np.searchsorted(keys, keyed, "left")
    heads = keys[np.minimum(starts, len(keys) - 1)] if len(keys) else keyed + np.uint64(1)
    found: list[int | None] = []
    for word, lo, same in zip(wanted, starts.tolist(), (heads == keyed).tolist(), strict=True):
        if not same or lo == len(keys):
            found.append(None)
        elif strings.bytes_at(lo) == word:
            found.append(lo)
        else:  # strings sharing their first 8 bytes
            found.append(find_sorted(strings, key_view, word))
    return found


def prefix_range(strings: StringTable, keys: np.ndarray, prefix: bytes) -> tuple[int, int]:
    """The numbers ``lo, hi`` of the sorted ``strings`` starting with ``prefix``."""
    head = prefix[:8]
    low = key8(head)
    high = low | np.uint64((1 << (8 * (8 - len(head)))) - 1) if len(head) < 8 else low
    lo = int(np.searchsorted(keys, low, "left"))
    hi = int(np.searchsorted(keys, high, "right"))
    if len(prefix) <= 8:  # the first 8 bytes decide
        return lo, hi
    lo = _bisect(strings, lo, hi, lambda found: found < prefix)
    return lo, _bisect(strings, lo, hi, lambda found: found[: len(prefix)] == prefix)


def _bisect(strings: StringTable, lo: int, hi: int, before: Any) -> int:
    """The first number in ``lo..hi`` whose string is not ``before`` (true, then false)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if before(strings.bytes_at(mid)):
            lo = mid + 1
        else:
            hi = mid
    return lo


# -- postings -----------------------------------------------------------------------------


@dataclass(eq=False)
class PostingsTable:
    """One field's terms and their postings (and positions, for phrase fields)."""

    terms: StringTable
    post_ptr: np.ndarray
    docs: np.ndarray  # int32; or, with ``pages``, their low 16 bits (uint16)
    tf: np.ndarray
    pos_ptr: np.ndarray | None = None
    pos: np.ndarray | None = None
    key8: np.ndarray | None = None  # the lookup key of each term (written with the table)
    pages: np.ndarray | None = None  # as saved (see the module's docstring), once loaded

    @property
    def has_positions(self) -> bool:
        return self.pos is not None

    def __len__(self) -> int:
        return len(self.terms)

    # -- finding terms

    def find(self, term: str) -> int | None:
        """The number of ``term`` in the table, or None."""
        return find_sorted(self.terms, self._key_view, term.encode("utf-8"))

    def with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` terms starting with ``prefix``, in order."""
        lo, hi = prefix_range(self.terms, self._keys(), prefix.encode("utf-8"))
        return [self.terms[i] for i in range(lo, min(hi, lo + limit))]

    def _keys(self) -> np.ndarray:
        if self.key8 is None:
            self.key8 = _key8s(self.terms.all_bytes())
        return self.key8

    @cached_property
    def _key_view(self) -> memoryview:
        return memoryview(np.ascontiguousarray(self._keys(), dtype=np.uint64))

    # -- reading postings

    def postings(self, term: str) -> Postings:
        i = self.find(term)
        if i is None:
            return _EMPTY_DOCS, np.zeros(0, dtype=np.float32)
        start, end = self.post_ptr[i], self.post_ptr[i + 1]
        return self.term_docs(i), self.tf[start:end].astype(np.float32)

    def term_docs(self, i: int) -> np.ndarray:
        """The document numbers of term number ``i``, ascending (int32; intp once paged)."""
        start, end = int(self.post_ptr[i]), int(self.post_ptr[i + 1])
        if self.pages is None:
            return self.docs[start:end]
        docs = self.docs[start:end].astype(np.intp)  # what indexing with them takes
        for page_start in self.pages[i].tolist():  # ascending: each adds a page to the rest
            if page_start < end:
                docs[page_start - start :] += 1 << _PAGE_BITS
        return docs

    def all_docs(self) -> np.ndarray:
        """Every posting's document number (int32), term after term."""
        if self.pages is None:
            return self.docs
        return _unpaged(self.docs, self.post_ptr, self.pages)

    def unpaged(self) -> PostingsTable:
        """This table with whole document numbers (what merging works on)."""
        if self.pages is None:
            return self
        return dataclasses.replace(self, docs=self.all_docs(), pages=None)

    def doc_frequency(self, term: str) -> int:
        i = self.find(term)
        return 0 if i is None else int(self.post_ptr[i + 1] - self.post_ptr[i])

    def doc_frequencies(self, terms: list[str]) -> list[int]:
        """:meth:`doc_frequency` of each of ``terms``, looked up together."""
        wanted = [t.encode("utf-8") for t in terms]
        found = find_many(self.terms, self._keys(), self._key_view, wanted)
        ptr = self.post_ptr
        return [0 if i is None else int(ptr[i + 1] - ptr[i]) for i in found]

    def positions(self, term: str) -> np.ndarray:
        """Every occurrence of ``term`` as sorted int64 keys ``doc << 32 | position``."""
        i = self.find(term)
        if i is None or self.pos is None or self.pos_ptr is None:
            return np.zeros(0, dtype=np.int64)
        start, end = self.post_ptr[i], self.post_ptr[i + 1]
        docs = self.term_docs(i).astype(np.int64)
        counts = self.tf[start:end].astype(np.int64)
        where = self.pos[self.pos_ptr[i] : self.pos_ptr[i + 1]].astype(np.int64)
        return (np.repeat(docs, counts) << _DOC_SHIFT) | where

    def frequencies(self) -> Iterator[tuple[str, int]]:
        """Every term with the number of documents holding it."""
        counts = np.diff(self.post_ptr).tolist()
        return zip(self.terms.all(), counts, strict=True)

    # -- files

    def save(self, folder: Path, name: str) -> None:
        self.terms.save(folder, name)
        _save(folder, f"{name}.key8", self._keys())
        _save(folder, f"{name}.post_ptr", self.post_ptr)
        low, pages = (self.docs, self.pages) if self.pages is not None else _paged(self)
        if low.nbytes + pages.nbytes >= 4 * len(low):  # about a posting a term: int32
            low, pages = self.all_docs().astype(np.int32), _one_page(len(self))
        _save(folder, f"{name}.docs", low)
        if pages.shape[1]:
            _save(folder, f"{name}.pages", pages)
        if not _all_ones(self.tf):
            _save(folder, f"{name}.tf", self.tf)
        if self.pos is not None and self.pos_ptr is not None:
            _save(folder, f"{name}.pos_ptr", self.pos_ptr)
            _save(folder, f"{name}.pos", self.pos)

    @classmethod
    def load(cls, folder: Path, name: str, frequencies: bool | None = None) -> PostingsTable:
        """``frequencies``: whether the table has its own (else every one is 1); None:
        whether their file is there."""
        positions = (folder / f"{name}.pos.npy").exists()
        if frequencies is None:
            frequencies = (folder / f"{name}.tf.npy").exists()
        docs = _load(folder, f"{name}.docs")
        post_ptr = _load(folder, f"{name}.post_ptr")
        pages = None  # whole document numbers (a table of about a posting a term)
        if docs.dtype == np.uint16:
            paged = (folder / f"{name}.pages.npy").exists()
            pages = _load(folder, f"{name}.pages") if paged else _one_page(len(post_ptr) - 1)
        return cls(
            terms=StringTable.load(folder, name),
            post_ptr=post_ptr,
            docs=docs,
            pages=pages,
            tf=_load(folder, f"{name}.tf") if frequencies else _ones(len(docs)),
            pos_ptr=_load(folder, f"{name}.pos_ptr") if positions else None,
            pos=_load(folder, f"{name}.pos") if positions else None,
            key8=_load(folder, f"{name}.key8") if (folder / f"{name}.key8.npy").exists() else None,
        )


# -- a segment's postings, as the bulk writer pools them ---------------------------------------


class SegmentPostings:
    """Collects one segment's postings as the bulk writer writes them, field by field, and
    each document's facet values, and saves them as tables (with segment-local document
    numbers) for the build to merge."""

    def __init__(self) -> None:
        self.tables: dict[str, PostingsTable] = {}
        self.figids: list[str] = []  # of the segment's documents, in order
        self.facets: dict[str, list[bytes]] = {}  # facet -> each document's values, joined

    def add_document(self, figid: str, facets: dict[str, bytes]) -> None:
        """A document's figid and its values of each facet, tab-joined (UTF-8)."""
        for facet, joined in facets.items():
            values = self.facets.get(facet)
            if values is None:  # a facet first met now: none for the documents before
                values = self.facets[facet] = [b""] * len(self.figids)
            values.append(joined)
        self.figids.append(figid)

    def add_field(
        self,
        name: str,
        terms: list[bytes],
        postings: Sequence[array],
        positions: dict[bytes, array] | None,
    ) -> None:
        """``postings``: each term's ``docnum, frequency, ...`` (unsigned 32-bit: the
        writer's pool), ``positions``: each term's positions, posting after posting."""
        counts = np.fromiter((len(p) // 2 for p in postings), dtype=np.int64, count=len(terms))
        pairs = np.frombuffer(b"".join(postings), dtype=np.uint32).reshape(-1, 2)
        docs = pairs[:, 0].astype(np.int32)
        tf = _narrow(pairs[:, 1])
        table = PostingsTable(StringTable.of(terms), _ptr(counts), docs, tf)
        if positions is not None:
            where = [positions[t] for t in terms]
            lengths = np.fromiter(map(len, where), dtype=np.int64, count=len(where))
            table.pos_ptr = _ptr(lengths)
            joined = array("I")
            for chunk in where:
                joined.extend(chunk)
            table.pos = _narrow(np.frombuffer(joined, dtype=np.uint32).astype(np.int64))
        self.tables[name] = table

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            table.save(folder, name)
        for facet, joined in self.facets.items():
            StringTable.of(joined).save(folder, f"values.{facet}")
        (folder / "figids.txt").write_text("\n".join(self.figids), encoding="utf-8")
        _write_json(folder / "fields.json", sorted(self.tables))
        _write_json(folder / "facets.json", sorted(self.facets))


@dataclass(eq=False)
class PostingsSource:
    """Postings and facet values to merge into a generation: tables (by field) over some
    documents, each document's values of each facet, and where each of those documents is
    in the generation (-1: not there any more)."""

    tables: dict[str, PostingsTable]
    doc_map: np.ndarray
    # facet -> each document's values (None: a source of postings alone)
    values: Callable[[str], Iterator[list[str]]] | None = None

    @classmethod
    def segment(cls, folder: Path, docnum_of: dict[str, int]) -> PostingsSource:
        """A segment saved by :class:`SegmentPostings`, its documents found by figid."""
        figids = (folder / "figids.txt").read_text(encoding="utf-8").split("\n")
        names = json.loads((folder / "fields.json").read_text(encoding="utf-8"))
        facets = set(json.loads((folder / "facets.json").read_text(encoding="utf-8")))
        doc_map = np.array([docnum_of.get(f, -1) for f in figids], dtype=np.int32)

        def values(facet: str) -> Iterator[list[str]]:
            if facet not in facets:
                return iter([[]] * len(figids))
            joined = StringTable.load(folder, f"values.{facet}").all()
            return (v.split(VALUE_SEPARATOR) if v else [] for v in joined)

        return cls({n: PostingsTable.load(folder, n) for n in names}, doc_map, values)

    @classmethod
    def generation(cls, arrays: GenerationArrays, doc_map: np.ndarray) -> PostingsSource:
        """A generation's postings and facet values, ``doc_map`` numbering its documents."""

        def values(facet: str) -> Iterator[list[str]]:
            tables = arrays.facets.get(facet)
            if tables is None:
                return iter([[]] * len(doc_map))
            names, ordinals = tables.values.all(), tables.doc_vals.tolist()
            bounds = tables.doc_ptr.tolist()
            return ([names[o] for o in ordinals[a:b]] for a, b in pairwise(bounds))

        return cls(arrays.postings, doc_map, values)


def merge_facet_values(
    sources: Sequence[PostingsSource], facet: str, n_docs: int
) -> list[list[str]]:
    """Each of the generation's ``n_docs`` documents' values of ``facet``, from the
    sources that hold it (none for a document no source keeps: a deleted one)."""
    merged: list[list[str]] = [[] for _ in range(n_docs)]
    for source in sources:
        if source.values is None:
            continue
        for docnum, values in zip(source.doc_map.tolist(), source.values(facet), strict=True):
            if docnum >= 0:
                merged[docnum] = values
    return merged


def merge_postings(sources: Sequence[PostingsSource], name: str) -> PostingsTable | None:
    """One field's postings of every source in one table over the generation's documents:
    terms in order, each term's documents ascending; documents not kept are left out."""
    parts = [(s.tables[name], s.doc_map) for s in sources if name in s.tables]
    if not parts:
        return None
    kept = [(*_kept(table, doc_map), doc_map) for table, doc_map in parts]
    local_terms = [table.terms.all_bytes() for table, _, _ in kept]
    held = (  # a term only documents not kept held is gone
        term
        for terms, (_, counts, _) in zip(local_terms, kept, strict=True)
        for term, count in zip(terms, counts.tolist(), strict=True)
        if count
    )
    terms = sorted(set(held))
    if not terms:
        return None
    vocab = {term: i for i, term in enumerate(terms)}
    gids = [np.array([vocab.get(t, -1) for t in local], dtype=np.int64) for local in local_terms]
    per_source = []
    total_counts = np.zeros(len(terms), dtype=np.int64)
    for (_table, counts, _), gid in zip(kept, gids, strict=True):
        counts_g = np.zeros(len(terms), dtype=np.int64)
        counts_g[gid[counts > 0]] = counts[counts > 0]
        per_source.append(counts_g)
        total_counts += counts_g
    post_ptr = _ptr(total_counts)
    n = int(post_ptr[-1])
    docs = np.empty(n, dtype=np.int32)
    tf_all = np.empty(n, dtype=np.result_type(*(t.tf.dtype for t, _, _ in kept)))
    dests = []
    before = np.zeros(len(terms), dtype=np.int64)  # postings of earlier sources, per term
    for (table, counts, doc_map), gid, counts_g in zip(kept, gids, per_source, strict=True):
        placed = np.maximum(gid, 0)  # a term of no kept posting goes nowhere
        start = post_ptr[:-1][placed] + before[placed]
        dest = _ranges(start, counts)  # where each of its postings goes
        docs[dest] = doc_map[table.docs]
        tf_all[dest] = table.tf
        dests.append(dest)
        before += counts_g
    merged = PostingsTable(StringTable.of(terms), post_ptr, docs, _narrow(tf_all))
    if all(table.has_positions for table, _, _ in kept):
        _merge_positions(merged, [t for t, _, _ in kept], dests)
    _sort_within_terms(merged)
    return merged


def _kept(table: PostingsTable, doc_map: np.ndarray) -> tuple[PostingsTable, np.ndarray]:
    """``table`` less the postings of documents not kept, and each term's postings left."""
    table = table.unpaged()
    keep = doc_map[table.docs] >= 0
    if keep.all():
        return table, np.diff(table.post_ptr)
    dropped = np.flatnonzero(~keep)  # few: the documents an update replaced or removed
    before = np.searchsorted(dropped, table.post_ptr)  # dropped before each term's first
    kept_ptr = table.post_ptr - before
    smaller = PostingsTable(table.terms, kept_ptr, table.docs[keep], table.tf[keep])
    if table.pos is not None:
        first = _offsets(table.tf)[dropped]  # each dropped posting's first position
        smaller.pos = np.delete(table.pos, _ranges(first, table.tf[dropped]))
        smaller.pos_ptr = table.pos_ptr - _ptr(table.tf[dropped])[before]
    return smaller, np.diff(kept_ptr)


def _merge_positions(
    merged: PostingsTable, tables: Sequence[PostingsTable], dests: Sequence[np.ndarray]
) -> None:
    starts = _offsets(merged.tf)  # each merged posting's first position
    pos = np.empty(int(starts[-1]), dtype=np.result_type(*(t.pos.dtype for t in tables)))
    for table, dest in zip(tables, dests, strict=True):
        pos[_ranges(starts[dest], table.tf)] = table.pos
    # each term's positions start at its first posting's
    merged.pos_ptr = starts[merged.post_ptr].astype(np.int64)
    merged.pos = _narrow(pos)


def _sort_within_terms(table: PostingsTable) -> None:
    """Documents ascending within each term (sources remapped by figid may interleave)."""
    docs, ptr = table.docs, table.post_ptr
    falls = np.flatnonzero(docs[1:] <= docs[:-1]) + 1  # where the next is not greater
    if np.isin(falls, ptr).all():  # only where a term starts
        return
    counts = np.diff(ptr)
    term_of = np.repeat(np.arange(len(counts), dtype=_index_type(len(counts))), counts)
    order = np.lexsort((docs, term_of))
    if table.pos is not None:
        starts = _offsets(table.tf)
        table.pos = table.pos[_ranges(starts[order], table.tf[order])]
    table.docs = docs[order]
    table.tf = table.tf[order]


def _one_page(terms: int) -> np.ndarray:
    """The page starts of ``terms`` terms in an index of one page: none."""
    return np.zeros((terms, 0), dtype=np.int64)


def _paged(table: PostingsTable) -> tuple[np.ndarray, np.ndarray]:
    """``table``'s document numbers as their low 16 bits, and where each term's postings
    of each page after the first start (its documents ascend: so do their pages)."""
    docs, ptr = table.docs, table.post_ptr
    pages = (int(docs.max()) >> _PAGE_BITS) + 1 if len(docs) else 1
    starts = np.empty((len(ptr) - 1, pages - 1), dtype=np.int64)
    for page in range(1, pages):
        below = np.zeros(len(docs) + 1, dtype=_index_type(len(docs)))
        np.cumsum(docs < (page << _PAGE_BITS), out=below[1:])
        starts[:, page - 1] = ptr[:-1] + (below[ptr[1:]] - below[ptr[:-1]])
    return (docs & 0xFFFF).astype(np.uint16), starts


def _unpaged(low: np.ndarray, ptr: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """Whole document numbers from :func:`_paged`'s: each posting's page is the number of
    its term's page starts at or before it."""
    if not pages.shape[1]:
        return low.astype(np.int32)
    step = np.zeros(len(low) + 1, dtype=np.int32)
    np.add.at(step, pages.ravel(), 1)
    np.subtract.at(step, ptr[1:], pages.shape[1])  # back to page 0 where the next term starts
    page = np.cumsum(step[:-1], dtype=np.int32)
    return low.astype(np.int32) + (page << _PAGE_BITS)


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of ``counts`` things starts, and their end: prefix
    sums in the smallest index type that holds them (halves the merge's peak)."""
    out = np.zeros(len(counts) + 1, dtype=_index_type(int(counts.sum(dtype=np.int64))))
    np.cumsum(counts, dtype=out.dtype, out=out[1:])
    return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indexes of the runs ``starts[i] .. starts[i] + lengths[i]``, one after another
    (built in place, by prefix sums of steps: one array of the result's size)."""
    runs = lengths > 0
    if not runs.all():
        starts, lengths = starts[runs], lengths[runs]
    if not len(lengths):
        return np.zeros(0, dtype=np.int64)
    firsts = _offsets(lengths)
    total, largest = int(firsts[-1]), int(starts.max()) + int(lengths.max())
    index = np.ones(total, dtype=_index_type(max(total, largest)))
    steps = starts.astype(index.dtype)  # each run's first: a jump from the last run's end
    ends = lengths.astype(index.dtype)
    ends += starts
    ends -= 1
    steps[1:] -= ends[:-1]
    del ends
    index[firsts[:-1]] = steps
    np.cumsum(index, out=index)
    return index


# -- documents ----------------------------------------------------------------------------


def _once_per_document(ordinals: np.ndarray, doc_ptr: np.ndarray) -> np.ndarray:
    """A mask of the entries that are a document's first of their value (lists of a value
    twice are rare: only their documents are looked at one by one)."""
    once = np.ones(len(ordinals), dtype=bool)
    listed = ordinals.tolist()
    bounds = doc_ptr.tolist()
    for start, end in pairwise(bounds):
        if end - start > 1 and len(set(listed[start:end])) < end - start:
            seen: set[int] = set()
            for i in range(start, end):
                once[i] = listed[i] not in seen
                seen.add(listed[i])
    return once


@dataclass(eq=False)
class FacetTables:
    """One facet's values for every document: CSR both ways (values case-folded alike,
    each once per document)."""

    values: StringTable
    doc_ptr: np.ndarray  # int64, per document
    doc_vals: np.ndarray  # value ordinals of each document's entries (``_narrow``)
    val_ptr: np.ndarray  # int64, per value
    val_docs: np.ndarray  # int32, the documents of each value
    totals: np.ndarray  # int64, live documents per value

    NAMES = ("doc_ptr", "doc_vals", "val_ptr", "val_docs", "totals")

    def doc_sizes(self) -> np.ndarray:
        """Each document's number of entries: ``np.repeat(mask, doc_sizes())`` marks the
        entries of ``doc_vals`` whose document is in ``mask``."""
        return _narrow(np.diff(self.doc_ptr))

    def val_sizes(self) -> np.ndarray:
        """Each value's number of documents (``np.repeat`` over ``val_docs``)."""
        return _narrow(np.diff(self.val_ptr))

    @classmethod
    def of(cls, per_doc: Iterable[Sequence[str]], live: np.ndarray) -> FacetTables:
        """The tables of each document's values (read one document at a time: only the
        distinct values are kept as strings); a value a document lists twice (in two
        cases: ``Akt1`` and ``AKT1``) is one entry, so counts are of documents."""
        index: dict[str, int] = {}  # case-folded value -> ordinal, in order of first use
        values: list[str] = []  # each as first written
        ordinals, listed = array("i"), array("q")
        for doc_values in per_doc:
            listed.append(len(doc_values))
            for value in doc_values:
                key = value.casefold()
                ordinal = index.get(key)
                if ordinal is None:
                    ordinal = index[key] = len(values)
                    values.append(value)
                ordinals.append(ordinal)
        doc_ptr = _ptr(np.frombuffer(listed, dtype=np.int64))
        once = _once_per_document(np.frombuffer(ordinals, dtype=np.int32), doc_ptr)
        doc_vals = np.frombuffer(ordinals, dtype=np.int32)[once]
        entry_doc = np.repeat(np.arange(len(listed), dtype=np.int32), np.diff(doc_ptr))[once]
        lengths = np.bincount(entry_doc, minlength=len(live)).astype(np.int64)
        order = np.argsort(doc_vals, kind="stable")
        counts = np.bincount(doc_vals, minlength=len(values)).astype(np.int64)
        live_counts = np.bincount(doc_vals[live[entry_doc]], minlength=len(values))
        return cls(
            values=StringTable.of([v.encode("utf-8") for v in values]),
            doc_ptr=_ptr(lengths),
            doc_vals=_narrow(doc_vals),
            val_ptr=_ptr(counts),
            val_docs=entry_doc[order],
            totals=live_counts.astype(np.int64),
        )

    def save(self, folder: Path, name: str) -> None:
        self.values.save(folder, name)
        for part in self.NAMES:
            _save(folder, f"{name}.{part}", getattr(self, part))

    @classmethod
    def load(cls, folder: Path, name: str) -> FacetTables:
        parts = {part: _load(folder, f"{name}.{part}") for part in cls.NAMES}
        return cls(values=StringTable.load(folder, name), **parts)


@dataclass(eq=False)
class DocumentTables:
    """What every search needs of each document, in document order."""

    live: np.ndarray  # bool
    years: np.ndarray  # int32 (MISSING_YEAR when none)
    figids: StringTable
    figid_order: np.ndarray  # int32: documents by figid (live ones only), for lookups
    figid_rank: np.ndarray  # int32: each document's place in figid order
    newest_first: np.ndarray  # the order of searches without text, by year
    oldest_first: np.ndarray
    lengths: dict[str, np.ndarray] = field(default_factory=dict)  # float32 per field
    average_lengths: dict[str, float] = field(default_factory=dict)  # over live documents

    NAMES = ("live", "years", "figid_order", "figid_rank", "newest_first", "oldest_first")

    @classmethod
    def of(
        cls,
        live: np.ndarray,
        years: np.ndarray,
        figids: list[str],
        lengths: dict[str, np.ndarray],
    ) -> DocumentTables:
        rank = np.empty(len(figids), dtype=np.int32)
        by_figid = sorted(range(len(figids)), key=figids.__getitem__)
        rank[by_figid] = np.arange(len(figids), dtype=np.int32)
        known = np.where(years == MISSING_YEAR, 10_000, years)
        live_count = max(int(live.sum()), 1)
        return cls(
            live=live,
            years=years.astype(np.int32),
            figids=StringTable.of([f.encode("utf-8") for f in figids]),
            figid_order=np.array([d for d in by_figid if live[d]], dtype=np.int32),
            figid_rank=rank,
            newest_first=np.lexsort((rank, -years)).astype(np.int32),
            oldest_first=np.lexsort((rank, known)).astype(np.int32),
            lengths={name: values.astype(np.float32) for name, values in lengths.items()},
            # summed exactly as integers: a float sum would depend on document order
            average_lengths={
                name: (int(values[live].astype(np.int64).sum()) / live_count) or 1.0
                for name, values in lengths.items()
            },
        )

    def docnum_of(self, figid: str) -> int | None:
        """The live document of a figid (exact), or None."""
        wanted = figid.encode("utf-8")
        order, figids = self.figid_order, self.figids
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            found = figids.bytes_at(int(order[mid]))
            if found < wanted:
                lo = mid + 1
            elif found > wanted:
                hi = mid
            else:
                return int(order[mid])
        return None

    def save(self, folder: Path) -> None:
        for part in self.NAMES:
            _save(folder, part, getattr(self, part))
        self.figids.save(folder, "figids")
        for name, values in self.lengths.items():
            _save(folder, f"length.{name}", values)
        _write_json(folder / "average_lengths.json", self.average_lengths)

    @classmethod
    def load(cls, folder: Path) -> DocumentTables:
        averages = json.loads((folder / "average_lengths.json").read_text(encoding="utf-8"))
        return cls(
            figids=StringTable.load(folder, "figids"),
            lengths={name: _load(folder, f"length.{name}") for name in averages},
            average_lengths=averages,
            **{part: _load(folder, part) for part in cls.NAMES},
        )


# -- names: spellings and autocomplete ----------------------------------------------------

# The kinds of autocomplete's names, stored as their number: equal counts rank in this order.
NAME_KINDS = ("gene", "alias", "organism", "disease", "word")


@dataclass(eq=False)
class SpellingTable:
    """Stem -> the word people are shown for it ("muscl" -> "muscle"), by its stem."""

    stems: StringTable  # sorted
    key8: np.ndarray
    words: StringTable

    @classmethod
    def of(cls, surface: dict[str, str]) -> SpellingTable:
        pairs = sorted(
            (stem.encode("utf-8"), word.encode("utf-8")) for stem, word in surface.items()
        )
        stems = [stem for stem, _ in pairs]
        return cls(StringTable.of(stems), _key8s(stems), StringTable.of([w for _, w in pairs]))

    def __len__(self) -> int:
        return len(self.stems)

    @cached_property
    def _key_view(self) -> memoryview:
        return memoryview(np.ascontiguousarray(self.key8, dtype=np.uint64))

    def get(self, stem: str, default: str | None = None) -> str | None:
        i = find_sorted(self.stems, self._key_view, stem.encode("utf-8"))
        return default if i is None else self.words[i]

    def save(self, folder: Path, name: str) -> None:
        self.stems.save(folder, f"{name}.stems")
        _save(folder, f"{name}.key8", self.key8)
        self.words.save(folder, f"{name}.words")

    @classmethod
    def load(cls, folder: Path, name: str) -> SpellingTable:
        return cls(
            StringTable.load(folder, f"{name}.stems"),
            _load(folder, f"{name}.key8"),
            StringTable.load(folder, f"{name}.words"),
        )


@dataclass(frozen=True, slots=True)
class Name:
    """One name autocomplete offers: ``key`` is how it is looked up (folded), ``extra``
    what its suggestion carries besides (a gene's Entrez ID, an alias's symbols)."""

    key: str
    kind: str  # one of NAME_KINDS
    text: str
    figures: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class NameTable:
    """Autocomplete's names, sorted by key, then kind (in the order of ``NAME_KINDS``)."""

    keys: StringTable
    key8: np.ndarray
    texts: StringTable
    kinds: np.ndarray  # uint8: a number in NAME_KINDS
    figures: np.ndarray  # int64
    extras: StringTable  # a JSON object each

    NAMES = ("key8", "kinds", "figures")

    @classmethod
    def of(cls, names: Iterable[Name]) -> NameTable:
        rows = sorted(names, key=lambda n: (n.key.encode("utf-8"), NAME_KINDS.index(n.kind)))
        keys = [n.key.encode("utf-8") for n in rows]
        extras = [json.dumps(n.extra, ensure_ascii=False).encode("utf-8") for n in rows]
        return cls(
            keys=StringTable.of(keys),
            key8=_key8s(keys),
            texts=StringTable.of([n.text.encode("utf-8") for n in rows]),
            kinds=np.array([NAME_KINDS.index(n.kind) for n in rows], dtype=np.uint8),
            figures=np.array([n.figures for n in rows], dtype=np.int64),
            extras=StringTable.of(extras),
        )

    def __len__(self) -> int:
        return len(self.keys)

    def starting_with(self, prefix: str) -> tuple[int, int]:
        """The rows ``lo, hi`` whose key starts with ``prefix`` (a folded key)."""
        return prefix_range(self.keys, self.key8, prefix.encode("utf-8"))

    def row(self, i: int) -> Name:
        return Name(
            key=self.keys[i],
            kind=NAME_KINDS[int(self.kinds[i])],
            text=self.texts[i],
            figures=int(self.figures[i]),
            extra=json.loads(self.extras.bytes_at(i)),
        )

    def save(self, folder: Path, name: str) -> None:
        for part, table in (("keys", self.keys), ("texts", self.texts), ("extras", self.extras)):
            table.save(folder, f"{name}.{part}")
        for part in self.NAMES:
            _save(folder, f"{name}.{part}", getattr(self, part))

    @classmethod
    def load(cls, folder: Path, name: str) -> NameTable:
        tables = {
            part: StringTable.load(folder, f"{name}.{part}") for part in ("keys", "texts", "extras")
        }
        return cls(**tables, **{part: _load(folder, f"{name}.{part}") for part in cls.NAMES})


# -- a generation's arrays --------------------------------------------------------------


@dataclass(eq=False)
class GenerationArrays:
    """Every array of one generation, memory-mapped read-only."""

    documents: DocumentTables
    facets: dict[str, FacetTables]
    postings: dict[str, PostingsTable]
    spelling: SpellingTable
    suggest: NameTable

    @classmethod
    def load(cls, generation: Path) -> GenerationArrays:
        root = generation / ARRAYS_DIR
        described = json.loads((root / FORMAT_FILE).read_text(encoding="utf-8"))
        if described.get("format") != FORMAT_VERSION:
            raise ValueError(f"arrays of format {described.get('format')}, not {FORMAT_VERSION}")
        files = described["files"]
        for name, size in files.items():
            found = (root / name).stat().st_size
            if found != size:
                raise ValueError(f"{ARRAYS_DIR}/{name} holds {found:,} bytes, not {size:,}")
        return cls(
            documents=DocumentTables.load(root / "docs"),
            facets={name: FacetTables.load(root / "facets", name) for name in described["facets"]},
            postings={  # the files written are listed: a frequencies file lost is an error
                name: PostingsTable.load(
                    root / "postings", name, frequencies=f"postings/{name}.tf.npy" in files
                )
                for name in described["postings"]
            },
            spelling=SpellingTable.load(root / "names", "spelling"),
            suggest=NameTable.load(root / "names", "suggest"),
        )


class ArraysWriter:
    """Saves a generation's arrays one table at a time (so a build need not hold them all),
    then describes them: :meth:`finish` writes the format file that makes them loadable."""

    def __init__(self, generation: Path, documents: DocumentTables) -> None:
        self.root = generation / ARRAYS_DIR
        for sub in _PARTS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        documents.save(self.root / "docs")
        self.facets: list[str] = []
        self.postings: list[str] = []
        self.named = False

    def add_facet(self, name: str, facet: FacetTables) -> None:
        facet.save(self.root / "facets", name)
        self.facets.append(name)

    def add_postings(self, name: str, table: PostingsTable) -> None:
        table.save(self.root / "postings", name)
        self.postings.append(name)

    def add_names(self, spelling: SpellingTable, suggest: NameTable) -> None:
        spelling.save(self.root / "names", "spelling")
        suggest.save(self.root / "names", "suggest")
        self.named = True

    def finish(self) -> None:
        if not self.named:
            raise ValueError("a generation's arrays are not complete without its names")
        files = {
            str(path.relative_to(self.root)): path.stat().st_size
            for sub in _PARTS
            for path in sorted((self.root / sub).glob("*.npy"))
        }
        _write_json(
            self.root / FORMAT_FILE,
            {
                "format": FORMAT_VERSION,
                "facets": sorted(self.facets),
                "postings": sorted(self.postings),
                "files": files,  # their sizes: a file cut short is found when loading
            },
        )


# -- files --------------------------------------------------------------------------------


def _save(folder: Path, name: str, values: np.ndarray) -> None:
    np.save(folder / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)


def _load(folder: Path, name: str) -> np.ndarray:
    """A file as a read-only array: memory-mapped, as a plain array (numpy's memmap
    subclass costs tens of microseconds on every slice, which queries take by the
    hundred), or read if smaller than ``MAPPED_FROM_BYTES``."""
    path = folder / f"{name}.npy"
    if path.stat().st_size < MAPPED_FROM_BYTES:
        values = np.load(path, allow_pickle=False)
        values.flags.writeable = False
        return values
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    return mapped.view(np.ndarray)  # still the mapping (its base), without the subclass


def _write_json(path: Path, data: Any) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temp, path)


def _ptr(counts: np.ndarray | Iterable[int]) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def _index_type(size: int) -> type[np.signedinteger]:
    """The smaller integer type able to number ``size`` things (halves the merge's peak)."""
    return np.int32 if size < np.iinfo(np.int32).max else np.int64


def _all_ones(values: np.ndarray) -> bool:
    return bool(len(values)) and bool((values == 1).all())


def _ones(n: int) -> np.ndarray:
    """``n`` term frequencies of 1, read-only, in no memory (one value, repeated)."""
    return np.broadcast_to(np.ones(1, dtype=np.uint8), (n,))


def _narrow(values: np.ndarray) -> np.ndarray:
    """Non-negative whole numbers in the fewest of 8, 16 or 32 bits that hold them all."""
    largest = int(values.max()) if len(values) else 0
    for kind in (np.uint8, np.uint16):
        if largest <= np.iinfo(kind).max:
            return values.astype(kind)
    return values.astype(np.uint32)
