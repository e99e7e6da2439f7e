"""The generation reader reads what Whoosh's own (slow, public) API reads, over every shape.

``indexer.index.reader`` decodes Whoosh's private structures with numpy (column blobs,
postings blocks, length bytes, deletions). whoosh-reloaded is pinned and unmaintained;
these tests name each private attribute the reader relies on, and compare every reader
function with the public API over a one-segment, a many-segment and an updated index
(with deletions), so a Whoosh upgrade that changes any of them fails here, loudly.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from whoosh import columns, formats
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.searching import Searcher

from indexer.index import schema
from indexer.index.reader import (
    MISSING_YEAR,
    GenerationReader,
    _block_data,
    _deleted_docs,
    _parse_delta_pickles,
    _position_deltas,
    _position_keys,
)
from indexer.index.store import IndexStore
from tests.conftest import SAMPLE_RECORDS

TERM_FIELDS = (
    schema.TEXT,
    schema.TITLE,
    schema.GENE,
    schema.ALIAS,
    schema.ENTREZ,
    schema.ORGANISM,
    schema.DISEASE,
    schema.CHEMICAL,
    schema.MESH,
)  # no sample record has annotations: that field holds no terms
SCORED_FIELDS = (schema.TEXT, schema.TITLE)
PREFIXES = ("s", "stat", "path", "sig", "m", "zz")
PHRASES = (("signal", "pathway"), ("cell", "prolifer"), ("tumor", "necrot", "factor"))


@pytest.fixture(scope="module")
def reader(sample_index: Path) -> Iterator[GenerationReader]:
    generation = GenerationReader(IndexStore(sample_index).require_current())
    yield generation
    generation.close()


@pytest.fixture(scope="module")
def whoosh(sample_index: Path) -> Iterator[Any]:
    """Whoosh's own reader of the same generation, used only through its public API."""
    with IndexStore(sample_index).open_current().reader() as public:
        yield public


PublicPostings = dict[str, tuple[list[int], list[float]]]


@pytest.fixture(scope="module")
def postings_of(whoosh: Any) -> dict[str, PublicPostings]:
    """Field -> term -> (global ids, weights) of every term, read one posting per step
    through Whoosh's public matchers (which leave deleted documents out)."""
    return {field: public_field_postings(whoosh, field) for field in TERM_FIELDS}


def public_field_postings(public: Any, field: str) -> PublicPostings:
    found: PublicPostings = {}
    for leaf, offset in leaves(public):
        for term in leaf.lexicon(field):
            ids, weights = found.setdefault(term.decode("utf-8"), ([], []))
            matcher = leaf.postings(field, term)
            while matcher.is_active():
                ids.append(offset + matcher.id())
                weights.append(matcher.weight())
                matcher.next()
    return dict(sorted(found.items()))


def leaves(public: Any) -> list[tuple[Any, int]]:
    return list(public.leaf_readers())


def live_terms(postings: PublicPostings) -> list[str]:
    return [term for term, (ids, _) in postings.items() if ids]


# -- the private structures the reader depends on ------------------------------------------


def test_whoosh_internals_the_reader_uses_are_there(whoosh: Any) -> None:
    leaf, _ = leaves(whoosh)[0]
    figids = leaf.column_reader(schema.FIGID, translate=False)
    records = leaf.column_reader(schema.RECORD, translate=False)
    for column in (
        figids,
        records,
        leaf.column_reader(schema.facet_column("gene"), translate=False),
    ):
        for name in ("_offsets", "_lengths", "_basepos", "_dbfile"):
            assert hasattr(column, name), f"{type(column).__name__} lost {name}"
    years = leaf.column_reader(schema.YEAR, translate=False)
    lengths = leaf._perdoc._cached_reader("_text_len", columns.NumericColumn("B"))
    for column in (years, lengths):
        for name in ("_typecode", "_fixedlen", "_default", "_count", "_basepos", "_dbfile"):
            assert hasattr(column, name), f"{type(column).__name__} lost {name}"
    for segment, _ in leaves(whoosh):
        deleted = {d for d in range(segment.doc_count_all()) if segment.is_deleted(d)}
        assert segment.deleted_docs_set == deleted, "SegmentReader.deleted_docs_set changed"
    for segment, _ in leaves(whoosh):  # with deletions, Whoosh wraps the postings matcher
        matcher = segment.postings(schema.TEXT, "pathway")
        if segment.has_deletions():
            assert isinstance(matcher, FilterMatcher), type(matcher)
            matcher = matcher.child
        assert isinstance(matcher, W3LeafMatcher), type(matcher)
    for name in ("_postfile", "_dataoffset", "_nextoffset", "_compression", "_lastblock"):
        assert hasattr(matcher, name), f"W3LeafMatcher lost {name}"
    assert callable(matcher._goto)


