"""Read one published index generation: the reading half of the index format.

:class:`GenerationReader` is the one place outside the writer that knows how the index
is laid out on disk, Whoosh's private structures included (column offsets, postings
blocks, length bytes); ``tests/test_index_format.py`` pins the Whoosh internals it uses.
What it offers is plain data: document numbers global over the generation's segments,
``live`` (a bool mask of documents not deleted), figids, years and facet values as
arrays or lists, per-term postings as numpy arrays, and the stored records.

Everything about terms (postings, document frequencies, the terms a prefix or a fuzzy
match finds, average field lengths) counts live documents only, so an index that an
update left with deleted documents reads, and scores, exactly as a fresh build of the
same records.

Postings are read a whole block at a time (ids and term frequencies decoded with numpy,
never one posting per Python step) and cached per term; so are a text term's positions,
as sorted keys ``doc << 32 | position`` that phrases are matched with. Whoosh file objects seek, so
every read of them holds ``self._lock``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from pickle import loads
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from indexer.index import schema
from indexer.index.store import LEXICON_FILE, VOCABULARY_FILE, IndexError_, check_compatible
from indexer.lexicon import GeneLexicon
from indexer.vocabulary import Vocabulary

MISSING_YEAR = 0
_POSTINGS_CACHE_SIZE = 4096
# Position keys kept for phrases, 8 bytes an occurrence: "pathway" at 100k figures, 2 MB.
_POSITIONS_CACHE_BYTES = 64 << 20
_DOC_SHIFT = 32  # a position key is doc << 32 | position
_POSITION_MASK = (1 << _DOC_SHIFT) - 1
# The pickle opcodes of a protocol-2 list of ints, as Positions.encode writes them.
_LIST_HEAD = b"\x80\x02]q\x00"  # protocol 2, empty list, memoised as 0
_MARK, _APPENDS, _APPEND, _STOP = b"(ea."
_BININT1, _BININT2, _BININT = b"KMJ"
_INT_SIZES = np.zeros(256, dtype=np.int64)
_INT_SIZES[[_BININT1, _BININT2, _BININT]] = (1, 2, 4)
_LENGTH_TABLE = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)

Postings = tuple[np.ndarray, np.ndarray]  # (document numbers int32, term frequencies float32)
_EMPTY: Postings = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class UnreadableGeneration(IndexError_):
    """A file of an index generation cannot be read: the message names the file."""


@contextlib.contextmanager
def reading(generation: Path, what: str) -> Iterator[None]:
    """Turn any failure to read ``what`` into an error naming the generation and file."""
    try:
        yield
    except IndexError_:
        raise
    except Exception as exc:
        raise UnreadableGeneration(
            f"{generation}: cannot read {what} ({type(exc).__name__}: {exc}); "
            "the generation is damaged: rebuild it with `pfocr build`"
        ) from exc


class GenerationReader:
    """Everything stored in one published index generation, read once where it is small."""

    def __init__(self, generation: Path) -> None:
        self.path = generation
        self.meta = check_compatible(generation)
        self.version = str(self.meta.get("generation") or generation.name)
        with reading(generation, LEXICON_FILE):
            self.lexicon = GeneLexicon.load(generation / LEXICON_FILE)
        with reading(generation, VOCABULARY_FILE):
            self.spelling = Vocabulary.load_surface(generation / VOCABULARY_FILE)  # stem -> word
        self._lock = threading.RLock()
        with reading(generation, "the Whoosh table of contents and segments"):
            self._ix = whoosh_index.open_dir(str(generation))
            self._reader = self._ix.reader()
        # A replaced generation is closed when its last in-flight request lets go of it.
        # Not in __del__: when the reader is cyclic garbage (held by a Flask app, say), the
        # collector may finalize Whoosh's open files first; weakref callbacks run before.
        self._closer = weakref.finalize(self, _close_quietly, self._reader)
        self._records: Any = None  # the record column's reader, opened on first use
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._postings: OrderedDict[tuple[str, str], Postings] = OrderedDict()
        self._positions: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._positions_bytes = 0
        with self.closed_on_error():
            self._read_documents()

    @contextlib.contextmanager
    def closed_on_error(self) -> Iterator[None]:
        """Close the files at once if loading fails, rather than when collected."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def _read_documents(self) -> None:
        """Segments, deletions, figids and years: what every search needs."""
        self.leaves: list[tuple[Any, int]] = list(self._reader.leaf_readers())
        self.n_docs = self._reader.doc_count_all()
        self.live = np.ones(self.n_docs, dtype=bool)
        for leaf, offset in self.leaves:
            if leaf.has_deletions():
                self.live[[offset + d for d in _deleted_docs(leaf)]] = False
        self.documents = int(self.live.sum())
        self.has_deletions = self.documents < self.n_docs
        self.figids = [b.decode("utf-8") for b in self._column_bytes(schema.FIGID)]
        self.years = self._numeric_column(schema.YEAR).astype(np.int32)
        self.years[self.years == 65535] = MISSING_YEAR

    # -- columns ------------------------------------------------------------------------

    def _column_file(self, leaf: Any, field: str) -> str:
        return W3Codec.column_filename(leaf.segment(), field)

    def _column_bytes(self, field: str) -> list[bytes]:
        out: list[bytes] = []
        for leaf, _ in self.leaves:
            with reading(self.path, self._column_file(leaf, field)):
                out.extend(self._leaf_column_bytes(leaf, field))
        return out

    @staticmethod
    def _leaf_column_bytes(leaf: Any, field: str) -> list[bytes]:
        n = leaf.doc_count_all()
        if not leaf.has_column(field):
            return [b""] * n
        col = leaf.column_reader(field, translate=False)
        offsets, lengths = getattr(col, "_offsets", None), getattr(col, "_lengths", None)
        if offsets is None or lengths is None:  # another column type: one read per doc
            return [col[i] for i in range(n)]
        blob = col._dbfile.get(col._basepos, (offsets[-1] + lengths[-1]) if n else 0)
        return [blob[o : o + w] for o, w in zip(offsets, lengths, strict=True)]

    def _numeric_column(self, field: str, column: Any = None) -> np.ndarray:
        parts = []
        for leaf, _ in self.leaves:
            with reading(self.path, self._column_file(leaf, field)):
                parts.append(self._leaf_numeric_column(leaf, field, column))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    @staticmethod
    def _leaf_numeric_column(leaf: Any, field: str, column: Any) -> np.ndarray:
        n = leaf.doc_count_all()
        if column is None:
            col = leaf.column_reader(field, translate=False) if leaf.has_column(field) else None
        else:  # lengths: the reader Whoosh itself caches for the segment
            col = leaf._perdoc._cached_reader(field, column)
        if col is None:
            return np.zeros(n, dtype=np.int64)
        dtype = np.dtype(">" + col._typecode)
        raw = np.frombuffer(col._dbfile.get(col._basepos, col._count * col._fixedlen), dtype)
        values = np.full(n, col._default, dtype=np.int64)
        values[: len(raw)] = raw[:n]
        return values

    def facet_values(self, facet: str) -> list[list[str]]:
        """The display values of ``facet`` for every document (deleted ones included)."""
        sep = schema.VALUE_SEPARATOR
        return [
            b.decode("utf-8").split(sep) if b else []
            for b in self._column_bytes(schema.facet_column(facet))
        ]

    def field_lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Per-document length of ``field`` (float32) and its average over live documents.

        The average is taken over the stored (byte-quantised) lengths, summed exactly as
        integers: Whoosh's per-segment totals count deleted documents, and a float sum
        would depend on the order of the documents."""
        with self._lock:
            if field not in self._lengths:
                codes = self._numeric_column(f"_{field}_len", LENGTHS_COLUMN)
                lengths = _LENGTH_TABLE[codes.astype(np.uint8)]
                total = int(lengths[self.live].sum())
                average = total / max(self.documents, 1) or 1.0
                self._lengths[field] = (lengths.astype(np.float32), float(average))
            return self._lengths[field]

    # -- postings -----------------------------------------------------------------------

    def postings(self, field: str, term: str) -> Postings:
        """Document numbers (sorted, global) and term frequencies of one term."""
        key = (field, term)
        with self._lock:
            cached = self._postings.get(key)
            if cached is not None:
                self._postings.move_to_end(key)
                return cached
            parts = [self._live_postings(leaf, offset, field, term) for leaf, offset in self.leaves]
            parts = [p for p in parts if len(p[0])]
            if not parts:
                result = _EMPTY
            elif len(parts) == 1:
                result = parts[0]
            else:
                result = (
                    np.concatenate([p[0] for p in parts]),
                    np.concatenate([p[1] for p in parts]),
                )
            self._postings[key] = result
            if len(self._postings) > _POSTINGS_CACHE_SIZE:
                self._postings.popitem(last=False)
            return result

    def _live_postings(self, leaf: Any, offset: int, field: str, term: str) -> Postings:
        """One segment's postings of a term, its deleted documents left out."""
        # Postings are read on demand, long after loading: a damaged file shows up here.
        with reading(self.path, f"the postings of {field}:{term} in {leaf.segment().segment_id()}"):
            ids, weights = self._leaf_postings(leaf, offset, field, term)
        if leaf.has_deletions() and len(ids):
            keep = self.live[ids]
            ids, weights = ids[keep], weights[keep]
        return ids, weights

    @staticmethod
    def _leaf_postings(leaf: Any, offset: int, field: str, term: str) -> Postings:
        """One segment's postings of a term as stored (deleted documents included)."""
        try:
            matcher = leaf.postings(field, term)
        except TermNotFound:
            return _EMPTY
        if isinstance(matcher, FilterMatcher):  # Whoosh's filter of deleted documents:
            matcher = matcher.child  # read the blocks whole; the caller drops deleted ones
        if not isinstance(matcher, W3LeafMatcher):  # inlined postings: tiny lists
            ids, weights = [], []
            while matcher.is_active():
                ids.append(matcher.id())
                weights.append(matcher.weight())
                matcher.next()
            return (np.asarray(ids, dtype=np.int32) + offset, np.asarray(weights, dtype=np.float32))
        id_parts, weight_parts = [], []
        while True:
            data = matcher._postfile.get(
                matcher._dataoffset, matcher._nextoffset - matcher._dataoffset
            )
            if matcher._compression:
                data = zlib.decompress(data)
            deltas, weights, _values = loads(data)
            ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
            id_parts.append(ids)
            if weights is None:
                weight_parts.append(np.ones(len(ids), dtype=np.float32))
            elif isinstance(weights, float):
                weight_parts.append(np.full(len(ids), weights, dtype=np.float32))
            else:
                weight_parts.append(np.asarray(weights, dtype=np.float32))
            if matcher._lastblock:
                break
            matcher._goto(matcher._nextoffset)
        ids = np.concatenate(id_parts).astype(np.int32) + offset
        return ids, np.concatenate(weight_parts)

    def doc_frequency(self, field: str, term: str) -> int:
        """Number of live documents holding ``term`` in ``field``."""
        with self._lock:
            return sum(
                self._leaf_frequency(leaf, offset, field, term) for leaf, offset in self.leaves
            )

    def _leaf_frequency(self, leaf: Any, offset: int, field: str, term: str | bytes) -> int:
        if not leaf.has_deletions():
            return leaf.doc_frequency(field, term)
        return len(self._live_postings(leaf, offset, field, _text(term))[0])

    def _live_terms(self, field: str, terms: Iterator[str | bytes]) -> Iterator[str]:
        """``terms`` (as text) less those held only by deleted documents."""
        for term in terms:
            text = _text(term)
            if not self.has_deletions or self.doc_frequency(field, text):
                yield text

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` indexed terms of ``field`` starting with ``prefix``, in order."""
        with self._lock:
            found: set[str] = set()
            for leaf, _ in self.leaves:  # each segment's terms come sorted: its first suffice
                live = self._live_terms(field, leaf.expand_prefix(field, prefix))
                found.update(itertools.islice(live, limit))
            return sorted(found)[:limit]

    def iter_terms(self, field: str) -> Iterator[tuple[str, int]]:
        """Every term of ``field`` held by live documents, with their number."""
        with self._lock:
            counts: dict[str, int] = {}
            for leaf, offset in self.leaves:
                for tbytes, info in leaf.iter_field(field):
                    text = _text(tbytes)
                    if leaf.has_deletions():
                        frequency = self._leaf_frequency(leaf, offset, field, text)
                    else:
                        frequency = info.doc_frequency()
                    counts[text] = counts.get(text, 0) + frequency
        yield from ((term, count) for term, count in counts.items() if count)

    def terms_within(self, field: str, text: str, maxdist: int, prefix: int = 1) -> list[str]:
        """Indexed terms of ``field`` within ``maxdist`` edits of ``text`` that share its
        first ``prefix`` letters (each more letter makes the search many times cheaper)."""
        with self._lock:
            found: set[str] = set()
            for leaf, _ in self.leaves:
                found.update(leaf.terms_within(field, text, maxdist, prefix=prefix))
            return sorted(self._live_terms(field, iter(found)))

    # -- positions and phrases ---------------------------------------------------------

    def positions(self, field: str, term: str) -> np.ndarray:
        """Every live occurrence of ``term`` as sorted int64 keys ``doc << 32 | position``."""
        key = (field, term)
        with self._lock:
            cached = self._positions.get(key)
            if cached is not None:
                self._positions.move_to_end(key)
                return cached
            parts = [
                self._live_positions(leaf, offset, field, term) for leaf, offset in self.leaves
            ]
            keys = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            self._keep_positions(key, keys)
            return keys

    def _keep_positions(self, key: tuple[str, str], keys: np.ndarray) -> None:
        """Cache ``keys``, dropping the least recently used past the memory bound."""
        keys.flags.writeable = False  # shared by every phrase that reads them
        self._positions[key] = keys
        self._positions_bytes += keys.nbytes
        while self._positions_bytes > _POSITIONS_CACHE_BYTES and len(self._positions) > 1:
            _, dropped = self._positions.popitem(last=False)
            self._positions_bytes -= dropped.nbytes

    def _live_positions(self, leaf: Any, offset: int, field: str, term: str) -> np.ndarray:
        """One segment's position keys of a term, its deleted documents left out."""
        segment = leaf.segment().segment_id()
        with reading(self.path, f"the positions of {field}:{term} in {segment}"):
            keys = _leaf_positions(leaf, offset, field, term)
        if leaf.has_deletions() and len(keys):
            keys = keys[self.live[keys >> _DOC_SHIFT]]
        return keys

    def phrase_docs(self, field: str, words: Sequence[str], candidates: np.ndarray) -> np.ndarray:
        """Bool mask of documents (among ``candidates``) where ``words`` occur in sequence.

        Exactly what Whoosh's ``Phrase`` matcher (slop 1) finds: word ``i`` at position
        ``p + i`` for some ``p``. Each word's keys less ``i`` are the phrase starts it
        allows; the starts all words allow are intersected, rarest word first."""
        result = np.zeros(self.n_docs, dtype=bool)
        if not words or not candidates.any():
            return result
        by_rarity = sorted(enumerate(words), key=lambda item: len(self.positions(field, item[1])))
        starts: np.ndarray | None = None
        for index, word in by_rarity:
            keys = _phrase_starts(self.positions(field, word), index)
            if starts is None:
                starts = keys[candidates[keys >> _DOC_SHIFT]]
            else:
                starts = _sorted_intersection(starts, keys)
            if not len(starts):
                return result
        result[starts >> _DOC_SHIFT] = True
        return result

    # -- stored records -----------------------------------------------------------------

    def records(self, docnums: Sequence[int]) -> list[dict[str, Any]]:
        """The stored clean records (``Figure.as_dict()``) of ``docnums``, in order."""
        with self._lock, reading(self.path, f"the {schema.RECORD} column"):
            if self._records is None:
                self._records = self._reader.column_reader(schema.RECORD)
            return [schema.decode_record(self._records[int(d)]) for d in docnums]

    def close(self) -> None:
        with self._lock:
            self._closer()  # closes once, however often called


def _close_quietly(reader: Any) -> None:
    with contextlib.suppress(Exception):  # nothing to do about it while collected
        reader.close()


def _text(term: str | bytes) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


def _leaf_positions(leaf: Any, offset: int, field: str, term: str) -> np.ndarray:
    """One segment's position keys of a term as stored (deleted documents included)."""
    try:
        matcher = leaf.postings(field, term)
    except TermNotFound:
        return np.zeros(0, dtype=np.int64)
    if isinstance(matcher, FilterMatcher):  # as in _leaf_postings: the caller drops deleted
        matcher = matcher.child
    ids: list[Any] = []
    values: list[bytes] = []
    if not isinstance(matcher, W3LeafMatcher):  # inlined postings: tiny lists
        while matcher.is_active():
            ids.append(np.asarray([matcher.id()], dtype=np.int64))
            values.append(matcher.value())
            matcher.next()
    else:
        while True:  # the segment's values all decoded at once: per call costs dominate
            deltas, _weights, block_values = _block_data(matcher)
            ids.append(np.cumsum(np.asarray(deltas, dtype=np.int64)))
            values.extend(block_values)
            if matcher._lastblock:
                break
            matcher._goto(matcher._nextoffset)
    if not values:
        return np.zeros(0, dtype=np.int64)
    counts, deltas = _position_deltas(values, leaf.schema[field].format.decode_positions)
    return _position_keys(np.concatenate(ids) + offset, counts, deltas)


def _block_data(matcher: W3LeafMatcher) -> tuple[Any, Any, Any]:
    """A postings block's (id deltas, weights, values), decoded as Whoosh stores them."""
    data = matcher._postfile.get(matcher._dataoffset, matcher._nextoffset - matcher._dataoffset)
    if matcher._compression:
        data = zlib.decompress(data)
    return loads(data)


def _position_deltas(values: Sequence[bytes], decode: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each posting's number of positions, and all their position deltas in order.

    A value is what ``Positions.encode`` writes: a 4-byte count, then a protocol-2 pickle
    of the list of deltas. Unpickling a posting at a time costs far more than the phrase
    check, so the pickles are parsed with numpy, all postings a step at a time; if any
    value is not exactly such a pickle (a Whoosh change, or a list long enough for pickle
    to batch), all are decoded by Whoosh, one at a time."""
    parsed = _parse_delta_pickles(values)
    if parsed is not None:
        return parsed
    lists = [np.diff(decode(v), prepend=0) for v in values]
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    return counts, np.concatenate(lists).astype(np.int64)


def _parse_delta_pickles(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """(counts, deltas) of values framed ``count ] q 0 [(] int* (e|a) .``, or None.

    ``] q 0``: an empty list, memoised; ``(``: a mark, when there are 2 or more items;
    each int an opcode (K: 1 byte, M: 2, J: 4 signed, little-endian) and its bytes; then
    ``e`` (append the marked items) or ``a`` (append one), and ``.`` (stop)."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    buf = np.frombuffer(b"".join(values) + bytes(16), dtype=np.uint8).astype(np.int64)
    counts = (buf[starts] << 24) | (buf[starts + 1] << 16) | (buf[starts + 2] << 8)
    counts |= buf[starts + 3]
    many = counts > 1
    framed = (lengths >= 12) & (2 * counts <= lengths) & (counts > 0)
    for at, byte in enumerate(_LIST_HEAD, start=4):
        framed &= buf[starts + at] == byte
    framed &= ~many | (buf[starts + 9] == _MARK)
    if not framed.all():
        return None
    deltas = np.zeros(int(counts.sum()), dtype=np.int64)
    first = np.cumsum(counts) - counts  # where each posting's deltas go
    cursor = starts + 9 + many
    by_count = np.argsort(-counts, kind="stable")  # postings still parsing come first
    remaining = np.searchsorted(-counts[by_count], -np.arange(int(counts.max())), "left")
    for step, active in enumerate(remaining):
        posting = by_count[:active]
        at = cursor[posting]
        opcode = buf[at]
        size = _INT_SIZES[opcode]
        if not size.all():
            return None
        deltas[first[posting] + step] = _pickled_ints(buf, at, opcode)
        cursor[posting] = at + 1 + size
    tail = np.where(many, _APPENDS, _APPEND)
    if not ((cursor + 2 == ends) & (buf[cursor] == tail) & (buf[cursor + 1] == _STOP)).all():
        return None
    return counts, deltas


def _pickled_ints(buf: np.ndarray, at: np.ndarray, opcode: np.ndarray) -> np.ndarray:
    """The ints whose pickle opcodes (K, M or J) are at ``at``: little-endian bytes."""
    small = buf[at + 1] | (buf[at + 2] << 8)
    large = small | (buf[at + 3] << 16) | (buf[at + 4] << 24)
    large = np.where(large >= 1 << 31, large - (1 << 32), large)  # J is signed
    return np.where(opcode == _BININT1, buf[at + 1], np.where(opcode == _BININT2, small, large))


def _position_keys(ids: np.ndarray, counts: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Keys ``doc << 32 | position`` from each document's position deltas, in order."""
    running = np.concatenate(([0], np.cumsum(deltas)))  # deltas summed across documents
    starts = np.cumsum(counts) - counts  # where each document's deltas begin
    within = running[1:] - np.repeat(running[starts], counts)  # summed within each document
    return (np.repeat(ids, counts) << _DOC_SHIFT) | within


def _phrase_starts(keys: np.ndarray, index: int) -> np.ndarray:
    """Where a phrase starts if its word number ``index`` is at ``keys`` (sorted)."""
    return keys[(keys & _POSITION_MASK) >= index] - index


def _sorted_intersection(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """The values of sorted ``small`` also in sorted ``large`` (both without repeats)."""
    if not len(large):
        return large
    found = np.minimum(np.searchsorted(large, small), len(large) - 1)
    return small[large[found] == small]


def _deleted_docs(leaf: Any) -> Any:
    """Segment-local numbers of a segment's deleted documents (sorted).

    whoosh-reloaded's SegmentReader has no ``deleted_docs()``; its cached
    ``deleted_docs_set`` is what its own ``postings()`` filters with."""
    return sorted(leaf.deleted_docs_set)


def segment_stats(generation: Path) -> dict[str, int]:
    """``{"segments", "deleted_documents"}`` of a generation, for ``pfocr stats``."""
    with whoosh_index.open_dir(str(generation)).reader() as reader:
        return {
            "segments": len(list(reader.leaf_readers())),
            "deleted_documents": reader.doc_count_all() - reader.doc_count(),
        }
