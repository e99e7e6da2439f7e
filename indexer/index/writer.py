"""A Whoosh segment writer for bulk builds: the same files, written faster.

Whoosh's stock ``SegmentWriter`` pushes every posting through a generic sorting pool
(spilling sorted runs to disk and merging them back in Python once memory fills) and
then through several Python calls per posting to write it. This writer:

- turns a document's fields into postings in one pass per field for this project's
  analyzers (``_index_field``), without Whoosh's generic token pipeline;
- groups postings by field and term as they arrive (documents come in docnum order, so
  each term's postings are already sorted), and never spills: its owner finishes the
  segment when ``full`` and starts another, so the cost per record stays flat;
- writes each term's postings whole (``_TermWriter``), and the postings of rare terms
  into the term table itself ("inlined", which Whoosh reads but never writes);
- takes field lengths from memory instead of one column read per posting;
- compresses postings blocks with zlib's level 6 (``BLOCK_COMPRESSION``): no query
  reads them (queries read the search arrays), so they are kept small rather than quick
  to read. Each block records its own compression, as Whoosh's readers expect.

With the same codec settings the index reads as the stock writer's: every file but the
postings and term table is byte-for-byte the same, and every term's statistics and
postings are equal. ``tests/test_segments.py`` checks it.
"""

from __future__ import annotations

import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import sub
from pathlib import Path
from pickle import dumps
from typing import Any

from whoosh import formats
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3TermInfo,
    _lenfield,
)
from whoosh.fields import FieldType
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from indexer.analysis import EnglishAnalyzer, ValueAnalyzer
from indexer.index import schema
from indexer.index.arrays import ARRAYS_DIR, SegmentPostings
from indexer.index.records import RecordCodec, unpack

NEVER_SPILL_MB = 1 << 30
# zlib's level for postings blocks: 6 makes them 9% smaller than 1 (6 MB at 100k), in
# about the same time (blocks of 128 small numbers)
BLOCK_COMPRESSION = 6
_WORTH_COMPRESSING = 20  # bytes of a block's pickle below which Whoosh compresses none
_LOOKUP_VALUES = ValueAnalyzer()  # the terms of schema.LOOKUP_FIELDS
_FACET_KEYS = frozenset(schema.FACET_KEYS.values())
SEGMENTS_DIR = "segments"  # under the generation's arrays/: segments' postings, until merged
# Resident memory a posting held in the pool costs, with its share of its document's other
# data (the Whoosh columns, the search arrays' values): measured
BYTES_PER_POSTING = 24
BYTES_PER_POSITION = 5  # a position kept for the search arrays: 4 bytes and array slack
INLINE_POSTINGS = 2  # terms with at most this many postings go in the term table
# A term table entry: flags (inlined), weight, doc frequency, min and max length (as
# bytes), max weight, first and last docnum; then the inlined postings or their extent.
_TERM_INFO = W3TermInfo._struct


class BulkCodec(W3Codec):
    def __init__(self) -> None:
        super().__init__(compression=0)