def test_position_values_are_framed_as_the_reader_reads_them(whoosh: Any) -> None:
    """A text posting's value is Positions.encode's: a 4-byte count, then a protocol-2
    pickle of the position deltas, which the reader parses with numpy."""
    leaf, _ = leaves(whoosh)[0]
    text_format = leaf.schema[schema.TEXT].format
    assert isinstance(text_format, formats.Positions), type(text_format)
    matcher = leaf.postings(schema.TEXT, "pathway")
    matcher = getattr(matcher, "child", matcher)
    block = _block_data(matcher)
    assert isinstance(block, tuple) and len(block) == 3
    values = block[2]
    assert len(values) == len(block[0]) > 10
    assert all(v[4:9] == b"\x80\x02]q\x00" and v.endswith(b".") for v in values)
    assert _parse_delta_pickles(values) is not None  # the fast path, not the fallback
    assert_deltas_are_whooshs(values, text_format.decode_positions)


POSITION_LISTS = (
    [0],
    [255],
    [3, 256, 65535, 65536, 2**31 - 1],  # each size of pickled int: K, M, J
    list(range(0, 3000, 2)),  # over 1,000 items: pickle batches them, Whoosh decodes
    [7, 7 + 1, 7 + 300],
)


@pytest.mark.parametrize("lists", (POSITION_LISTS[:3] + POSITION_LISTS[4:], POSITION_LISTS))
def test_position_values_of_every_size_are_decoded_as_whoosh_does(lists: tuple) -> None:
    encoder = formats.Positions()
    values = [encoder.encode(positions) for positions in lists]
    assert (_parse_delta_pickles(values) is None) == (len(lists) == len(POSITION_LISTS))
    assert_deltas_are_whooshs(values, encoder.decode_positions)
    assert_deltas_are_whooshs([v[:-1] for v in values], encoder.decode_positions)  # no stop


def assert_deltas_are_whooshs(values: Sequence[bytes], decode: Any) -> None:
    counts, deltas = _position_deltas(values, decode)
    expected = [decode(v) for v in values]
    assert counts.tolist() == [len(p) for p in expected]
    ids = np.arange(len(values), dtype=np.int64)
    keys = _position_keys(ids, counts, deltas).tolist()
    assert keys == [(doc << 32) | p for doc, positions in enumerate(expected) for p in positions]


# -- each reader function against the public API -------------------------------------------


def test_live_documents_and_deletions(reader: GenerationReader, whoosh: Any) -> None:
    live = set(whoosh.all_doc_ids())
    assert reader.live.tolist() == [d in live for d in range(whoosh.doc_count_all())]
    assert reader.documents == whoosh.doc_count() == len(live)
    assert reader.has_deletions == whoosh.has_deletions()
    for leaf, _ in leaves(whoosh):
        deleted = [d for d in range(leaf.doc_count_all()) if leaf.is_deleted(d)]
        assert list(_deleted_docs(leaf)) == deleted


def test_figids_and_years(reader: GenerationReader, whoosh: Any) -> None:
    stored = [whoosh.stored_fields(d).get(schema.FIGID) for d in range(whoosh.doc_count_all())]
    assert reader.figids == stored
    years = [
        year
        for leaf, _ in leaves(whoosh)
        for year in leaf.column_reader(schema.YEAR, translate=True)
    ]
    expected = [MISSING_YEAR if y is None or y >= 65535 else y for y in years]
    assert reader.years.tolist() == expected
    assert (reader.years[reader.live] != MISSING_YEAR).any()


