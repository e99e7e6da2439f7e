"""The fused English analyzer gives the tokens of Whoosh's own analyzer chain."""

from __future__ import annotations

import re
import sys

import pytest
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.support.charset import accent_map

from indexer.analysis import WORD_PATTERN, EnglishAnalyzer, ValueAnalyzer
from indexer.record import normalize
from indexer.sources import discover, read_records
from tests.conftest import SAMPLE_RECORDS


def sample_captions() -> list[str]:
    captions = []
    for path in discover([SAMPLE_RECORDS]):
        for raw in read_records(path):
            caption = normalize(raw.data, raw.location).caption
            if caption and caption.isascii():
                captions.append(caption)
    return captions


def test_same_tokens_and_positions_as_whoosh_chain_on_real_captions():
    whoosh_chain = StemmingAnalyzer(WORD_PATTERN, minsize=1) | CharsetFilter(accent_map)
    fused = EnglishAnalyzer()
    captions = sample_captions()
    assert len(captions) > 50
    for caption in captions:
        expected = [(t.text, t.pos) for t in whoosh_chain(caption, positions=True)]
        assert [(t.text, t.pos) for t in fused(caption, positions=True)] == expected


def test_character_offsets_point_into_the_original_text():
    text = "Sjögren's NF-κB signalling activates IL-6"
    tokens = [(t.text, text[t.startchar : t.endchar]) for t in EnglishAnalyzer()(text, chars=True)]
    assert tokens == [
        ("sjogren", "Sjögren"),
        ("s", "s"),
        ("nf", "NF"),
        ("κb", "κB"),
        ("signal", "signalling"),
        ("activ", "activates"),
        ("il", "IL"),
        ("6", "6"),
    ]


@pytest.mark.parametrize("removestops", [True, False])
def test_stop_words(removestops):
    tokens = [
        (t.text, t.stopped) for t in EnglishAnalyzer()("the role of p53", removestops=removestops)
    ]
    if removestops:
        assert tokens == [("role", False), ("p53", False)]
    else:
        assert tokens == [("the", True), ("role", False), ("of", True), ("p53", False)]


def test_asterisks_are_not_part_of_words():
    assert [t.text for t in EnglishAnalyzer()("AR* * Known")] == ["ar", "known"]


def all_captions() -> list[str]:
    return [
        normalize(raw.data, raw.location).caption or ""
        for path in discover([SAMPLE_RECORDS])
        for raw in read_records(path)
    ]


@pytest.mark.parametrize(
    "extra",
    ["", "İstanbul İL-6 KİNASE", "ΑΣ'Β ΣΗΜΑ ΟΔΟΣ.ΝΕΑ", "the of and a"],
)
def test_term_positions_are_the_analyzer_tokens_grouped(extra):
    """What indexing writes (``term_positions``) is what queries are analysed into."""
    analyzer = EnglishAnalyzer()
    captions = [c + " " + extra for c in all_captions()]
    assert any(not c.isascii() for c in captions)  # Greek letters, accents
    for caption in captions:
        expected: dict[bytes, list[int]] = {}
        for token in analyzer(caption, positions=True):
            expected.setdefault(token.text.encode("utf-8"), []).append(token.pos)
        assert analyzer.term_positions(caption) == expected, caption


def test_lower_casing_whole_texts_keeps_words_whole():
    """``term_positions`` lower-cases the whole text before splitting it into words. That
    splits it as lower-casing word by word does for every character but "İ" (and the
    context-dependent "Σ"), which it treats apart."""
    word = re.compile(r"\w")
    changed = [
        c
        for c in map(chr, range(sys.maxunicode + 1))
        if not "\ud800" <= c <= "\udfff"
        and (len(c.lower()) != 1 or bool(word.match(c)) != bool(word.match(c.lower())))
    ]
    assert changed == ["\u0130"]


def test_value_term_counts_are_the_value_tokens_counted():
    analyzer = ValueAnalyzer()
    values = ["IL-6\tSTAT3\til-6\t \tNF-κB", " İL-6 \tΟΔΟΣ\tΣMAD\tΑΣ.Β", "", "\t\t"]
    for value in values:
        expected: dict[bytes, int] = {}
        for token in analyzer(value):
            key = token.text.encode("utf-8")
            expected[key] = expected.get(key, 0) + 1
        assert analyzer.term_counts(value) == expected, value