class BulkSegmentWriter(SegmentWriter):
    """Writes one segment without locking the index; the caller commits the segments."""

    def __init__(self, ix: Any, *, memory_mb: float, words: Counter[str] | None = None) -> None:
        """``words``, if given, counts every word of the stemmed text fields."""
        super().__init__(ix, _lk=False, limitmb=NEVER_SPILL_MB, codec=BulkCodec(), compound=False)
        self.words = words
        if any(field.separate_spelling() for _, field in self.schema.items()):
            raise ValueError("BulkSegmentWriter does not write spelling fields")
        if any(type(f.format) not in _FORMATS for _, f in self.schema.items() if f.indexed):
            raise ValueError("BulkSegmentWriter writes only Frequency and Existence postings")
        self.memory_limit = int(memory_mb * 1024 * 1024)
        self.pool = _TermPool()
        self.postings = SegmentPostings()  # the same postings, for the search arrays

    @property
    def full(self) -> bool:
        """Whether the postings held in memory reached the limit."""
        pool = self.pool
        held = pool.count * BYTES_PER_POSTING + pool.position_count * BYTES_PER_POSITION
        return held >= self.memory_limit

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document``, lean: this schema has no boosts, spelling or vectors."""
        self._check_state()
        perdoc = self.perdocwriter
        docnum = self.docnum
        self.postings.add_document(
            fields[schema.FIGID].decode("utf-8"),
            {facet: fields.get(key) or b"" for facet, key in schema.FACET_KEYS.items()},
        )
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None or fieldname in _FACET_KEYS:  # facets: the search arrays' alone
                continue
            if fieldname in schema.LOOKUP_FIELDS:  # the search arrays' alone
                self.pool.add_counts(fieldname, docnum, _LOOKUP_VALUES.term_counts(value))
                continue
            field = self.schema[fieldname]
            length = 0
            if field.indexed:
                length = self._index_field(fieldname, field, value)
                if not field.scorable:
                    length = 0
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _index_field(self, fieldname: str, field: FieldType, value: Any) -> int:
        """Pool the field's postings: ``field.index(value)``, computed directly for this
        project's analyzers. Returns the field's length (the sum of term frequencies)."""
        analyzer, fmt, pool = field.analyzer, field.format, self.pool
        kind = type(fmt)
        if kind is formats.Frequency and isinstance(analyzer, ValueAnalyzer):
            return pool.add_counts(fieldname, self.docnum, analyzer.term_counts(value))
        if kind is formats.Frequency and isinstance(analyzer, EnglishAnalyzer):
            found = analyzer.term_positions(value, self.words)
            if fieldname in schema.PHRASE_FIELDS:  # positions for the search arrays only
                return pool.add_positions(fieldname, self.docnum, found)
            return pool.add_counts(fieldname, self.docnum, {t: len(w) for t, w in found.items()})
        return pool.add_postings(fieldname, self.docnum, field.index(value))

    def finish(self) -> Any:
        """Write the segment's files and return the segment, or None if it has no documents.
        Its postings are saved for the search arrays too (``segment_postings_dir``)."""
        if self._added:
            segment = self._finalize_segment()
            self.postings.save(segment_postings_dir(self.storage.folder, segment))
        else:
            self._close_segment()
            segment = None
        self.is_closed = True
        # Whoosh's writer sits in reference cycles, which a build collects late or never
        # (it pauses the cycle collector): let the postings go now, not with the writer.
        self.pool, self.postings = _TermPool(), SegmentPostings()
        return segment

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        lengths = _field_lengths(reader, self.schema.scorable_names())
        reader.close()
        writer = self.fieldwriter
        for fieldname in sorted(self.pool.fields):
            terms = self.pool.fields.pop(fieldname)
            if not terms:  # Whoosh numbers only fields that have postings
                continue
            if fieldname in schema.LOOKUP_FIELDS:
                ordered = sorted(terms)
                self.postings.add_field(fieldname, ordered, [terms[t] for t in ordered], None)
                continue
            field = self.schema[fieldname]
            writer.start_field(fieldname, field)  # numbers the field in the term table
            write_term = _TermWriter(writer, field.format, lengths.get(fieldname))
            ordered = sorted(terms)
            for btext in ordered:
                write_term(btext, terms[btext])
            writer.finish_field()
            positions = self.pool.positions.pop(fieldname, None)
            self.postings.add_field(fieldname, ordered, [terms[t] for t in ordered], positions)
        writer.close()


class _TermWriter:
    """Writes a term's postings and its term table entry in the Whoosh 3 format, as
    ``W3FieldWriter.start_term`` + ``add`` per posting + ``finish_term`` would, a whole
    term at a time. Rare terms are inlined in the term table instead of given blocks:
    Whoosh reads such terms (``W3TermInfo.is_inlined``), but its writer never writes
    them (``finish_postings`` calls a misspelt ``set_inline``), and a block for each
    figid or one-off word was most of the cost of finishing a segment.
    """

    def __init__(self, writer: Any, fmt: formats.Format, lengths: list[int] | None) -> None:
        self.postfile = writer._postfile
        self.table = writer._tindex
        self.prefix = pack_ushort(writer._fieldid)
        self.fixed_size = fmt.fixed_value_size()
        self.boost = fmt.field_boost
        self.lengths = lengths  # the field's length in each document, if scorable
        self.block_limit = writer._codec._blocklimit

    def __call__(self, btext: bytes, postings: array) -> None:
        """``postings`` are the term's ``docnum, frequency, ...`` in docnum order (the
        pool's); each posting's weight and value are its format's for that frequency."""
        docnums, frequencies = postings[0::2].tolist(), postings[1::2].tolist()
        boost = self.boost
        weights = [frequency * boost for frequency in frequencies]
        if self.fixed_size == 0:  # a format without values: blocks store none, inlined
            values = [b""] * len(docnums)  # terms b"" each (Whoosh's merge wants bytes)
        else:  # Frequency's
            values = list(map(_FREQUENCY_VALUES.__getitem__, frequencies))
        lengths = None
        min_length = max_length = 0  # what W3TermInfo writes for a field without lengths
        if self.lengths is not None:
            lengths = [self.lengths[d] for d in docnums]
            min_length, max_length = length_to_byte(min(lengths)), length_to_byte(max(lengths))
        inlined = len(docnums) <= INLINE_POSTINGS
        # W3TermInfo.to_bytes, without a TermInfo object per term
        info = _TERM_INFO.pack(
            inlined,
            float(sum(weights)),
            len(docnums),
            min_length,
            max_length,
            max(weights),
            docnums[0],
            docnums[-1],
        )
        if inlined:
            info += dumps((tuple(docnums), tuple(weights), tuple(values)), 2)
        else:
            info += self._write_blocks(docnums, weights, values, lengths)
        self.table.add(self.prefix + btext, info)

    def _write_blocks(
        self,
        docnums: list[int],
        weights: list[float],
        values: list[bytes],
        doc_lengths: list[int] | None,
    ) -> bytes:
        """``W3PostingsWriter._write_block`` for each block of the term; returns where
        the blocks are, as the term table entry ends."""
        postfile = self.postfile
        start = postfile.tell()
        postfile.write(WHOOSH3_HEADER_MAGIC)
        limit, count = self.block_limit, len(docnums)
        for first in range(0, count, limit):
            last = min(first + limit, count)
            ids = docnums[first:last]
            block_weights = weights[first:last]
            data = dumps(
                (_deltas(ids), _mini_weights(block_weights), self._mini_values(values[first:last])),
                2,
            )
            compression = BLOCK_COMPRESSION if len(data) >= _WORTH_COMPRESSING else 0
            if compression:
                data = zlib.compress(data, compression)
            lengths = doc_lengths[first:last] if doc_lengths is not None else None
            info = dumps(
                (
                    len(ids),
                    ids[-1],
                    max(block_weights),
                    compression,
                    length_to_byte(min(lengths)) if lengths else 0,
                    length_to_byte(max(lengths)) if lengths else 0,
                ),
                2,
            )
            size = len(info) + len(data)
            postfile.write_int(-size if last == count else size)  # negative: the last block
            postfile.write(info)
            postfile.write(data)
        return pack_long(start) + pack_int(postfile.tell() - start)

    def _mini_values(self, values: list[bytes]) -> tuple[bytes, ...] | bytes | None:
        if self.fixed_size is None or self.fixed_size < 0:
            return tuple(values)
        if self.fixed_size == 0:
            return None
        return b"".join(values)


