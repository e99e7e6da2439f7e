"""The bulk segment writer writes exactly what Whoosh's own writer writes."""

from __future__ import annotations

import gc
import pickle
import weakref
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3TermInfo
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from indexer.index import schema
from indexer.index.writer import _TERM_INFO, BulkSegmentWriter
from indexer.lexicon import GeneLexicon
from indexer.record import normalize
from indexer.sources import discover, read_records
from tests.conftest import SAMPLE_RECORDS


@pytest.fixture(scope="module")
def documents() -> list[dict]:
    figures = []
    for path in discover([SAMPLE_RECORDS]):
        for raw in read_records(path):
            figures.append((normalize(raw.data, raw.location), raw.location, raw.digest))
    lexicon = GeneLexicon()
    for figure, _, _ in figures:
        lexicon.learn(figure.genes)
    for figure, _, _ in figures:
        lexicon.resolve_keywords(figure)
    return [schema.document(figure, location, digest) for figure, location, digest in figures]


def segment_files(folder: Path, segment) -> dict[str, bytes]:
    """The segment's files by their suffix (the segment id differs between writers)."""
    prefix = segment.segment_id()
    return {
        path.name.removeprefix(prefix): path.read_bytes()
        for path in folder.iterdir()
        if path.name.startswith(prefix)
    }


def test_same_index_as_the_stock_writer(tmp_path, documents):
    """Every file is byte-for-byte the stock writer's, except the postings and the term
    table (whose postings offsets follow them): postings blocks may share equal position
    lists as pickle memo references. There every term's statistics and decoded postings
    must be the same."""
    stock_dir, bulk_dir = tmp_path / "stock", tmp_path / "bulk"
    stock_dir.mkdir()
    bulk_dir.mkdir()
    stock_ix = whoosh_index.create_in(str(stock_dir), schema.build_schema())
    bulk_ix = whoosh_index.create_in(str(bulk_dir), schema.build_schema())

    stock = SegmentWriter(stock_ix, _lk=False, codec=W3Codec(compression=0), compound=False)
    bulk = BulkSegmentWriter(bulk_ix, memory_mb=256)
    for doc in documents:  # the lookup fields and facet values are the search arrays' alone
        stock.add_document(**{k: v for k, v in doc.items() if k not in schema.ARRAYS_ONLY})
        bulk.add_document(**doc)
    stock_segment, bulk_segment = stock._finalize_segment(), bulk.finish()
    stock_files = segment_files(stock_dir, stock_segment)
    bulk_files = segment_files(bulk_dir, bulk_segment)

    assert set(stock_files) == set(bulk_files)
    assert {".pst", ".trm", ".record.col", ".source.col"} <= set(bulk_files)
    assert not [f for f in bulk_files if f.startswith(".facet_")]  # the arrays hold them
    for suffix, content in stock_files.items():
        if suffix not in (".pst", ".trm"):
            assert bulk_files[suffix] == content, suffix

    stock._commit_toc([stock_segment])
    bulk._commit_toc([bulk_segment])
    with stock_ix.reader() as expected, bulk_ix.reader() as actual:
        terms = list(expected.all_terms())
        assert terms == list(actual.all_terms())
        for field, text in terms:
            assert term_stats(actual, field, text) == term_stats(expected, field, text)
            assert postings(actual, field, text) == postings(expected, field, text), (field, text)


def term_stats(reader, field: str, text: bytes) -> tuple:
    info = reader.term_info(field, text)
    return (
        info.weight(),
        info.doc_frequency(),
        info.min_length(),
        info.max_length(),
        info.max_weight(),
        info.min_id(),
        info.max_id(),
    )


def postings(reader, field: str, text: bytes) -> list[tuple[int, float, bytes]]:
    """Every posting of a term: document, weight and value bytes (None where the format
    has none: Whoosh's block reader gives None there, its reader of inlined terms b"")."""
    matcher = reader.postings(field, text)
    found = []
    while matcher.is_active():
        found.append((matcher.id(), matcher.weight(), matcher.value() or None))
        matcher.next()
    return found


def test_full_when_memory_fills(tmp_path, documents):
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    writer = BulkSegmentWriter(ix, memory_mb=1)
    added = 0
    while not writer.full:
        writer.add_document(**documents[added])
        added += 1
    assert 5 < added < len(documents)
    assert writer.finish().doc_count() == added


def test_positions_kept_for_the_arrays_count_towards_memory(tmp_path, documents):
    """A caption that repeats a word holds one posting but many positions: the writer
    still finishes its segment when they fill its memory."""
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    writer = BulkSegmentWriter(ix, memory_mb=1)
    doc = dict(documents[0])
    doc[schema.TEXT] = type(doc[schema.TEXT])(" kinase" * 250_000, doc[schema.TEXT].symbols)
    try:
        writer.add_document(**doc)
        assert writer.pool.count < 1000  # few postings ...
        assert writer.full  # ... but 250,000 positions
    finally:
        writer.cancel()


def test_a_finished_writer_lets_its_postings_go(tmp_path, documents):
    """Whoosh's writer sits in reference cycles and a build pauses the cycle collector:
    a writer kept alive by them must not keep its segment's postings too."""
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    writer = BulkSegmentWriter(ix, memory_mb=256)
    for doc in documents:
        writer.add_document(**doc)
    postings, pool = weakref.ref(writer.postings), weakref.ref(writer.pool)
    gc.disable()
    try:
        writer.finish()
        assert postings() is None and pool() is None
    finally:
        gc.enable()


def test_whoosh_merges_bulk_segments(tmp_path, documents):
    """Whoosh's own writer can merge our segments (inlined terms included): an update
    merges small segments, and an optimize merges all."""
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    half = len(documents) // 2
    segments = []
    for part in (documents[:half], documents[half:]):
        writer = BulkSegmentWriter(ix, memory_mb=256)
        for doc in part:
            writer.add_document(**doc)
        segments.append(writer.finish())
    writer._commit_toc(segments)
    with ix.reader() as reader:
        before = {term: postings(reader, *term) for term in reader.all_terms()}
        assert any(len(found) == 1 for found in before.values())  # inlined terms

    ix.optimize()

    assert len(ix._segments()) == 1
    with ix.reader() as reader:
        after = {term: postings(reader, *term) for term in reader.all_terms()}
    assert after == before


def test_term_table_entries_are_whooshs_term_info():
    """The writer packs term table entries itself with Whoosh's private layout."""
    assert W3TermInfo._struct.format == "!BfIBBfII"
    info = W3TermInfo(weight=3.0, df=2, minlength=4, maxlength=9, maxweight=2.0, minid=5, maxid=8)
    info.set_inlined([5, 8], [1.0, 2.0], [b"", b""])
    entry = _TERM_INFO.pack(True, 3.0, 2, length_to_byte(4), length_to_byte(9), 2.0, 5, 8)
    entry += pickle.dumps(((5, 8), (1.0, 2.0), (b"", b"")), 2)
    assert entry == info.to_bytes()
