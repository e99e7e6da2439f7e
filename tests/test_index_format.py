"""The search arrays hold what Whoosh's own (slow, public) API reads, over every shape.

The build derives the generation's search arrays (``indexer.index.arrays``) from the
postings it writes into Whoosh; the reader answers every query from them. These tests
compare every reader function with Whoosh's public API over a one-segment, a
many-segment and an updated index (with deletions and merged segments), and the phrase
positions (which Whoosh does not keep) with the analyzer run again over the stored
records, so a writer, merge or format change that loses or misplaces a posting fails here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import multiprocessing
import os
import pickle
import random
import shutil
import threading
import tracemalloc
import warnings
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from whoosh import index as whoosh_index

from indexer.analysis import name_key
from indexer.index import schema
from indexer.index.arrays import (
    ARRAYS_DIR,
    FORMAT_FILE,
    MAPPED_FROM_BYTES,
    NAME_KINDS,
    GenerationArrays,
    PostingsSource,
    PostingsTable,
    SegmentPostings,
    StringTable,
    merge_postings,
)
from indexer.index.arrays import _load as load_array
from indexer.index.reader import MISSING_YEAR, GenerationReader, RecordColumn
from indexer.index.records import DICTIONARY_BYTES, RecordCodec, pack, unpack
from indexer.index.store import LEXICON_FILE, VOCABULARY_FILE, IndexStore
from indexer.lexicon import GeneLexicon
from indexer.record import Figure
from indexer.vocabulary import Vocabulary
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
SCORED_FIELDS = schema.LENGTH_NORMALISED_FIELDS
PREFIXES = ("s", "stat", "path", "sig", "m", "zz", "signaling", "signalingpathway")
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


@pytest.fixture(scope="module")
def positions_of(reader: GenerationReader) -> dict[str, list[int]]:
    """Text term -> position keys of every live document, from the analyzer run again on
    each stored record's indexed text (Whoosh keeps no positions)."""
    analyzer = schema.text_analyzer()
    expected: dict[str, list[int]] = {}
    live = np.flatnonzero(reader.live).tolist()
    for doc, record in zip(live, reader.records(live), strict=True):
        text = schema.document(Figure.from_dict(unpack(record)), "", "")[schema.TEXT]
        for term, where in analyzer.term_positions(text).items():
            expected.setdefault(term.decode("utf-8"), []).extend((doc << 32) | p for p in where)
    return expected


def test_live_documents_and_deletions(reader: GenerationReader, whoosh: Any) -> None:
    live = set(whoosh.all_doc_ids())
    assert reader.live.tolist() == [d in live for d in range(whoosh.doc_count_all())]
    assert reader.documents == whoosh.doc_count() == len(live)
    assert reader.has_deletions == whoosh.has_deletions()


def test_figids_and_years(reader: GenerationReader, whoosh: Any) -> None:
    stored = [f.decode() for f in whoosh.column_reader(schema.FIGID)]
    assert reader.figids.all() == stored
    live_docnum = {stored[d]: d for d in whoosh.all_doc_ids()}  # an update's replacement
    for figid in stored:
        assert reader.docnum_of(figid) == live_docnum.get(figid)
    assert reader.docnum_of("PMC0__no_such_figure") is None
    years = [
        year
        for leaf, _ in leaves(whoosh)
        for year in leaf.column_reader(schema.YEAR, translate=True)
    ]
    expected = [MISSING_YEAR if y is None or y >= 65535 else y for y in years]
    assert reader.years.tolist() == expected
    assert (reader.years[reader.live] != MISSING_YEAR).any()