def _deltas(ids: list[int]) -> tuple[int, ...]:
    """Each docnum minus the one before it (the first minus 0), as Whoosh stores block ids."""
    return (ids[0], *map(sub, ids[1:], ids[:-1]))


def _mini_weights(weights: list[float]) -> tuple[float, ...] | float | None:
    first = weights[0]
    if first == 1.0 and weights.count(1.0) == len(weights):
        return None
    if weights.count(first) == len(weights):
        return first
    return tuple(weights)


class _TermPool:
    """Postings grouped by field and term: ``fields[name][term]`` is one array of the
    term's ``docnum, frequency, docnum, frequency, ...``. A posting's weight and value
    follow from its frequency and its field's format (Frequency or Existence: what
    ``_FORMATS`` allows), so they are made only when the segment is written: a posting
    held costs 8 bytes and two appends, where a list of (docnum, weight, value) held
    about 80 bytes and built a tuple each."""

    def __init__(self) -> None:
        self.fields: defaultdict[str, dict[bytes, array]] = defaultdict(dict)
        # phrase fields: each term's positions, document after document (search arrays)
        self.positions: defaultdict[str, dict[bytes, array]] = defaultdict(dict)
        self.count = 0
        self.position_count = 0

    def add_positions(self, fieldname: str, docnum: int, found: dict[bytes, list[int]]) -> int:
        """Add a document's terms with their positions (kept for the search arrays, their
        count the frequency) in one pass; return the field's length."""
        terms, kept_positions = self.fields[fieldname], self.positions[fieldname]
        length = 0
        for term, where in found.items():
            frequency = len(where)
            postings = terms.get(term)
            if postings is None:
                terms[term] = array("I", (docnum, frequency))
                kept_positions[term] = array("I", where)
            else:
                postings.append(docnum)
                postings.append(frequency)
                kept_positions[term].extend(where)
            length += frequency
        self.count += len(found)
        self.position_count += length
        return length

    def add_counts(self, fieldname: str, docnum: int, counts: dict[bytes, int]) -> int:
        """Add a document's terms with their frequencies; return the field's length."""
        terms = self.fields[fieldname]
        length = 0
        for term, frequency in counts.items():
            postings = terms.get(term)
            if postings is None:
                terms[term] = array("I", (docnum, frequency))
            else:
                postings.append(docnum)
                postings.append(frequency)
            length += frequency
        self.count += len(counts)
        return length

    def add_postings(
        self, fieldname: str, docnum: int, postings: Iterable[tuple[bytes, int, float, bytes]]
    ) -> int:
        """Add a document's ``(term, freq, weight, value)`` postings (``Format.index``'s);
        return the field's length."""
        return self.add_counts(fieldname, docnum, {term: freq for term, freq, _, _ in postings})

    def cleanup(self) -> None:
        self.fields.clear()
        self.positions.clear()


