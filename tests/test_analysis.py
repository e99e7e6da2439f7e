"""The fused English analyzer gives the tokens of Whoosh's own analyzer chain with
Snowball's English stemmer, but for its own word rules (Greek letters, plurals, symbols,
-sis nouns), which are tested here too."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest
import Stemmer
from hypothesis import given
from hypothesis import strategies as st
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.support.charset import accent_map

from indexer import analysis, lexicon
from indexer.analysis import (
    GREEK_NAMES,
    WORD_PATTERN,
    EnglishAnalyzer,
    NameAnalyzer,
    NameText,
    SymbolText,
    ValueAnalyzer,
    fold_accents,
    fold_greek,
    name_key,
    symbol_terms,
    title_key,
    written_term,
)
from indexer.language import american_spelling
from indexer.record import normalize
from indexer.sources import discover, read_records
from tests.conftest import ROOT, SAMPLE_RECORDS


def sample_captions() -> list[str]:
    captions = []
    for path in discover([SAMPLE_RECORDS]):
        for raw in read_records(path):
            caption = normalize(raw.data, raw.location).caption
            if caption and caption.isascii():
                captions.append(caption)
    return captions


def test_same_tokens_and_positions_as_whoosh_chain_on_real_captions():
    """Whoosh's chain splits, drops stop words and numbers positions as we do; a term
    differs from its stem only where one of our word rules applies to the word."""
    snowball = Stemmer.Stemmer("english")
    whoosh_chain = StemmingAnalyzer(WORD_PATTERN, stemfn=snowball.stemWord, minsize=1)
    whoosh_chain |= CharsetFilter(accent_map)
    fused = EnglishAnalyzer()
    captions = sample_captions()
    assert len(captions) > 50
    ruled = set()
    for caption in captions:
        expected = []
        for t in whoosh_chain(caption, positions=True, keeporiginal=True):
            own = written_term(t.original)
            if own != t.text:
                ruled.add((t.original, own))
            expected.append((own, t.pos))
        assert [(t.text, t.pos) for t in fused(caption, positions=True)] == expected
    # the rules do apply in real captions: Greek names, plurals, short capitals, -sis
    assert {("gamma", "g"), ("mice", "mous"), ("IRS", "irs"), ("apoptosis", "apoptot")} <= ruled
    assert {("GPCRs", "gpcr")} <= ruled  # the plural of a word without vowels
    assert {("tumour", "tumor"), ("haem", "heme")} <= ruled  # British spellings
    assert all(
        word.isupper()
        or word in ("gamma", "mice")
        or word.endswith("sis")
        or word[-1] in "sS"
        or american_spelling(word.lower()) != word.lower()
        for word, _ in ruled
    ), ruled


@pytest.mark.parametrize(
    "spellings",
    [
        ["NF-κB", "NF-kB", "NF-kappaB", "NF-ΚB"],
        ["TNF-α", "TNF-alpha", "TNF-ALPHA"],
        ["TGF-β1", "TGF-beta1", "TGF-b1"],
        ["IFN-γ", "IFN-gamma", "IFN-g"],
        ["β-catenin", "beta-catenin", "Β-Catenin", "B-catenin"],
        ["PKCθ", "PKCtheta", "PKCQ"],
        ["IκBα", "IkappaBalpha", "IkBa"],
        ["α5β1", "alpha5beta1"],
        ["mice", "mouse", "Mouse"],
    ],
)
def test_spellings_of_one_name_are_one_term(spellings):
    analyzer = EnglishAnalyzer()
    forms = {tuple(t.text for t in analyzer(s)) for s in spellings}
    assert len(forms) == 1, forms
    assert len({tuple(analyzer.term_positions(s)) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("alphabet betaine diabetes deltas", ["alphabet", "betain", "diabet", "delta"]),
        ("synthetase", ["synthetas"]),  # its "theta" is no Greek letter
        ("TNF-a", ["tnf"]),  # a typed "a" is still the article
        ("IRS Irs ACE Aces", ["irs", "ir", "ace", "ace"]),  # short capitals: symbols
        ("NOS Nos Ras RAS ROS", ["nos", "nos", "ras", "ras", "ros"]),  # Snowball keeps them
        ("CELLS TLRs MMPs", ["cell", "tlr", "mmp"]),  # long words and plurals of symbols
        ("apoptosis apoptotic biosynthesis biosynthetic", ["apoptot"] * 2 + ["biosynthet"] * 2),
        ("angiogenesis angiogenic basis genesis", ["angiogen", "angiogen", "basi", "genesi"]),
        ("organism organic organ", ["organism", "organic", "organ"]),  # unlike Porter's
    ],
)
def test_word_rules(text, terms):
    assert [t.text for t in EnglishAnalyzer()(text)] == terms


def test_a_figures_own_short_gene_names_are_not_stemmed():
    text = "Irs and IR activate ANS; caspases cleave"
    names = symbol_terms(["Irs", "ANS", "Caspase", "KRAS", "IL-6", "PLA2G2E", "Ras"])
    assert names == {"irs": "irs", "ans": "ans", "pla2g2e": "pla2g2e"}
    analyzer = EnglishAnalyzer()
    plain = [t.text for t in analyzer(text)]
    own = [t.text for t in analyzer(SymbolText(text, names))]
    assert plain == ["ir", "ir", "activ", "ans", "caspas", "cleav"]
    assert own == ["irs", "ir", "activ", "ans", "caspas", "cleav"]
    assert analyzer.term_positions(SymbolText(text, names))[b"irs"] == [0]


def test_name_keys_fold_spellings_and_dashes():
    same = [
        ["NF-κB", "NF-kB", "NF-kappaB", "NFKB", "nf kappa b"],
        ["IL-6", "IL6", "il-6", "İL-6"],
        ["GSK-3β", "GSK3beta", "GSK-3b"],
        ["C/EBPα", "C/EBPalpha", "c/ebpa"],
    ]
    for names in same:
        assert len({name_key(n) for n in names}) == 1, names
    assert name_key("ERK1/2") == "erk1/2"
    assert name_key("diabetes") == "diabetes"


def test_character_offsets_point_into_the_original_text():
    text = "Sjögren's NF-κB signalling activates IL-6"
    tokens = [(t.text, text[t.startchar : t.endchar]) for t in EnglishAnalyzer()(text, chars=True)]
    assert tokens == [
        ("sjogren", "Sjögren"),
        ("s", "s"),
        ("nf", "NF"),
        ("kb", "κB"),
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
    [
        "",
        "İstanbul İL-6 KİNASE",
        "ΑΣ'Β ΣΗΜΑ ΟΔΟΣ.ΝΕΑ",
        "the of and a",
        "NOS Ras TGF-beta NF-kappaB mice SOCS3",
    ],
)
@pytest.mark.parametrize("symbols", [{}, {"ras": "ras", "nos": "nos"}])
def test_term_positions_are_the_analyzer_tokens_grouped(extra, symbols):
    """What indexing writes (``term_positions``) is what queries are analysed into."""
    analyzer = EnglishAnalyzer()
    captions = [SymbolText(c + " " + extra, symbols) for c in all_captions()]
    assert any(not c.isascii() for c in captions)  # Greek letters, accents
    for caption in captions:
        expected: dict[bytes, list[int]] = {}
        for token in analyzer(caption, positions=True):
            expected.setdefault(token.text.encode("utf-8"), []).append(token.pos)
        assert analyzer.term_positions(caption) == expected, caption


@pytest.mark.parametrize("analyzer", [ValueAnalyzer(), NameAnalyzer()])
def test_value_term_counts_are_the_value_tokens_counted(analyzer):
    values = ["IL-6\tSTAT3\til-6\t \tNF-κB\tNF-kB", " İL-6 \tΟΔΟΣ\tΣMAD\tΑΣ.Β", "", "\t\t-"]
    for value in values:
        expected: dict[bytes, int] = {}
        for token in analyzer(value):
            key = token.text.encode("utf-8")
            expected[key] = expected.get(key, 0) + 1
        assert analyzer.term_counts(value) == expected, value


@pytest.mark.parametrize(
    "names",
    [["IL-6", "STAT3", "il-6", "NF-κB", "-", "NFKB"], ["İL-6", "ΣMAD"], [], ["a\tb", "c"]],
)
def test_names_with_their_keys_count_as_their_text(names):
    """Keys made in advance (NameText) give the terms the analyzer makes from the text; a
    name holding a tab (two values in the text) makes the analyzer key the text itself."""
    analyzer = NameAnalyzer()
    text = NameText(names, [name_key(name) for name in names])
    assert text == "\t".join(names)
    assert analyzer.term_counts(text) == analyzer.term_counts("\t".join(names))
    assert analyzer.term_counts(text) == {
        key: count for key, count in Counter(t.text.encode("utf-8") for t in analyzer(text)).items()
    }


# A long run of letters before a dash made the word pattern backtrack exponentially where
# a whole name had to match it (2^40 steps for a 40-letter printed name): the build hung.
LONG_NAMES = [
    "phosphatidylinositolphosphatekinase" + "x" * 5 + "-3",
    "A" * 60 + "/B",
    "q" * 500 + ".",
]


def test_long_printed_names_are_analysed_at_once():
    code = (
        "from indexer.analysis import symbol_terms, title_key\n"
        "from indexer.index.schema import text_analyzer\n"
        f"names = {LONG_NAMES!r}\n"
        "symbol_terms(names)\n"
        "[title_key(n) for n in names]\n"
        "[list(text_analyzer()(n)) for n in names]\n"
    )
    # in a child process, so that a regex stuck in C (holding the GIL) can be timed out
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


@pytest.mark.parametrize(
    "text", ["a.b.c d..e f. .g", "NF-κB/p65 ERK1/2 p53. 3.5 x_y __ a.", *LONG_NAMES]
)
def test_words_are_the_tokens_of_whooshs_word_pattern(text):
    whooshs = re.compile(r"\w+(?:\.?\w+)*")  # RegexTokenizer's default, without its "*"
    assert re.findall(WORD_PATTERN, text) == whooshs.findall(text)


def sample_titles() -> list[str]:
    titles = []
    for path in discover([SAMPLE_RECORDS]):
        for raw in read_records(path):
            figure = normalize(raw.data, raw.location)
            titles += [t for t in (figure.figtitle, figure.papertitle) if t]
    return titles


GREEK_TITLES = [
    "TGF-beta1 and NF-kappaB in IkappaBalpha αβ T cells",
    "alpha5beta1 integrin: alphas, alphabet, betaine, diabetes, deltas, synthetase",
    "Ικβα ΣMAD κappa-B alpha_2 beta.1 gammab gammas theta2 kappab",
    "ALPHA Beta GAMMA-delta epsilon4 zeta_chain omega-3 lambda sigma70 iota",
]


@pytest.mark.parametrize("title", GREEK_TITLES + sample_titles())
def test_a_title_key_is_its_words_each_folded(title):
    """A title's key folds each word's Greek spellings as that word alone would fold."""
    words = re.findall(WORD_PATTERN, fold_accents(title).lower())
    assert title_key(title) == " ".join(fold_greek(word) for word in words)


@given(
    st.lists(
        st.sampled_from([*GREEK_NAMES, "s", "b", "1", "5", "x", "-", " ", ".", "_", "α", "κ"]),
        max_size=12,
    )
)
def test_a_title_key_folds_as_its_words_over_generated_titles(pieces):
    title = "".join(pieces)
    words = re.findall(WORD_PATTERN, fold_accents(title).lower())
    assert title_key(title) == " ".join(fold_greek(word) for word in words)


def test_word_memos_are_counted_and_forgotten_together() -> None:
    """What a server bounds: every word memo (of the analysis, and the names printed in a
    typed word), counted as one."""
    assert lexicon.printed_names in analysis._WORD_MEMOS
    analysis.clear_word_memos()
    assert analysis.word_memo_entries() == 0
    for word in ("kinases", "nf-kappab", "ras", "apoptosis", "ERK1/2"):
        analysis.written_term(word)
        analysis.name_key(word)
        analysis.name_terms(word.upper())
        lexicon.printed_names(word)
    memos = analysis._WORD_MEMOS
    assert all(memo.cache_info().currsize for memo in memos), [m.cache_info() for m in memos]
    assert analysis.word_memo_entries() == sum(m.cache_info().currsize for m in memos)
    analysis.clear_word_memos()
    assert analysis.word_memo_entries() == 0
