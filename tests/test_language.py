"""British -> American spellings and the query stop words: the shipped lists, their
loaders, and the productive spelling rules checked against the pairs.

The tests marked ``scowl`` also read SCOWL's word lists as Debian installs them
(``apt-get install scowl``, as .ci/run does); without them they are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer import language
from indexer.data import derive_query_stopwords, derive_spellings
from indexer.language import (
    PRODUCTIVE_RULES,
    QUERY_STOP_WORDS,
    LanguageDataError,
    american_spelling,
    spelling_pairs,
)
from indexer.nomenclature import GeneNomenclature

SCOWL = Path(os.environ.get("SCOWL_DIR", "/usr/share/dict/scowl"))
scowl = pytest.mark.skipif(
    not (SCOWL / "british-words.10").is_file(), reason=f"SCOWL lists not at {SCOWL}"
)

REQUIRED = {
    "haemodynamic": "hemodynamic", "hyperlipidaemia": "hyperlipidemia",
    "tumour": "tumor", "tumours": "tumors", "signalling": "signaling", "haem": "heme",
    "haematopoiesis": "hematopoiesis", "haematopoietic": "hematopoietic",
    "oestrogen": "estrogen", "leukaemia": "leukemia", "anaemia": "anemia",
    "oedema": "edema", "ischaemia": "ischemia", "glycaemia": "glycemia",
    "paediatric": "pediatric", "foetal": "fetal", "oesophagus": "esophagus",
    "behaviour": "behavior", "fibre": "fiber", "centre": "center",
    "localisation": "localization", "haemoglobin": "hemoglobin", "labelled": "labeled",
    "modelling": "modeling", "analyse": "analyze", "catalyse": "catalyze",
    "sulphur": "sulfur", "ageing": "aging",
}  # fmt: skip

# Words SCOWL lacks, that the productive rules fold.
PRODUCTIVE = {
    "oesophageal": "esophageal", "haemangioblastoma": "hemangioblastoma",
    "hypoglycaemic": "hypoglycemic", "haematopoietically": "hematopoietically",
    "oligomerisation": "oligomerization", "heterodimerisation": "heterodimerization",
    "tumourigenesis": "tumorigenesis", "antitumour": "antitumor",
    "neovascularisation": "neovascularization", "haemodialysate": "hemodialysate",
    "normoglycaemic": "normoglycemic", "colocalisation": "colocalization",
    "hypercholesterolaemic": "hypercholesterolemic", "oesophagogastric": "esophagogastric",
}  # fmt: skip

# American words, and words that merely hold the letters of a British form.
UNCHANGED = (
    "tumor", "signaling", "heme", "hem", "estrogen", "aerobic", "aerosol", "aerogenic",
    "aesthetic", "phoenix", "poem", "shoe", "does", "canoe", "coexist", "four", "pour",
    "court", "contour", "labor", "program", "aging", "analyses", "lyse", "lysed",
    "dialysis", "paralysis", "improvisation", "irisation", "signally", "shoestring",
    "phytoestrogen", "pseudoedema", "propaedeutic", "proestrus", "hypoesthesia",
    "neuroepithelium", "trichloroethylene", "zoea", "mandril", "noetic", "caecilian",
    "paedometer", "precise", "promise", "exercise", "advertise", "premise", "",
)  # fmt: skip


@pytest.mark.parametrize(("british", "american"), sorted(REQUIRED.items()))
def test_british_spellings_fold_to_american(british, american):
    assert american_spelling(british) == american


@pytest.mark.parametrize(("british", "american"), sorted(PRODUCTIVE.items()))
def test_words_scowl_lacks_fold_by_the_productive_rules(british, american):
    assert british not in spelling_pairs()
    assert american_spelling(british) == american


@pytest.mark.parametrize("word", UNCHANGED)
def test_american_words_and_lookalikes_are_unchanged(word):
    assert american_spelling(word) == word


def test_the_table_maps_no_word_to_itself_and_makes_no_chain():
    pairs = spelling_pairs()
    assert len(pairs) > 9000
    assert all(british != american for british, american in pairs.items())
    assert not set(pairs.values()) & set(pairs)  # no American form is a British one
    assert all(b.islower() and a.islower() for b, a in pairs.items())


def test_folding_twice_changes_nothing_more():
    words = [*spelling_pairs(), *PRODUCTIVE, *UNCHANGED]
    once = [american_spelling(word) for word in words]
    assert [american_spelling(word) for word in once] == once


def test_each_productive_rule_agrees_with_every_shipped_pair_it_touches():
    pairs = spelling_pairs()
    for rule in PRODUCTIVE_RULES:
        touched = {b: a for b, a in pairs.items() if rule.pattern.search(b)}
        assert len(touched) >= 2, rule  # confirmed by SCOWL's pairs
        for british, american in touched.items():
            result = rule.apply(british)
            # the rule's change is on the way to SCOWL's form ("anaesthetise": the table
            # makes "-ize")
            assert result == american or american in derive_spellings.rewritten(result), (
                rule,
                british,
            )


def test_the_shipped_table_is_sorted_with_its_source_and_licence():
    text = language.SPELLINGS.read_text(encoding="utf-8")
    assert "SCOWL (Spell Checker Oriented Word Lists) 2020.12.07" in text
    assert "Copyright 2000-2011 by Kevin" in text  # the notice SCOWL's licence asks for
    rows = [line for line in text.splitlines() if not line.startswith("#")][1:]
    assert rows == sorted(rows)


def test_excluded_pairs_are_not_shipped():
    assert derive_spellings.EXCLUDED
    assert not set(derive_spellings.EXCLUDED) & set(spelling_pairs())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected the columns british, american"),
        ("british\tamerican\ncolour\n", ":2: expected a lower-case British and American"),
        ("british\tamerican\nColour\tcolor\n", ":2: expected a lower-case"),
        ("# note\nbritish\tamerican\ncolour\tcolor\tx\n", ":3: expected a lower-case"),
    ],
)
def test_a_bad_spelling_table_is_refused_with_its_line(tmp_path, text, message):
    path = tmp_path / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LanguageDataError, match=message):
        language._read_pairs(path)


# -- against SCOWL itself ------------------------------------------------------------


@pytest.fixture(scope="module")
def lists() -> derive_spellings.WordLists:
    return derive_spellings.read_lists(SCOWL)


@scowl
def test_no_american_word_of_scowl_is_rewritten(lists):
    """Every word of SCOWL's american lists, and of its common (english) lists at the
    levels where it sorts spellings, comes out as it went in."""
    words = [*lists.american, *(w for w, n in lists.english.items() if lists.protected(w))]
    changed = {w: american_spelling(w) for w in words if american_spelling(w) != w}
    assert not changed


@scowl
def test_every_british_key_is_british_in_scowl(lists):
    for british in spelling_pairs():
        assert british in lists.british or lists.english[british] > 60, british


@scowl
def test_deriving_again_gives_the_shipped_table(tmp_path):
    output = tmp_path / "pairs.tsv"
    assert derive_spellings.main([str(SCOWL), "--output", str(output)]) == 0
    assert output.read_bytes() == language.SPELLINGS.read_bytes()


# -- query stop words ----------------------------------------------------------------


def test_question_words_and_filler_are_stop_words():
    question = "what is the role of which and why do how does are can involved"
    assert set(question.split()) <= QUERY_STOP_WORDS
    assert {"whose", "whether", "will", "may"} <= QUERY_STOP_WORDS


def test_topic_words_are_not_stop_words():
    topic = "apoptosis insulin pathway signaling cell gene cancer receptor kinase"
    assert not set(topic.split()) & QUERY_STOP_WORDS


def test_the_stop_list_is_snowballs_and_the_added_groups():
    text = language.STOP_WORDS_FILE.read_text(encoding="utf-8")
    assert "https://snowballstem.org/algorithms/english/stop.txt" in text
    assert "BSD 3-clause" in text
    words = [line for line in text.splitlines() if line and not line.startswith("#")]
    added = [w for group in derive_query_stopwords.ADDED.values() for w in group]
    assert len(words) == derive_query_stopwords.SNOWBALL_WORDS + len(added)
    assert words[derive_query_stopwords.SNOWBALL_WORDS :] == added
    assert frozenset(words) == QUERY_STOP_WORDS


def test_stop_words_that_are_gene_symbols_are_known():
    """The lead keeps a stop word typed in capitals as a gene: these are the ones that
    are official human symbols (WAS is the Wiskott-Aldrich syndrome gene)."""
    genes = GeneNomenclature.load()
    symbols = {
        word for word in QUERY_STOP_WORDS for match in genes.lookup(word) if match.how == "symbol"
    }
    assert symbols == {"an", "she", "was"}


def test_deriving_the_stop_list_from_the_perl_module(tmp_path):
    words = [line for line in language.STOP_WORDS_FILE.read_text().splitlines()]
    snowball = [w for w in words if w and not w.startswith("#")][:174]
    module = tmp_path / "EN.pm"
    module.write_text(f"sub _stopwords {{\n    return qw(\n {' '.join(snowball)}\n    );\n}}\n")
    output = tmp_path / "stop.txt"
    derive_query_stopwords.main(
        [str(module), "--output", str(output), "--package-version", "0.12-2"]
    )
    assert output.read_text() == language.STOP_WORDS_FILE.read_text()
    module.write_text("sub _stopwords { return qw( a b c ); }")
    with pytest.raises(SystemExit, match="expected Snowball's 174 words"):
        derive_query_stopwords.main(
            [str(module), "--output", str(output), "--package-version", "x"]
        )