@pytest.mark.parametrize("facet", sorted(schema.FACET_FIELDS))
def test_facet_values(reader: GenerationReader, facet: str) -> None:
    """Each live figure's values are its stored record's; a deleted one has none."""
    expected = [
        schema.facet_values(Figure.from_dict(unpack(record)))[facet] if reader.live[d] else []
        for d, record in enumerate(reader.records(range(reader.n_docs)))
    ]
    tables = reader.arrays.facets[facet]
    values = tables.values.all()
    got = [
        [values[o] for o in tables.doc_vals[tables.doc_ptr[d] : tables.doc_ptr[d + 1]]]
        for d in range(reader.n_docs)
    ]
    assert tables.doc_sizes().tolist() == [len(doc) for doc in got]
    # one ordinal for every case of a value, and a value once per document
    folded = [list(dict.fromkeys(v.casefold() for v in doc)) for doc in expected]
    assert [[v.casefold() for v in doc] for doc in got] == folded
    for ordinal, value in enumerate(values):
        start, end = tables.val_ptr[ordinal], tables.val_ptr[ordinal + 1]
        holding = [d for d, doc in enumerate(folded) if value.casefold() in doc]
        assert tables.val_docs[start:end].tolist() == holding, value
        assert tables.val_sizes()[ordinal] == len(holding)
        assert tables.totals[ordinal] == sum(reader.live[d] for d in holding)


