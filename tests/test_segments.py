"""The bulk segment writer writes exactly what Whoosh's own writer writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from indexer import schema
from indexer.lexicon import GeneLexicon
from indexer.record import normalize
from indexer.segments import BulkSegmentWriter
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


def test_same_files_as_the_stock_writer(tmp_path, documents):
    stock_dir, bulk_dir = tmp_path / "stock", tmp_path / "bulk"
    stock_dir.mkdir()
    bulk_dir.mkdir()
    stock_ix = whoosh_index.create_in(str(stock_dir), schema.build_schema())
    bulk_ix = whoosh_index.create_in(str(bulk_dir), schema.build_schema())

    stock = SegmentWriter(stock_ix, _lk=False, codec=W3Codec(compression=0), compound=False)
    bulk = BulkSegmentWriter(bulk_ix, memory_mb=256)
    for doc in documents:
        stock.add_document(**doc)
        bulk.add_document(**doc)
    stock_files = segment_files(stock_dir, stock._finalize_segment())
    bulk_files = segment_files(bulk_dir, bulk.finish())

    assert set(stock_files) == set(bulk_files)
    assert {".pst", ".trm", "._stored.col", ".facet_gene.col"} <= set(bulk_files)
    for suffix, content in stock_files.items():
        assert bulk_files[suffix] == content, suffix


def test_full_when_memory_fills(tmp_path, documents):
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    writer = BulkSegmentWriter(ix, memory_mb=1)
    added = 0
    while not writer.full:
        writer.add_document(**documents[added])
        added += 1
    assert 5 < added < len(documents)
    assert writer.finish().doc_count() == added