@pytest.mark.parametrize("facet", sorted(schema.FACET_FIELDS))
def test_facet_values(reader: GenerationReader, whoosh: Any, facet: str) -> None:
    expected = []
    for leaf, _ in leaves(whoosh):
        column = leaf.column_reader(schema.facet_column(facet), translate=False)
        expected.extend(
            column[d].decode("utf-8").split(schema.VALUE_SEPARATOR) if column[d] else []
            for d in range(leaf.doc_count_all())
        )
    assert reader.facet_values(facet) == expected


@pytest.mark.parametrize("field", SCORED_FIELDS)
def test_field_lengths(reader: GenerationReader, whoosh: Any, field: str) -> None:
    lengths, average = reader.field_lengths(field)
    expected = [whoosh.doc_field_length(d, field, 0) for d in range(whoosh.doc_count_all())]
    assert lengths.tolist() == expected
    live = list(whoosh.all_doc_ids())
    assert average == pytest.approx(sum(expected[d] for d in live) / len(live), rel=1e-12)


@pytest.mark.parametrize("field", TERM_FIELDS)
def test_postings_of_every_term(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], field: str
) -> None:
    assert postings_of[field], field
    for term, (ids, weights) in postings_of[field].items():
        got_ids, got_weights = reader.postings(field, term)
        assert got_ids.tolist() == ids, (field, term)
        np.testing.assert_array_equal(got_weights, np.asarray(weights, np.float32), (field, term))
        assert reader.doc_frequency(field, term) == len(ids), (field, term)


def test_both_postings_layouts_are_read(whoosh: Any) -> None:
    """Long lists come as W3LeafMatcher blocks, short ones inlined: both are compared above."""
    kinds = set()
    for leaf, _ in leaves(whoosh):
        for term in (b"pathway", b"zyxin"):
            if term in set(leaf.lexicon(schema.TEXT)):
                matcher = leaf.postings(schema.TEXT, term)
                kinds.add(isinstance(getattr(matcher, "child", matcher), W3LeafMatcher))
    assert kinds == {True, False}


@pytest.mark.parametrize("field", (schema.TITLE, schema.GENE))
def test_iter_terms(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], field: str
) -> None:
    expected = {term: len(ids) for term, (ids, _) in postings_of[field].items() if ids}
    assert dict(reader.iter_terms(field)) == expected


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("limit", (3, 500))
def test_expand_prefix(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], prefix: str, limit: int
) -> None:
    for field in (schema.TEXT, schema.GENE):
        live = [t for t in live_terms(postings_of[field]) if t.startswith(prefix)]
        assert reader.expand_prefix(field, prefix, limit) == live[:limit], (field, prefix)


@pytest.mark.parametrize("word", ("pathway", "signl", "stat3", "kinas"))
def test_terms_within(
    reader: GenerationReader, whoosh: Any, postings_of: dict[str, PublicPostings], word: str
) -> None:
    for field in (schema.TEXT, schema.GENE):
        near = {t for leaf, _ in leaves(whoosh) for t in leaf.terms_within(field, word, 2, 1)}
        live = sorted(t for t in near if postings_of[field][t][0])
        assert reader.terms_within(field, word, 2) == live


def test_positions_of_every_term(reader: GenerationReader, whoosh: Any) -> None:
    """Every text term's position keys are Whoosh's own positions, deleted documents out."""
    expected: dict[str, list[int]] = {}
    for leaf, offset in leaves(whoosh):
        for term in leaf.lexicon(schema.TEXT):
            keys = expected.setdefault(term.decode("utf-8"), [])
            matcher = leaf.postings(schema.TEXT, term)
            while matcher.is_active():
                doc = (offset + matcher.id()) << 32
                keys.extend(doc | p for p in matcher.value_as("positions"))
                matcher.next()
    assert len(expected) > 1000
    for term, keys in expected.items():
        assert reader.positions(schema.TEXT, term).tolist() == keys, term


