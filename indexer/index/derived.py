"""Derive a committed generation's search arrays (``indexer.index.arrays``).

The bulk writer saves each segment's postings and facet values beside it as it writes the
segment; once the build (or update) has committed its segments, :func:`write_search_arrays`
reads what every search needs of each document from the generation's Whoosh columns
(liveness, figids, years, field lengths), merges the segments' facet values and postings
(and, for an update, the previous generation's arrays, less the documents it replaced or
removed) into tables over the generation's document numbers, adds the stems' spellings
and autocomplete's names (``indexer.index.names``), and saves it all. Documents are matched
by figid, so Whoosh may number and merge segments as it likes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.util.numeric import byte_to_length

from indexer.index import schema
from indexer.index.arrays import (
    ARRAYS_DIR,
    MISSING_YEAR,
    ArraysWriter,
    DocumentTables,
    FacetTables,
    GenerationArrays,
    NameTable,
    PostingsSource,
    SpellingTable,
    merge_facet_values,
    merge_postings,
)
from indexer.index.names import SUGGESTED_FACETS, suggested_names
from indexer.index.writer import SEGMENTS_DIR
from indexer.lexicon import GeneLexicon

_LENGTH_TABLE = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)
_NO_YEAR = 65535  # what the 16-bit year column holds for a figure without one


def write_search_arrays(
    generation: Path,
    lexicon: GeneLexicon,
    spelling: dict[str, str],
    previous: Path | None = None,
    removed: Iterable[int] = (),
) -> None:
    """Write the search arrays of the committed ``generation``, whose genes ``lexicon``
    counts and whose stems ``spelling`` spells; ``previous`` is the generation an update
    started from, ``removed`` its documents the update replaced or removed (their
    postings are not carried over)."""
    ix = whoosh_index.open_dir(str(generation))
    suggested: dict[str, FacetTables] = {}
    with ix.reader() as reader:
        documents = read_documents(reader)
        live, figids = documents["live"], documents["figids"]
        tables = DocumentTables.of(live, documents["years"], figids, documents["lengths"])
        writer = ArraysWriter(generation, tables)
    docnum_of = {figid: d for d, figid in enumerate(figids) if live[d]}
    pending = generation / ARRAYS_DIR / SEGMENTS_DIR
    sources = [PostingsSource.segment(folder, docnum_of) for folder in _folders(pending)]
    if previous is not None:
        sources.append(_carried_over(previous, docnum_of, set(removed)))
    sources.sort(key=_first_document)  # then each term's documents come in order
    for facet in schema.FACET_FIELDS:  # one at a time: their strings weigh the most
        facet_tables = FacetTables.of(merge_facet_values(sources, facet, len(live)), live)
        writer.add_facet(facet, facet_tables)
        if facet in SUGGESTED_FACETS:
            suggested[facet] = facet_tables
    title_words: list[tuple[str, int]] = []
    for name in sorted({name for source in sources for name in source.tables}):
        if table := merge_postings(sources, name):
            writer.add_postings(name, table)  # and let it go before the next
            if name == schema.TITLE:
                title_words = list(table.frequencies())
    spelled = SpellingTable.of(spelling)
    names = suggested_names(lexicon, suggested, title_words, spelled)
    writer.add_names(spelled, NameTable.of(names))
    writer.finish()
    shutil.rmtree(pending, ignore_errors=True)


def _folders(pending: Path) -> list[Path]:
    return sorted(p for p in pending.iterdir() if p.is_dir()) if pending.is_dir() else []


def _first_document(source: PostingsSource) -> int:
    kept = source.doc_map[source.doc_map >= 0]
    return int(kept.min()) if len(kept) else -1


def _carried_over(previous: Path, docnum_of: dict[str, int], removed: set[int]) -> PostingsSource:
    """The previous generation's postings and facet values, of the documents the update
    kept."""
    arrays = GenerationArrays.load(previous)
    old = arrays.documents
    figids = old.figids.all()
    doc_map = np.full(len(figids), -1, dtype=np.int32)
    for d, figid in enumerate(figids):
        if old.live[d] and d not in removed:
            doc_map[d] = docnum_of.get(figid, -1)
    return PostingsSource.generation(arrays, doc_map)


# -- what the columns say of each document ---------------------------------------------------


def read_documents(reader: Any) -> dict[str, Any]:
    """``live``, ``figids``, ``years`` and ``lengths`` (length-normalised field -> each
    document's length) of a Whoosh reader."""
    leaves = _leaves(reader)
    n_docs = reader.doc_count_all()
    live = np.ones(n_docs, dtype=bool)
    for leaf, offset in leaves:
        if leaf.has_deletions():
            live[[offset + d for d in sorted(leaf.deleted_docs_set)]] = False
    years = _numeric_column(leaves, schema.YEAR).astype(np.int32)
    years[years == _NO_YEAR] = MISSING_YEAR
    return {
        "live": live,
        "figids": [b.decode("utf-8") for b in _column_bytes(leaves, schema.FIGID)],
        "years": years,
        "lengths": {
            name: _LENGTH_TABLE[
                _numeric_column(leaves, _lenfield(name), LENGTHS_COLUMN).astype(np.uint8)
            ]
            for name in schema.LENGTH_NORMALISED_FIELDS
        },
    }


def _leaves(reader: Any) -> list[tuple[Any, int]]:
    """The segments holding documents (Whoosh's reader of none has no columns)."""
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.doc_count_all()]


def _column_bytes(leaves: list[tuple[Any, int]], name: str) -> list[bytes]:
    """A bytes column of every segment, whole (a read per document costs seconds)."""
    out: list[bytes] = []
    for leaf, _ in leaves:
        n = leaf.doc_count_all()
        if not leaf.has_column(name):
            out.extend([b""] * n)
            continue
        col = leaf.column_reader(name, translate=False)
        offsets, lengths = getattr(col, "_offsets", None), getattr(col, "_lengths", None)
        if offsets is None or lengths is None:  # another column type: one read per doc
            out.extend(col[i] for i in range(n))
            continue
        blob = col._dbfile.get(col._basepos, (offsets[-1] + lengths[-1]) if n else 0)
        out.extend(blob[o : o + w] for o, w in zip(offsets, lengths, strict=True))
    return out


def _numeric_column(leaves: list[tuple[Any, int]], name: str, column: Any = None) -> np.ndarray:
    parts = []
    for leaf, _ in leaves:
        n = leaf.doc_count_all()
        if column is None:
            col = leaf.column_reader(name, translate=False) if leaf.has_column(name) else None
        else:  # lengths: the reader Whoosh itself caches for the segment
            col = leaf._perdoc._cached_reader(name, column)
        if col is None:
            parts.append(np.zeros(n, dtype=np.int64))
            continue
        dtype = np.dtype(">" + col._typecode)
        raw = np.frombuffer(col._dbfile.get(col._basepos, col._count * col._fixedlen), dtype)
        values = np.full(n, col._default, dtype=np.int64)
        values[: len(raw)] = raw[:n]
        parts.append(values)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
