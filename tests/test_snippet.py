"""Snippets: time linear in the caption's length, and the words marked those a plain
regex would mark."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from indexer.analysis import greek_spellings
from indexer.index.schema import text_analyzer
from indexer.sources import read_records
from server.search import hits
from server.search.hits import snippet
from tests.conftest import SAMPLE_FIGURES, SAMPLE_RECORDS, STAT3_RECORD, sample_path

STEMS = {"stat3", "signal"}  # words found all over the STAT3 figure's caption


def real_caption() -> str:
    front_matter = sample_path(STAT3_RECORD).read_text(encoding="utf-8").split("---")[1]
    return yaml.safe_load(front_matter)["caption"]


def caption_of(size: int) -> str:
    caption = real_caption() + " "
    return (caption * (size // len(caption) + 1))[:size]


def fastest(text: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        snippet(text, STEMS, set())
        times.append(time.perf_counter() - start)
    return min(times)


def test_snippet_time_grows_linearly_with_the_caption():
    # 8x the text: linear work takes ~8x the time, pairwise (quadratic) work ~64x. The
    # bound is generous so a busy machine cannot fail it; the fastest of a few runs
    # smooths out pauses.
    small, large = caption_of(256 * 1024), caption_of(2 * 1024 * 1024)
    assert large.count("STAT3") > 10_000
    snippet(small, STEMS, set())  # warm the word-form memo, as a running server has
    ratio = fastest(large, 3) / fastest(small, 3)
    assert ratio < 32, f"8x the caption took {ratio:.1f}x the time"


def test_huge_caption_snippet_centres_on_the_matches():
    text = "nothing here " * 20_000 + "STAT3 signaling " * 50 + "nothing here " * 20_000
    html = snippet(text, STEMS, set())
    assert html.startswith("…") and html.endswith("…")
    assert html.count("<mark>") >= 10


# -- the finder marks what one plain regex would ------------------------------------------


def reference_spans(text: str, stems: set[str], prefixes: set[str]) -> list[tuple[int, int]]:
    """The marked words as one regex finds them: a look-behind for the word start, every
    Greek spelling of every letter, any case (what ``hits._finder`` does faster)."""
    starts = {s[:-1] if len(s) > 3 else s for s in stems}
    ordered = sorted({s for s in starts | prefixes if s}, key=len, reverse=True)
    if not ordered:
        return []

    def spelled(start: str) -> str:
        parts = []
        for letter in start:
            chars, names = greek_spellings(letter)
            options = [f"[{re.escape(letter + chars)}]", *names] if chars or names else []
            parts.append(f"(?:{'|'.join(options)})" if options else re.escape(letter))
        return "".join(parts)

    alternatives = "|".join(spelled(s) if s in starts else re.escape(s) for s in ordered)
    finder = re.compile(rf"(?<![\w.])(?:{alternatives})\w*(?:\.?\w+)*", re.IGNORECASE)
    return [
        m.span()
        for m in finder.finditer(text)
        if hits._is_match(m.group(), stems, prefixes)
        and (len(m.group()) > 1 or hits._joined(text, *m.span()))
    ]


def sample_texts() -> list[str]:
    texts = []
    for path in sorted(SAMPLE_RECORDS.glob("*.md")):
        (raw,) = read_records(path)
        texts += [raw.data.get("caption") or "", raw.data.get("figtitle") or ""]
    return texts


GREEK_STEMS = {"nf", "kb", "nfkb", "tgfb", "ikba", "ikkb", "gsk3b", "tnfa", "b", "a", "catenin"}


def test_marks_the_words_one_plain_regex_marks_over_every_sample_text():
    texts = sample_texts()
    assert len(texts) == 2 * SAMPLE_FIGURES
    marked = 0
    for number, text in enumerate(texts):
        words = sorted({token.text for token in text_analyzer()(text)})
        stems = set(words[number % 13 :: 13]) | GREEK_STEMS
        prefixes = {w[:3] for w in words[number % 17 :: 17]}
        expected = reference_spans(text, stems, prefixes)
        assert hits._matched_spans(text, stems, prefixes) == expected, (number, stems, prefixes)
        marked += len(expected)
    assert marked > 3_000, marked


def test_the_memo_of_caption_words_keeps_the_recent_ones_within_its_bound(monkeypatch):
    """Pages of hits bring words without end: the memo of their indexed forms forgets
    them all once full (it used to stop learning, keeping the first words for good), and
    marks what it marked with room for every word."""
    texts = [text for text in sample_texts() if text][:60]
    stems, prefixes = {"signal", "kinas", "insulin"}, set("abcdefghijklmnopqrstuvwxyz")
    hits._FORMS.clear()
    roomy = [hits._matched_spans(text, stems, prefixes) for text in texts]
    assert len(hits._FORMS) > 500
    monkeypatch.setattr(hits, "_MAX_FORMS", 50)
    hits._FORMS.clear()
    assert [hits._matched_spans(text, stems, prefixes) for text in texts] == roomy
    assert 0 < len(hits._FORMS) <= 50
    assert hits._FORMS.keys() <= set(re.findall(r"\w+", " ".join(texts[-3:])))
    hits._FORMS.clear()


@pytest.mark.parametrize(
    "text",
    [
        "NF-κB and NF-ΚB, IκBα, TGF-β1, IKKβ, Ικβ; NF-kappaB, TGF-beta and TGFbeta1",
        "İstanbul NF-κB: a text lower-casing changes the length of (İ -> i̇), Σ and ς",
        "xnf-kb, p53.nfkb, _tgfb and .tgfb are inside words; (tgfb) and [NF-kB] are not",
    ],
)
def test_marks_greek_spellings_case_and_word_starts_as_one_plain_regex(text: str):
    for query in ((GREEK_STEMS, set()), (set(), {"nf", "tgf", "i"}), (GREEK_STEMS, {"ik"})):
        assert hits._matched_spans(text, *query) == reference_spans(text, *query)
    assert hits._matched_spans(text, GREEK_STEMS, set())  # the texts do mark something


def test_a_start_with_too_many_greek_spellings_to_search_is_found_by_the_regex():
    text = "Alphaalphaalphaalphaalpha, ααααα and aaaaα-beta, not baaaaa or alphabet"
    stems = {"aaaaa", "aaaaab"}
    assert hits._named_spellings("aaaaa", ["alpha", "beta"]) is None  # 32 spellings
    assert hits._matched_spans(text, stems, set()) == reference_spans(text, stems, set())
    assert len(hits._matched_spans(text, stems, set())) == 3
