"""Read one published index generation: the reading half of the index format.

:class:`GenerationReader` serves what queries read from the generation's search arrays
(``indexer.index.arrays``), memory-mapped read-only, so the processes serving one
generation share one copy of them in the page cache and a never-seen query reads as fast
as a repeated one: document numbers global over the generation's segments, ``live`` (a
bool mask of documents not deleted), figids, years, facet tables, field lengths, each
term's postings and (in phrase fields) positions. Whoosh is read only for the stored
records (located by its column readers, read with ``os.pread``: :class:`RecordColumn`)
and the did-you-mean's fuzzy term lookups; its file objects seek, so those reads hold
``self._lock`` (decoding the records' bytes does not: each thread has its own zstd
context).

Everything about terms counts live documents only (the build leaves deleted documents out
of the arrays), so an index that an update left with deleted documents reads, and scores,
exactly as a fresh build of the same records.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import columns
from whoosh import index as whoosh_index

from indexer.index import schema
from indexer.index.arrays import MISSING_YEAR, GenerationArrays, Postings, PostingsTable
from indexer.index.records import DICTIONARY_FILE, RecordCodec
from indexer.index.store import LEXICON_FILE, IndexError_, check_compatible
from indexer.lexicon import GeneLexicon

__all__ = ["MISSING_YEAR", "GenerationReader", "Postings", "UnreadableGeneration"]

_DOC_SHIFT = 32  # a position key is doc << 32 | position
_POSITION_MASK = (1 << _DOC_SHIFT) - 1
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
    """Everything stored in one published index generation, memory-mapped where large."""

    def __init__(self, generation: Path) -> None:
        self.path = generation
        self.meta = check_compatible(generation)
        self.version = str(self.meta.get("generation") or generation.name)
        with reading(generation, LEXICON_FILE):
            self.lexicon = GeneLexicon.load(generation / LEXICON_FILE)
        with reading(generation, "the search arrays"):
            self.arrays = GenerationArrays.load(generation)
        self.spelling = self.arrays.spelling  # stem -> the word shown for it
        with reading(generation, DICTIONARY_FILE):
            self._codec = RecordCodec.load(generation)
        self._lock = threading.RLock()
        with reading(generation, "the Whoosh table of contents and segments"):
            self._ix = whoosh_index.open_dir(str(generation))
            self._reader = self._ix.reader()
        # A replaced generation is closed when its last in-flight request lets go of it.
        # Not in __del__: when the reader is cyclic garbage (held by a Flask app, say), the
        # collector may finalize Whoosh's open files first; weakref callbacks run before.
        self._closer = weakref.finalize(self, _close_quietly, self._reader)
        self._records: Any = None  # the record column's reader, opened on first use
        documents = self.arrays.documents
        self.live = documents.live
        self.n_docs = len(self.live)
        self.documents = int(np.count_nonzero(self.live))
        self.has_deletions = self.documents < self.n_docs
        self.figids = documents.figids  # figids[d] is document d's figid
        self.years = documents.years

    @contextlib.contextmanager
    def closed_on_error(self) -> Iterator[None]:
        """Close the files at once if loading fails, rather than when collected."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def docnum_of(self, figid: str) -> int | None:
        """The live document of ``figid`` (exactly as written), or None."""
        return self.arrays.documents.docnum_of(figid)

    def field_lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Per-document length of ``field`` (float32) and its average over live documents
        (of the stored byte-quantised lengths, summed exactly as integers)."""
        documents = self.arrays.documents
        return documents.lengths[field], documents.average_lengths[field]

    # -- terms and postings ---------------------------------------------------------------

    def _table(self, field: str) -> PostingsTable | None:
        return self.arrays.postings.get(field)

    def postings(self, field: str, term: str) -> Postings:
        """Document numbers (sorted, global) and term frequencies of one term."""
        table = self._table(field)
        return _EMPTY if table is None else table.postings(term)

    def doc_frequency(self, field: str, term: str) -> int:
        """Number of live documents holding ``term`` in ``field``."""
        table = self._table(field)
        return 0 if table is None else table.doc_frequency(term)

    def doc_frequencies(self, field: str, terms: list[str]) -> list[int]:
        """:meth:`doc_frequency` of each of ``terms``, looked up together."""
        table = self._table(field)
        return [0] * len(terms) if table is None else table.doc_frequencies(terms)

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` indexed terms of ``field`` starting with ``prefix``, in order."""
        table = self._table(field)
        return [] if table is None else table.with_prefix(prefix, limit)

    def iter_terms(self, field: str) -> Iterator[tuple[str, int]]:
        """Every term of ``field`` held by live documents, with their number."""
        table = self._table(field)
        return iter(()) if table is None else table.frequencies()

    def terms_within(self, field: str, text: str, maxdist: int, prefix: int = 1) -> list[str]:
        """Indexed terms of ``field`` within ``maxdist`` edits of ``text`` that share its
        first ``prefix`` letters (each more letter makes the search many times cheaper).
        Whoosh's automaton finds them; only terms held by live documents are kept."""
        with self._lock, reading(self.path, f"the terms of {field}"):
            found: set[str] = set()
            for leaf, _ in self._reader.leaf_readers():
                found.update(leaf.terms_within(field, text, maxdist, prefix=prefix))
        return sorted(term for term in found if self.doc_frequency(field, term))

    # -- positions and phrases ---------------------------------------------------------

    def positions(self, field: str, term: str) -> np.ndarray:
        """Every occurrence of ``term`` as sorted int64 keys ``doc << 32 | position``.

        Made from the memory-mapped postings at each call, kept only for one query (see
        :meth:`phrase_docs`): kept across queries, they grew each serving process by 9 MB in
        a minute of load (to a 32 MB bound), and the load mix's phrases take as long without
        them (12 us a request, in process)."""
        table = self._table(field)
        return np.zeros(0, dtype=np.int64) if table is None else table.positions(term)

    def phrase_docs(
        self,
        field: str,
        words: Sequence[str],
        candidates: np.ndarray,
        made: dict[tuple[str, str], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Bool mask of documents (among ``candidates``) where ``words`` occur in sequence.

        Exactly what Whoosh's ``Phrase`` matcher (slop 1) finds: word ``i`` at position
        ``p + i`` for some ``p``. Each word's keys less ``i`` are the phrase starts it
        allows; the starts all words allow are intersected, rarest word first. ``made``
        keeps each word's :meth:`positions` for the other phrases of one query."""
        result = np.zeros(self.n_docs, dtype=bool)
        if not words or not candidates.any():
            return result
        made = {} if made is None else made
        for word in words:
            if (field, word) not in made:
                made[field, word] = self.positions(field, word)
        keyed = [(made[field, word], index) for index, word in enumerate(words)]
        starts: np.ndarray | None = None
        for word_keys, index in sorted(keyed, key=lambda item: len(item[0])):
            keys = _phrase_starts(word_keys, index)
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
        """The stored records of ``docnums``, in order: each a clean record packed as
        ``indexer.index.records.pack`` stores it (``unpack`` gives ``Figure.as_dict()``)."""
        with reading(self.path, f"the {schema.RECORD} column"):
            with self._lock:
                if self._records is None:
                    self._records = RecordColumn(self._reader.column_reader(schema.RECORD))
                stored = [self._records[int(d)] for d in docnums]
            return [self._codec.decode(blob) for blob in stored]

    def close(self) -> None:
        with self._lock:
            self._closer()  # closes once, however often called


class RecordColumn:
    """The stored records' bytes by document number, from Whoosh's column reader.

    Whoosh reads each value through four layers and a buffered file it seeks (6-15 us a
    record at 100k figures, most of a one-hit search's records). Where a segment's
    column is a file of its own (what our writer and Whoosh's merges write), the offsets
    and lengths Whoosh loads on opening the column locate a value for one ``os.pread``
    (about 3 us, no file position to share). Any other segment (a column inside a
    compound file, an empty one) is read through Whoosh."""

    def __init__(self, column: Any) -> None:
        readers = getattr(column, "_readers", None)
        if readers is None:  # one segment
            readers, starts = [column], [0]
        else:
            starts = list(column._doc_offsets)
        self._starts = starts
        self._segments = [_read_directly(reader) or reader.__getitem__ for reader in readers]

    def __getitem__(self, docnum: int) -> bytes:
        segment = bisect.bisect_right(self._starts, docnum) - 1
        return self._segments[segment](docnum - self._starts[segment])  # type: ignore[no-any-return]


def _read_directly(reader: Any) -> Callable[[int], bytes] | None:
    """A function reading one segment's values (by the segment's own document numbers)
    with ``os.pread``, or None where the column is not a plain file of variable-length
    values (see :class:`RecordColumn`)."""
    column = getattr(reader, "_reader", reader)  # inside Whoosh's TranslatingColumnReader
    translate = getattr(reader, "_translate", None) or (lambda value: value)
    if type(column) is not columns.VarBytesColumn.Reader or not hasattr(os, "pread"):
        return None  # (no pread on Windows)
    handle = getattr(column._dbfile, "file", None)
    if not column._dbfile.is_real or handle is None or not hasattr(handle, "fileno"):
        return None
    offsets, lengths, base = column._offsets, column._lengths, column._basepos

    def read(docnum: int) -> bytes:
        if handle.closed:  # never reused: its descriptor number may name another file now
            raise ValueError("the column's file is closed")
        return translate(os.pread(handle.fileno(), lengths[docnum], base + offsets[docnum]))  # type: ignore[no-any-return]

    return read


def _close_quietly(reader: Any) -> None:
    with contextlib.suppress(Exception):  # nothing to do about it while collected
        reader.close()


def _phrase_starts(keys: np.ndarray, index: int) -> np.ndarray:
    """Where a phrase starts if its word number ``index`` is at ``keys`` (sorted)."""
    return keys[(keys & _POSITION_MASK) >= index] - index


def _sorted_intersection(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """The values of sorted ``small`` also in sorted ``large`` (both without repeats)."""
    if not len(large):
        return large
    found = np.minimum(np.searchsorted(large, small), len(large) - 1)
    return small[large[found] == small]


def segment_stats(generation: Path) -> dict[str, int]:
    """``{"segments", "deleted_documents"}`` of a generation, for ``pfocr stats``."""
    with whoosh_index.open_dir(str(generation)).reader() as reader:
        return {
            "segments": len(list(reader.leaf_readers())),
            "deleted_documents": reader.doc_count_all() - reader.doc_count(),
        }
