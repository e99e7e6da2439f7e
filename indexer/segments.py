"""A Whoosh segment writer for bulk builds: the same files, written faster.

Whoosh's stock ``SegmentWriter`` pushes every posting through a generic sorting pool
(spilling sorted runs to disk and merging them back in Python once memory fills) and
then through several Python calls per posting to write it. This writer:

- turns a document's fields into postings in one pass per field for this project's
  analyzers (``_postings``), without Whoosh's generic token pipeline;
- groups postings by field and term as they arrive (documents come in docnum order, so
  each term's postings are already sorted), and never spills: its owner finishes the
  segment when ``full`` and starts another, so the cost per record stays flat;
- writes each term's postings a block at a time (``_BatchPostingsWriter``);
- takes field lengths from memory instead of one column read per posting;
- writes postings blocks uncompressed: zlib took a third of the time of finishing a
  segment, and uncompressed blocks are faster to read at query time. Readers handle
  both: each block records its own compression.

With the same codec settings the index is the stock writer's: every file but the
postings and term table byte-for-byte, and every term's statistics and postings equal
(equal position lists share one pickled object). ``tests/test_segments.py`` checks it.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pickle import dumps
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3PostingsWriter, _lenfield
from whoosh.fields import FieldType
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from indexer.analysis import EnglishAnalyzer, ValueAnalyzer

NEVER_SPILL_MB = 1 << 30
BYTES_PER_POSTING = 80  # resident memory a posting held in the pool costs (measured)


class BulkCodec(W3Codec):
    def __init__(self) -> None:
        super().__init__(compression=0)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> W3PostingsWriter:
        return _BatchPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )


class BulkSegmentWriter(SegmentWriter):
    """Writes one segment without locking the index; the caller commits the segments."""

    def __init__(self, ix: Any, *, memory_mb: int, words: dict[str, int] | None = None) -> None:
        """``words``, if given, counts every word of the stemmed text fields."""
        super().__init__(ix, _lk=False, limitmb=NEVER_SPILL_MB, codec=BulkCodec(), compound=False)
        self.words = words
        if any(field.separate_spelling() for _, field in self.schema.items()):
            raise ValueError("BulkSegmentWriter does not write spelling fields")
        self.memory_limit = memory_mb * 1024 * 1024
        self.pool = _TermPool()

    @property
    def full(self) -> bool:
        """Whether the postings held in memory reached the limit."""
        return self.pool.count * BYTES_PER_POSTING >= self.memory_limit

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document``, lean: this schema has no boosts, spelling or vectors."""
        self._check_state()
        perdoc = self.perdocwriter
        docnum = self.docnum
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = self.schema[fieldname]
            length = 0
            if field.indexed:
                postings = _postings(field, value, self.words)
                length = self.pool.add_field(fieldname, docnum, postings)
                if not field.scorable:
                    length = 0
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def finish(self) -> Any:
        """Write the segment's files and return the segment, or None if it has no documents."""
        if self._added:
            segment = self._finalize_segment()
        else:
            self._close_segment()
            segment = None
        self.is_closed = True
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
            field_lengths = lengths.get(fieldname)
            writer.start_field(fieldname, self.schema[fieldname])
            for btext in sorted(terms):
                flat = terms[btext]
                docnums, weights, values = flat[0::3], flat[1::3], flat[2::3]
                doc_lengths = [field_lengths[d] for d in docnums] if field_lengths else None
                writer.start_term(btext)
                writer._postwriter.add_many(docnums, weights, values, doc_lengths)
                writer.finish_term()
            writer.finish_field()
        writer.close()


class _TermPool:
    """Postings grouped by field and term: ``fields[name][term]`` is a flat list
    ``[docnum, weight, value, docnum, weight, value, ...]`` (one list per term is the
    cheapest shape to grow in Python)."""

    def __init__(self) -> None:
        self.fields: defaultdict[str, dict[bytes, list[Any]]] = defaultdict(dict)
        self.count = 0

    def add_field(
        self, fieldname: str, docnum: int, postings: list[tuple[bytes, int, float, bytes]]
    ) -> int:
        """Add one field's postings of one document; return the field's length (sum of freqs)."""
        terms = self.fields[fieldname]
        length = 0
        for btext, freq, weight, value in postings:
            entry = terms.get(btext)
            if entry is None:
                terms[btext] = [docnum, weight, value]
            else:
                entry += (docnum, weight, value)
            length += freq
        self.count += len(postings)
        return length

    def cleanup(self) -> None:
        self.fields.clear()


class _BatchPostingsWriter(W3PostingsWriter):
    def add_many(
        self,
        docnums: list[int],
        weights: list[float],
        values: list[bytes | None],
        lengths: list[int] | None,
    ) -> None:
        """What ``add_posting`` does for each posting in turn, a block at a time."""
        limit = self._blocklimit
        for start in range(0, len(docnums), limit):
            if len(self._ids):  # the buffered block is full
                self._write_block()
            end = start + limit
            block_weights = weights[start:end]
            self._ids.extend(docnums[start:end])
            self._weights.extend(block_weights)
            self._maxweight = max(self._maxweight, *block_weights)
            self._values.extend(value for value in values[start:end] if value)
            block_lengths = [n for n in lengths[start:end] if n] if lengths else None
            if block_lengths:
                shortest = min(block_lengths)
                if self._minlength is None or shortest < self._minlength:
                    self._minlength = shortest
                self._maxlength = max(self._maxlength, *block_lengths)


def _postings(
    field: FieldType, value: Any, words: dict[str, int] | None
) -> list[tuple[bytes, int, float, bytes]]:
    """``field.index(value)``, computed directly for this project's analyzers."""
    analyzer, fmt = field.analyzer, field.format
    if isinstance(analyzer, EnglishAnalyzer) and type(fmt) is formats.Positions:
        boost = fmt.field_boost
        return [
            (word.encode("utf-8"), len(where), len(where) * boost, _encode_positions(where))
            for word, where in analyzer.positions(value, words).items()
        ]
    if isinstance(analyzer, ValueAnalyzer) and type(fmt) is formats.Frequency:
        boost = fmt.field_boost
        return [
            (word.encode("utf-8"), freq, freq * boost, _FREQUENCIES.get(freq) or pack_uint(freq))
            for word, freq in analyzer.counts(value).items()
        ]
    return list(field.index(value))


def _encode_positions(positions: list[int]) -> bytes:
    """``formats.Positions.encode``: the count, then the pickled gaps between positions."""
    if len(positions) == 1 and positions[0] < len(_SINGLE_POSITIONS):  # most words: once
        return _SINGLE_POSITIONS[positions[0]]
    gaps = [positions[0], *(b - a for a, b in pairwise(positions))]
    return pack_uint(len(gaps)) + dumps(gaps, 2)


_SINGLE_POSITIONS = [pack_uint(1) + dumps([pos], 2) for pos in range(2048)]


_FREQUENCIES = {n: pack_uint(n) for n in range(1, 64)}


def _field_lengths(reader: Any, fieldnames: list[str]) -> dict[str, list[int]]:
    """Each scorable field's length per document, decoded from its length column."""
    decoded = [0] + [byte_to_length(code) for code in range(1, 256)]
    return {
        name: [decoded[code] for code in reader.column_reader(_lenfield(name), LENGTHS_COLUMN)]
        for name in fieldnames
        if reader.has_column(_lenfield(name))
    }