def caption_phrases() -> list[tuple[str, ...]]:
    """Real phrases of 2 to 5 indexed words, as the analyzer leaves them, from the sample
    captions (some in the wrong order, to be found nowhere), and every phrase of up to 5
    words there in which a word repeats ("cell to cell" is "cell cell")."""
    analyzer = schema.text_analyzer()
    phrases: set[tuple[str, ...]] = set()
    for path in sorted(SAMPLE_RECORDS.glob("*.md"))[::6]:
        stems = [t.text for t in analyzer(yaml_caption(path))]
        for start in range(0, max(len(stems) - 5, 0), 17):
            for size in (2, 3, 4, 5):
                window = tuple(stems[start : start + size])
                phrases.update((window, window[::-1]))
        for start in range(len(stems)):
            window = tuple(stems[start : start + 5])
            for size in (2, 3, 4, 5):
                if len(set(window[:size])) < size == len(window[:size]):
                    phrases.add(window[:size])
    return sorted(phrases)


def yaml_caption(path: Path) -> str:
    front = path.read_text(encoding="utf-8").split("---")[1]
    return str(yaml.safe_load(front).get("caption") or "")


PHRASES_OF_CAPTIONS = caption_phrases()


def whoosh_phrase_docs(whoosh: Any, words: Sequence[str]) -> list[int]:
    with Searcher(whoosh, closereader=False) as searcher:
        return sorted(searcher.docs_for_query(wq.Phrase(schema.TEXT, list(words))))


def test_phrases_of_the_sample_captions_are_many_and_varied() -> None:
    assert len(PHRASES_OF_CAPTIONS) > 300
    assert {len(p) for p in PHRASES_OF_CAPTIONS} == {2, 3, 4, 5}
    assert sum(len(set(p)) < len(p) for p in PHRASES_OF_CAPTIONS) > 10  # words repeated


def test_phrase_docs_are_whooshs_phrase_matches(reader: GenerationReader, whoosh: Any) -> None:
    everything = np.ones(reader.n_docs, dtype=bool)
    found = 0
    for words in PHRASES_OF_CAPTIONS:
        expected = whoosh_phrase_docs(whoosh, words)
        got = np.flatnonzero(reader.phrase_docs(schema.TEXT, words, everything)).tolist()
        assert got == expected, words
        found += bool(expected)
    assert 0.3 * len(PHRASES_OF_CAPTIONS) < found < len(PHRASES_OF_CAPTIONS)


@pytest.mark.parametrize("words", PHRASES)
def test_phrase_docs_among_candidates(
    reader: GenerationReader, whoosh: Any, words: tuple[str, ...]
) -> None:
    expected = whoosh_phrase_docs(whoosh, words)
    assert expected, words
    candidates = np.zeros(reader.n_docs, dtype=bool)
    candidates[expected[::2]] = True
    candidates[reader.n_docs // 2 :] = True
    got = np.flatnonzero(reader.phrase_docs(schema.TEXT, words, candidates)).tolist()
    assert got == [d for d in expected if candidates[d]]
    assert not reader.phrase_docs(schema.TEXT, words, np.zeros(reader.n_docs, bool)).any()
    assert not reader.phrase_docs(schema.TEXT, (*words, "zzqx"), candidates).any()


def test_records(reader: GenerationReader, whoosh: Any) -> None:
    live = list(whoosh.all_doc_ids())
    records = reader.records(live)
    assert [r["figid"] for r in records] == [whoosh.stored_fields(d)[schema.FIGID] for d in live]


def test_a_reader_dropped_in_a_reference_cycle_closes_its_files(sample_index: Path) -> None:
    """A Flask app is cyclic garbage: its generation reader must close Whoosh's files
    before the collector finalizes them (each would warn of an unclosed file)."""
    generation = GenerationReader(IndexStore(sample_index).require_current())
    generation.records([0])
    generation.postings(schema.TEXT, "pathway")
    cycle: list[Any] = [generation]
    cycle.append(cycle)
    del generation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del cycle
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