def descriptors_under(folder: Path) -> list[str]:
    """The files under ``folder`` that this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own, say)
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(f"{folder}/"):
                found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_only_large_arrays_are_mapped_each_holding_a_file_descriptor(tmp_path: Path) -> None:
    """A mapped file keeps a descriptor open while mapped; smaller files are read, so a
    process holding many generations (a test's; a server's during a swap) keeps few."""
    small = np.arange(100, dtype=np.int32)
    large = np.arange(MAPPED_FROM_BYTES // 4, dtype=np.int32)
    np.save(tmp_path / "small.npy", small)
    np.save(tmp_path / "large.npy", large)
    read, mapped = load_array(tmp_path, "small"), load_array(tmp_path, "large")
    assert descriptors_under(tmp_path) == [str(tmp_path / "large.npy")]
    assert read.tolist() == small.tolist() and mapped.tolist() == large.tolist()
    assert not read.flags.writeable and not mapped.flags.writeable
    del mapped
    gc.collect()
    assert descriptors_under(tmp_path) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_a_generation_holds_a_descriptor_for_its_large_arrays_only(
    reader: GenerationReader,
) -> None:
    folder = reader.path / ARRAYS_DIR
    large = sorted(str(f) for f in folder.rglob("*.npy") if f.stat().st_size >= MAPPED_FROM_BYTES)
    held = set(descriptors_under(folder))  # the reader's own mappings
    assert sorted(held) == large and len(large) < 10


@pytest.mark.parametrize("field", TERM_FIELDS)
def test_frequencies_are_written_only_where_one_is_not_1(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], field: str
) -> None:
    """Exact-value fields (genes, organisms...) hold each term once: all their
    frequencies are 1, read back from no file."""
    some_not_1 = any(w != 1 for _, weights in postings_of[field].values() for w in weights)
    written = (reader.path / ARRAYS_DIR / "postings" / f"{field}.tf.npy").exists()
    assert written == some_not_1, field
    if field in (schema.TEXT, schema.TITLE):  # the sample's figures repeat words
        assert written
    if field in (schema.GENE, schema.ALIAS, schema.ENTREZ, schema.ORGANISM):
        assert not written


@pytest.mark.parametrize("facet", sorted(schema.FACET_FIELDS))
def test_facet_ordinals_are_narrowed(reader: GenerationReader, facet: str) -> None:
    tables = reader.arrays.facets[facet]
    assert tables.doc_vals.dtype.itemsize <= 2, facet  # the sample has under 65,536 genes
    assert len(tables.values) <= np.iinfo(tables.doc_vals.dtype).max + 1


def copied_arrays(reader: GenerationReader, tmp_path: Path) -> Path:
    """A copy of the reader's generation to change (Whoosh's files are not needed)."""
    shutil.copytree(reader.path / ARRAYS_DIR, tmp_path / ARRAYS_DIR)
    return tmp_path


def test_a_lost_frequencies_file_is_an_error_not_frequencies_of_1(
    reader: GenerationReader, tmp_path: Path
) -> None:
    generation = copied_arrays(reader, tmp_path)
    (generation / ARRAYS_DIR / "postings" / "text.tf.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"text\.tf\.npy"):
        GenerationArrays.load(generation)


def test_arrays_of_another_format_are_refused(reader: GenerationReader, tmp_path: Path) -> None:
    generation = copied_arrays(reader, tmp_path)
    described = json.loads((generation / ARRAYS_DIR / FORMAT_FILE).read_text())
    described["format"] = 2
    (generation / ARRAYS_DIR / FORMAT_FILE).write_text(json.dumps(described))
    with pytest.raises(ValueError, match="arrays of format 2, not 3"):
        GenerationArrays.load(generation)


def test_spellings_are_the_vocabularys(reader: GenerationReader) -> None:
    saved = Vocabulary.load_surface(reader.path / VOCABULARY_FILE)
    assert len(saved) > 1_000 and len(reader.spelling) == len(saved)
    for stem, word in saved.items():
        assert reader.spelling.get(stem) == word, stem
    assert reader.spelling.get("zzzz") is None and reader.spelling.get("zzzz", "z") == "z"


def test_autocomplete_names_are_the_lexicons_the_facets_and_the_title_words(
    reader: GenerationReader, whoosh: Any, postings_of: dict[str, PublicPostings]
) -> None:
    """Every name the build wrote, as the lexicon, Whoosh's facet columns and its title
    postings give them (live figures only), in key order then kind."""
    lexicon = GeneLexicon.load(reader.path / LEXICON_FILE)
    expected: dict[tuple[str, str], tuple[str, int]] = {}
    for symbol, figures in lexicon.symbol_figures.items():
        expected[name_key(symbol), "gene"] = (symbol, figures)
    symbols = {key for key, _ in expected}
    for key in lexicon.alias_symbols:
        if key not in symbols and key.strip():
            display = lexicon.alias_display[key]
            expected[key, "alias"] = (display, lexicon.figures_printing(display))
    live = np.flatnonzero(reader.live).tolist()
    figures = [Figure.from_dict(unpack(record)) for record in reader.records(live)]
    for facet in ("organism", "disease"):
        counts: dict[str, list[str]] = {}
        for figure in figures:
            for value in {v.casefold(): v for v in schema.facet_values(figure)[facet]}.values():
                counts.setdefault(value.casefold(), []).append(value)
        for spellings in counts.values():
            expected[name_key(spellings[0]), facet] = (spellings[0], len(spellings))
    for stem, (docs, _) in postings_of[schema.TITLE].items():
        word = reader.spelling.get(stem, stem)
        if docs and len(word) > 2 and not word.isdigit():
            expected.setdefault((name_key(word), "word"), (word, len(docs)))
    names = reader.arrays.suggest
    rows = [names.row(i) for i in range(len(names))]
    got = {(n.key, n.kind): (n.text, n.figures) for n in rows}
    assert len(rows) == len(got) == len(expected) and got == expected
    order = [(n.key.encode(), NAME_KINDS.index(n.kind)) for n in rows]
    assert order == sorted(order)
    stat3 = next(n for n in rows if n.key == name_key("STAT3") and n.kind == "gene")
    assert stat3.extra == {"entrez": lexicon.entrez("STAT3")} == {"entrez": "6774"}


def test_records_read_back_whole_and_smaller_with_the_trained_dictionary(
    reader: GenerationReader,
) -> None:
    records = [unpack(r) for r in reader.records(np.flatnonzero(reader.live).tolist())]
    trained = RecordCodec.trained(records)
    least, most = DICTIONARY_BYTES
    assert trained.dictionary is not None and least <= len(trained.dictionary) <= most
    plain = RecordCodec()
    assert [unpack(trained.decode(trained.encode(r))) for r in records] == records
    sent = pickle.loads(pickle.dumps(trained))  # as the build sends it to its workers
    assert sent.dictionary == trained.dictionary
    assert [unpack(sent.decode(trained.encode(r))) for r in records] == records
    with_dictionary = sum(len(trained.encode(r)) for r in records)
    assert with_dictionary < 0.8 * sum(len(plain.encode(r)) for r in records)


def _decode_from_threads(codec: RecordCodec, records: list[dict[str, Any]]) -> None:
    """In a child process: every record encoded once, then decoded by 4 threads at once
    (a serving worker's threads read records so); exits 0 if every decoding is right."""
    stored = [codec.encode(record) for record in records]
    expected = [pack(record) for record in records]
    wrong: list[object] = []

    def decode_all() -> None:
        for _ in range(10):
            for i, blob in enumerate(stored):
                try:
                    if codec.decode(blob) != expected[i]:
                        wrong.append(i)
                except Exception as exc:  # zstd: "Data corruption detected"
                    wrong.append(exc)

    threads = [threading.Thread(target=decode_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os._exit(1 if wrong else 0)


def test_records_decode_right_from_several_threads_at_once(reader: GenerationReader) -> None:
    """zstd's contexts are not thread-safe (threads sharing one read corrupt records, or
    crashed the process): each thread decodes with its own."""
    live = [unpack(r) for r in reader.records(np.flatnonzero(reader.live).tolist())]
    words = " ".join(str(record["caption"]) for record in live).split()
    draw = random.Random(0)  # long texts that compress little: decodes that take a while
    records = [{**record, "text": " ".join(draw.choices(words, k=1000))} for record in live[:50]]
    codec = RecordCodec.trained(records)
    child = multiprocessing.get_context("fork").Process(
        target=_decode_from_threads, args=(codec, records)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, f"decoding from 4 threads: exit code {child.exitcode}"


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


@pytest.mark.parametrize("field", TERM_FIELDS)
def test_terms_looked_up_together_as_one_by_one(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], field: str
) -> None:
    present = sorted(postings_of[field])
    # absent terms around present ones: longer (sharing the first 8 bytes), shorter,
    # before the first and after the last
    absent = [t + "zz" for t in present] + [t[:-1] for t in present] + ["", "\uffff"]
    asked = present + absent
    expected = [len(postings_of[field].get(t, ([], []))[0]) for t in asked]
    assert reader.doc_frequencies(field, asked) == expected
    assert reader.doc_frequencies(field, []) == []


@pytest.mark.parametrize("field", TERM_FIELDS)
def test_no_term_more_nor_less_than_whoosh_holds(
    reader: GenerationReader, postings_of: dict[str, PublicPostings], field: str
) -> None:
    assert dict(reader.iter_terms(field)) == {
        term: len(ids) for term, (ids, _) in postings_of[field].items() if ids
    }


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


def test_positions_of_every_term(
    reader: GenerationReader, positions_of: dict[str, list[int]]
) -> None:
    """Every text term's position keys are the analyzer's own positions, in order."""
    assert len(positions_of) > 1000
    for term, keys in positions_of.items():
        assert reader.positions(schema.TEXT, term).tolist() == sorted(keys), term
    assert reader.positions(schema.TEXT, "zzqxnothing").tolist() == []


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


def expected_phrase_docs(positions_of: dict[str, list[int]], words: Sequence[str]) -> list[int]:
    """Documents where ``words`` follow each other, from the analyzer's positions."""
    places = {word: set(positions_of.get(word, ())) for word in words}
    starts = {key - i for i, word in enumerate(words[:1]) for key in places[word]}
    found = [
        key
        for key in starts
        if all(
            key + i in places[word] and (key + i) >> 32 == key >> 32 for i, word in enumerate(words)
        )
    ]
    return sorted({key >> 32 for key in found})


def test_phrases_of_the_sample_captions_are_many_and_varied() -> None:
    assert len(PHRASES_OF_CAPTIONS) > 300
    assert {len(p) for p in PHRASES_OF_CAPTIONS} == {2, 3, 4, 5}
    assert sum(len(set(p)) < len(p) for p in PHRASES_OF_CAPTIONS) > 10  # words repeated


def test_phrase_docs_are_the_analyzers_phrases(
    reader: GenerationReader, positions_of: dict[str, list[int]]
) -> None:
    everything = np.ones(reader.n_docs, dtype=bool)
    found = 0
    made: dict[tuple[str, str], np.ndarray] = {}  # one query's positions, as a query keeps them
    for words in PHRASES_OF_CAPTIONS:
        expected = expected_phrase_docs(positions_of, words)
        got = np.flatnonzero(reader.phrase_docs(schema.TEXT, words, everything)).tolist()
        assert got == expected, words
        again = reader.phrase_docs(schema.TEXT, words, everything, made)
        assert np.flatnonzero(again).tolist() == expected, words
        found += bool(expected)
    assert 0.3 * len(PHRASES_OF_CAPTIONS) < found < len(PHRASES_OF_CAPTIONS)
    assert set(made) == {(schema.TEXT, w) for words in PHRASES_OF_CAPTIONS for w in words}


@pytest.mark.parametrize("words", PHRASES)
def test_phrase_docs_among_candidates(
    reader: GenerationReader, positions_of: dict[str, list[int]], words: tuple[str, ...]
) -> None:
    expected = expected_phrase_docs(positions_of, words)
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
    figids = [f.decode() for f in whoosh.column_reader(schema.FIGID)]
    assert [r["figid"] for r in records] == [figids[d] for d in live]


def test_record_bytes_are_whooshs_in_every_segment(whoosh: Any) -> None:
    """The record column read straight from the segments' files (deleted documents'
    too) is what Whoosh's own column reader reads."""
    stock = whoosh.column_reader(schema.RECORD)
    direct = RecordColumn(whoosh.column_reader(schema.RECORD))
    assert [direct[d] for d in range(whoosh.doc_count_all())] == list(stock)
    assert all(read.__name__ == "read" for read in direct._segments)  # none through Whoosh


def test_a_record_column_inside_a_compound_segment_is_read_through_whoosh(
    tmp_path: Path,
) -> None:
    ix = whoosh_index.create_in(str(tmp_path), schema.build_schema())
    with ix.writer() as writer:  # Whoosh's own writer: one compound file a small segment
        writer.add_document(**{schema.FIGID: b"PMC1__f1", schema.RECORD: b"one record"})
    with ix.reader() as one:
        assert one.segment().is_compound()
        column = RecordColumn(one.column_reader(schema.RECORD))
        assert column[0] == b"one record"
        assert column._segments[0].__name__ == "__getitem__"


def test_without_pread_records_are_read_through_whoosh(
    whoosh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows has no ``os.pread`` (``pfocr serve`` runs there under waitress)."""
    monkeypatch.delattr("os.pread")
    column = RecordColumn(whoosh.column_reader(schema.RECORD))
    assert all(read.__name__ == "__getitem__" for read in column._segments)
    assert [column[d] for d in range(whoosh.doc_count_all())] == list(
        whoosh.column_reader(schema.RECORD)
    )


def test_a_reader_dropped_in_a_reference_cycle_closes_its_files(sample_index: Path) -> None:
    """A Flask app is cyclic garbage: its generation reader must close Whoosh's files
    before the collector finalizes them (each would warn of an unclosed file)."""
    generation = GenerationReader(IndexStore(sample_index).require_current())
    generation.records([0])
    generation.terms_within(schema.TEXT, "pathway", 1)
    cycle: list[Any] = [generation]
    cycle.append(cycle)
    del generation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del cycle
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


# -- the format's own pieces, on small hand-made tables ------------------------------------


def table_of(terms: dict[str, list[tuple[int, list[int]]]]) -> PostingsTable:
    """A phrase table from term -> [(doc, positions)], terms sorted by their bytes."""
    segment = SegmentPostings()
    ordered = sorted(t.encode("utf-8") for t in terms)
    postings = [  # as the writer pools them: docnum, frequency, ...
        array("I", [x for doc, where in terms[t.decode("utf-8")] for x in (doc, len(where))])
        for t in ordered
    ]
    positions = {
        t: array("I", [p for _, where in terms[t.decode("utf-8")] for p in where]) for t in ordered
    }
    segment.add_field(schema.TEXT, ordered, postings, positions)
    return segment.tables[schema.TEXT]


def test_merge_interleaved_sources_keeps_each_terms_documents_in_order() -> None:
    one = table_of({"a": [(0, [1]), (1, [0, 4])], "b": [(1, [2])]})
    two = table_of({"a": [(0, [3]), (1, [8, 9]), (2, [7])], "c": [(1, [5, 6])]})
    sources = [
        PostingsSource({schema.TEXT: one}, np.array([0, 2])),  # its documents 0, 1 -> 0, 2
        PostingsSource({schema.TEXT: two}, np.array([1, -1, 3])),  # its 1 is gone
    ]
    merged = merge_postings(sources, schema.TEXT)
    assert merged is not None and merged.terms.all() == ["a", "b"]  # c's one figure is gone
    assert merged.postings("a")[0].tolist() == [0, 1, 2, 3]
    assert merged.postings("a")[1].tolist() == [1.0, 1.0, 2.0, 1.0]
    assert merged.positions("a").tolist() == [
        (0 << 32) | 1,
        (1 << 32) | 3,
        (2 << 32),
        (2 << 32) | 4,
        (3 << 32) | 7,
    ]
    assert merged.postings("b")[0].tolist() == [2]
    assert merged.doc_frequency("c") == 0 and merged.positions("c").tolist() == []
    gone = PostingsSource({schema.TEXT: two}, np.array([-1, -1, -1]))
    assert merge_postings([gone], schema.TEXT) is None


def test_terms_sharing_their_first_bytes_and_prefixes_are_found() -> None:
    words = ["sign", "signaling", "signalingpathway", "signalinx", "signalingz", "zz", "é", "αβ"]
    table = table_of({w: [(i, [0])] for i, w in enumerate(words)})
    for i, word in enumerate(words):
        assert table.postings(word)[0].tolist() == [i], word
    assert table.find("signalin") is None and table.find("") is None
    assert table.with_prefix("signaling", 10) == ["signaling", "signalingpathway", "signalingz"]
    assert table.with_prefix("signal", 2) == ["signaling", "signalingpathway"]
    assert table.with_prefix("é", 10) == ["é"] and table.with_prefix("q", 10) == []
    assert StringTable.of([w.encode() for w in words]).all() == words
    # keys in the other byte order (an index copied between machines) find the same
    foreign = dataclasses.replace(table, key8=table.key8.astype(table.key8.dtype.newbyteorder()))
    assert [foreign.find(w) for w in words] == [table.find(w) for w in words]
    assert foreign.find("signalin") is None
    assert foreign.doc_frequencies(words) == table.doc_frequencies(words) == [1] * len(words)


@pytest.mark.parametrize("field", schema.LOOKUP_FIELDS)
def test_lookup_fields_hold_each_live_figures_values(reader: GenerationReader, field: str) -> None:
    """Fields only the search arrays index: each live figure's values, as its document
    gives them, and nothing of deleted figures."""
    analyzer = schema.value_analyzer()
    expected: dict[str, list[int]] = {}
    live = np.flatnonzero(reader.live).tolist()
    for doc, record in zip(live, reader.records(live), strict=True):
        value = schema.document(Figure.from_dict(unpack(record)), "", "")[field]
        for term in analyzer.term_counts(value):
            expected.setdefault(term.decode("utf-8"), []).append(doc)
    assert expected, field
    assert dict(reader.iter_terms(field)) == {t: len(docs) for t, docs in expected.items()}
    for term, docs in expected.items():
        assert reader.postings(field, term)[0].tolist() == docs, (field, term)


def paged_terms() -> dict[str, list[tuple[int, list[int]]]]:
    """Terms over documents of four pages of 65,536: in one page, spanning several, with
    pages empty between, at each page's first and last document, and in the last only."""
    rng = np.random.default_rng(7)
    page = 1 << 16
    docs = {
        "all": sorted(rng.choice(4 * page, 3_000, replace=False).tolist()),
        "edges": [0, page - 1, page, 2 * page - 1, 3 * page, 4 * page - 1],
        "first": [1, 5, 9],
        "gap": [3, 3 * page + 2],  # pages 1 and 2 empty
        "last": [3 * page + 7, 4 * page - 2],
        "one": [2 * page + 11],
    }
    return {t: [(d, [i % 7, 9]) for i, d in enumerate(ds)] for t, ds in docs.items()}


def test_postings_of_several_pages_read_back_whole(tmp_path: Path) -> None:
    terms = paged_terms()
    PostingsTable.save(table_of(terms), tmp_path, "text")
    assert np.load(tmp_path / "text.docs.npy").dtype == np.uint16
    loaded = PostingsTable.load(tmp_path, "text")
    assert loaded.pages is not None and loaded.pages.shape == (len(terms), 3)
    for term, postings in terms.items():
        assert loaded.postings(term)[0].tolist() == [d for d, _ in postings], term
        assert loaded.positions(term).tolist() == [(d << 32) | p for d, ps in postings for p in ps]
    whole = [d for term in sorted(terms) for d, _ in terms[term]]
    assert loaded.all_docs().tolist() == whole
    assert loaded.unpaged().pages is None and loaded.unpaged().docs.tolist() == whole


def test_a_paged_table_carried_over_merges_as_the_table_it_was(tmp_path: Path) -> None:
    terms = paged_terms()
    table = table_of(terms)
    table.save(tmp_path, "text")
    loaded = PostingsTable.load(tmp_path, "text")
    n_docs = 4 << 16
    doc_map = np.arange(n_docs, dtype=np.int32)
    doc_map[[5, 3 << 16, (4 << 16) - 1]] = -1  # replaced or removed by an update
    merged = [
        merge_postings([PostingsSource({schema.TEXT: t}, doc_map)], schema.TEXT)
        for t in (table, loaded)
    ]
    assert merged[0] is not None and merged[1] is not None
    for term in terms:
        assert merged[1].postings(term)[0].tolist() == merged[0].postings(term)[0].tolist()
        assert merged[1].positions(term).tolist() == merged[0].positions(term).tolist()
    assert 5 not in merged[1].postings("first")[0].tolist()


def test_a_table_of_about_one_posting_a_term_keeps_whole_document_numbers(
    tmp_path: Path,
) -> None:
    """Pages cost 8 bytes a term: where that outweighs 2 bytes saved a posting (lookup
    tables: a name, a figure), document numbers stay whole."""
    terms = {f"name{d:06d}": [(d, [0])] for d in range(0, 4 << 16, 997)}
    table_of(terms).save(tmp_path, "names")
    assert np.load(tmp_path / "names.docs.npy").dtype == np.int32
    assert not (tmp_path / "names.pages.npy").exists()
    loaded = PostingsTable.load(tmp_path, "names")
    assert loaded.pages is None
    for term, postings in terms.items():
        assert loaded.postings(term)[0].tolist() == [postings[0][0]]


def test_a_documents_facet_values_cost_the_same_however_many_came_before() -> None:
    """Adding a document's facet values allocates for that document only: it once built
    a list as long as the segment for every facet of every document (quadratic in the
    segment's size: 6 lists of 100k entries, 4.8 MB, for each document here)."""
    segment = SegmentPostings()
    values = {facet: b"" for facet in schema.FACET_KEYS}
    for number in range(20_000):
        segment.add_document(f"figure {number}", values)
    tracemalloc.start()
    try:
        segment.add_document("one more", {**values, "gene": b"TP53\tMDM2"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000
    late = SegmentPostings()
    late.add_document("a", {"gene": b"TP53"})
    late.add_document("b", {"gene": b"", "organism": b"Homo sapiens"})
    assert late.facets == {"gene": [b"TP53", b""], "organism": [b"", b"Homo sapiens"]}
