"""Queries typed as biologists type them: question words, British spellings, word
families and gene names the figures never print, over the real sample records in every
index shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.search import query as q
from server.search.matching import is_filler, looks_like_gene
from server.search.models import SearchRequest
from server.search.service import SearchService


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def search(service: SearchService, q: str, **kwargs) -> dict:
    return service.search(SearchRequest(q=q, per_page=100, **kwargs))


def ids(service: SearchService, q: str, **kwargs) -> set[str]:
    return {h["figid"] for h in service.iter_hits(SearchRequest(q=q, **kwargs), 10_000)}


# -- question and filler words ---------------------------------------------------------


def test_question_words_need_not_match(service: SearchService) -> None:
    result = search(service, "what triggers pyroptosis")
    assert result["query"]["ignored"] == ["what"]
    assert result["query"]["relaxed"]["words"] == ["triggers", "pyroptosis"]
    assert all("what" not in h["missing"] for h in result["hits"])
    assert ids(service, "what triggers pyroptosis") == ids(service, "triggers pyroptosis")
    # asked to hold every word, "what" is a word again (the behaviour before)
    assert search(service, "what triggers pyroptosis", match="all")["query"]["ignored"] == []


def test_a_query_of_filler_words_alone_is_searched(service: SearchService) -> None:
    assert search(service, "how")["query"]["ignored"] == []


@pytest.mark.parametrize(
    ("word", "filler"),
    [
        (q.Word("what", 0), True),
        (q.Word("How", 0), True),
        (q.Word("role", 0), True),
        (q.Word("WAS", 0), False),  # a gene typed in capitals (Wiskott-Aldrich syndrome)
        (q.Word("what", 0, required=True), False),  # +what
        (q.Word("pyroptosis", 0), False),
        (q.Phrase("what is", 0), False),
    ],
)
def test_filler_words(word: q.Node, filler: bool) -> None:
    assert is_filler(word) is filler


# -- British spellings and word families -------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ("tumour", "tumor", "tumours"),
        ("haem", "heme"),
        ("oestrogen receptor", "estrogen receptor"),
        ("signalling", "signaling"),
        ("haemochromatosis", "hemochromatosis"),
        ("apoptosis", "apoptotic"),
        ("angiogenesis", "angiogenic"),
        ("gluconeogenesis", "gluconeogenic"),
        ("biosynthesis", "biosynthetic"),
    ],
)
def test_spellings_and_word_families_find_the_same_figures(
    service: SearchService, spellings: tuple[str, ...]
) -> None:
    found = [ids(service, s, match="all") for s in spellings]
    assert found[0], spellings
    assert all(f == found[0] for f in found), [len(f) for f in found]


# -- gene names the figures never print ------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "symbol"),
    [("HER2", "ERBB2"), ("PGC-1α", "PPARGC1A"), ("Bcl-xL", "BCL2L1"), ("HO-1", "HMOX1")],
)
def test_a_gene_name_from_ncbi_finds_the_figures_of_its_gene(
    service: SearchService, typed: str, symbol: str
) -> None:
    by_symbol = ids(service, symbol, match="all")
    assert by_symbol
    result = search(service, typed, match="all")
    assert {"value": typed, "symbols": [symbol]} in result["query"]["genes"]
    assert by_symbol <= {h["figid"] for h in result["hits"]}
    assert ids(service, f"gene:{typed}") == ids(service, f"gene:{symbol}")


def test_a_name_of_several_genes_prefers_those_in_the_index(service: SearchService) -> None:
    # NCBI Gene: "RAR" names RARA and RAB40B; only RAB40B is listed by a sample figure
    result = search(service, "RAR")
    assert {"value": "RAR", "symbols": ["RAB40B"]} in result["query"]["genes"]
    assert (
        "RAR names 2 genes in NCBI Gene: searched as those in the index, RAB40B (not RARA)"
        in result["query"]["notes"]
    )


def test_the_gene_filter_and_page_read_ncbi_names(service: SearchService) -> None:
    filtered = service.search(SearchRequest(filters={"gene": ["HER2"]}))
    assert filtered["total"] == len(ids(service, "gene:ERBB2")) > 0
    page = service.gene("HER2", SearchRequest())
    assert (page["symbol"], page["entrez"], page["matched_by"]) == ("ERBB2", "2064", "alias")
    assert page["total"] == filtered["total"]


def test_english_words_are_not_read_as_ncbi_gene_names(service: SearchService) -> None:
    # "liver", "rest" and "cell" are aliases of genes in NCBI Gene: typed as words they
    # are words
    for word in ("liver", "rest", "cell"):
        assert not looks_like_gene(word)
        assert search(service, word)["query"]["genes"] == []
    assert looks_like_gene("p21") and looks_like_gene("c-Myc") and looks_like_gene("beta-catenin")
    assert not looks_like_gene("alphabet") and not looks_like_gene("Liver")