# The formats whose weight and value the writer makes from a frequency (``_TermWriter``)
_FORMATS = (formats.Frequency, formats.Existence)


class _FrequencyValues(dict[int, bytes]):
    """Frequency -> its posting value in the Frequency format (``pack_uint``), kept."""

    def __missing__(self, frequency: int) -> bytes:
        value = self[frequency] = pack_uint(frequency)
        return value


_FREQUENCY_VALUES = _FrequencyValues()


def _field_lengths(reader: Any, fieldnames: list[str]) -> dict[str, list[int]]:
    """Each scorable field's length per document, decoded from its length column."""
    decoded = [0] + [byte_to_length(code) for code in range(1, 256)]
    return {
        name: [decoded[code] for code in reader.column_reader(_lenfield(name), LENGTHS_COLUMN)]
        for name in fieldnames
        if reader.has_column(_lenfield(name))
    }


def segment_postings_dir(index_dir: str | Path, segment: Any) -> Path:
    """Where a segment's postings wait for the build to merge them into search arrays."""
    return Path(index_dir) / ARRAYS_DIR / SEGMENTS_DIR / segment.segment_id()


def commit_segments(ix: whoosh_index.Index, segments: list[Any]) -> None:
    """Add finished segments (of several writers, even processes) to ``ix`` in one new
    TOC generation."""
    writer = SegmentWriter(ix)
    try:
        writer._close_segment()
        writer._commit_toc(list(writer.segments) + segments)
    finally:
        writer._finish()


# -- incremental updates: which documents there are, and replacing some of them ---------


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """A live document: where its record was read from and the digest of its text."""

    docnum: int
    figid: str
    digest: str


def indexed_documents(ix: whoosh_index.Index) -> dict[str, IndexedDocument]:
    """Source location -> the live document read from it (figid, source, digest columns)."""
    with ix.reader() as reader:
        live = set(reader.all_doc_ids())
        columns = zip(  # whole columns at once: per-document lookups cost seconds at 100k
            reader.column_reader(schema.FIGID),
            reader.column_reader(schema.SOURCE),
            reader.column_reader(schema.DIGEST),
            strict=True,
        )
        return {
            location.decode("utf-8"): IndexedDocument(
                docnum, figid.decode("utf-8"), digest.decode("ascii")
            )
            for docnum, (figid, location, digest) in enumerate(columns)
            if docnum in live
        }


def stored_records(
    ix: whoosh_index.Index, docnums: Iterable[int], codec: RecordCodec
) -> list[dict[str, Any]]:
    """The stored records (each a ``Figure.as_dict()``) of documents ``docnums``."""
    with ix.reader() as reader:
        records = reader.column_reader(schema.RECORD)
        return [unpack(codec.decode(records[docnum])) for docnum in docnums]


def replace_documents(ix: whoosh_index.Index, docnums: Iterable[int], segments: list[Any]) -> None:
    """Delete documents ``docnums`` and add finished ``segments`` in one commit. The stock
    writer merges small segments as it commits (Whoosh's MERGE_SMALL policy), so repeated
    updates do not pile up segments."""
    with ix.writer() as writer:
        for docnum in docnums:
            writer.delete_document(docnum)
        writer.segments.extend(segments)
