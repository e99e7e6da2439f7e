"""Search quality as biologists type queries, over a real index of the bundled sample.

The judged query set (``bench/judged_queries.json``, scored by ``bench.bench_quality``)
must not fall below what was reached; the tests after it pin each way of writing that
the search must understand: Greek letters, gene symbols, printed shorthands, organism
names, Entrez IDs, exact titles and figure counts in suggestions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.bench_quality import evaluate, judged_queries
from indexer.analysis import name_key
from server.search.hits import snippet
from server.search.models import SearchRequest
from server.search.service import SearchService

# Reached on the judged set (see bench/bench_quality.py), less a margin: per kind, the least share
# of queries with a relevant first hit, the least mean reciprocal rank and recall.
FLOORS = {
    "caption_phrase": {"rank1": 0.90, "mrr": 0.90, "recall": 0.95},
    "entrez": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "gene_symbol": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "greek": {"rank1": 0.95, "mrr": 0.95, "recall": 0.85},
    "organism": {"rank1": 0.60, "mrr": 0.75, "recall": 0.95},
    "organism_common": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "paper_title": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "printed_alias": {"rank1": 0.80, "mrr": 0.90, "recall": 0.95},
    "quoted_title": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "symbol_not_stem": {"rank1": 0.85, "mrr": 0.90, "recall": 0.95},
    "title": {"rank1": 0.95, "mrr": 0.95, "recall": 0.95},
    "all": {"rank1": 0.94, "mrr": 0.96, "recall": 0.95},
}
HEDGEHOG = "PMC4078227__Dtsch_Arztebl_Int-111-0389_002"  # titled "Hedgehog signal pathway"


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def ids(service: SearchService, q: str = "", **kwargs) -> set[str]:
    return {h["figid"] for h in service.iter_hits(SearchRequest(q=q, **kwargs), 10_000)}


def first(service: SearchService, q: str) -> dict:
    return service.search(SearchRequest(q=q, per_page=100))


# -- the judged set -------------------------------------------------------------------------


def test_judged_queries_stay_at_the_quality_reached(service: SearchService) -> None:
    results = evaluate(service, judged_queries())
    assert set(results) == set(FLOORS)
    assert results["all"]["n"] >= 100
    below = {
        (kind, metric, round(results[kind][metric], 3))
        for kind, floors in FLOORS.items()
        for metric, floor in floors.items()
        if results[kind][metric] < floor
    }
    assert not below


# -- Greek letters and their spellings ------------------------------------------------------


@pytest.mark.parametrize("prefix", ["NF-k*", "NF-κ*", "TGF-b*", "TGF-β*", "IL-1*", "PD-L*", "Akt*"])
def test_a_prefix_finds_every_figure_whose_gene_names_start_so(
    service: SearchService, prefix: str
) -> None:
    # gene names are matched by their name key (dashes dropped, Greek folded): so must be
    # the prefix of a gene name typed without "gene:"
    genes = ids(service, f"gene:{prefix}")
    assert genes, prefix
    assert genes <= ids(service, prefix)


@pytest.mark.parametrize(
    "spellings",
    [
        ["NF-κB", "NF-kB", "NF-kappaB", "NFkB"],
        ["TGF-β", "TGF-beta", "TGFb"],
        ["IFN-γ", "IFN-gamma"],
        ["TNF-α", "TNF-alpha"],
        ["β-catenin", "beta-catenin"],
        ["gene:NF-κB", "gene:NF-kB", "gene:NFKB"],
    ],
)
def test_greek_spellings_find_the_same_figures(service: SearchService, spellings) -> None:
    found = [ids(service, s) for s in spellings]
    assert found[0], spellings[0]
    assert all(f == found[0] for f in found), [len(f) for f in found]


@pytest.mark.parametrize("text", ["NF-κB", "TGF-β", "β-catenin", "GSK-3β", "TGF-beta", "NFKB"])
def test_genes_are_found_by_greek_spellings(service: SearchService, text: str) -> None:
    assert service.gene(text, SearchRequest())["total"] > 0


def test_greek_spellings_are_highlighted_as_printed(service: SearchService) -> None:
    result = first(service, "TNF-alpha NF-kB")
    marked = " ".join(h["snippet"] for h in result["hits"])
    assert "<mark>α</mark>" in marked and "<mark>κB</mark>" in marked


def test_suggestions_fold_greek_and_dashes(service: SearchService) -> None:
    for typed in ("NF-κ", "nf-k", "NFK"):
        assert "NFKB1" in [s["text"] for s in service.suggest(typed, 10)], typed


# -- gene symbols are not stemmed into other words ------------------------------------------


def test_a_gene_symbol_is_not_the_word_its_stem_spells(service: SearchService) -> None:
    # "NOS" stems to "no", "Ras" to "ra" (retinoic acid): neither may find the other;
    # but a figure may list the genes the symbol names (NOS: NOS1, NOS2, NOS3)
    for symbol, other in [("NOS", "NO"), ("Ras", "RA"), ("IRS", "IR")]:
        result = first(service, symbol)
        hits = result["hits"]
        assert hits, symbol
        genes = {s for g in result["query"]["genes"] for s in g["symbols"]}
        for hit in hits:
            figure = service.figure(hit["figid"])
            text = " ".join([figure["caption"] or "", figure["title"] or "", *figure["keywords"]])
            names = [n for g in figure["genes"] for n in (g["symbol"], *g["aliases"])]
            names += figure["gene_keywords"]
            folded = {n.casefold() for n in names}
            assert (
                re.search(rf"\b{symbol}\b", text, re.IGNORECASE)
                or symbol.casefold() in folded
                or folded & {g.casefold() for g in genes}
            ), (symbol, hit["figid"])
        assert f"<mark>{other}</mark>" not in " ".join(h["snippet"] for h in hits)


@pytest.mark.parametrize(
    ("typed", "printed"),
    [("NF-AT", r"nf-?at"), ("IKK-beta", r"ikk[- ]?(β|beta|b)\b"), ("PI3K/Akt", r"pi3k\W?akt")],
)
def test_a_word_of_several_parts_is_matched_as_printed(
    service: SearchService, typed: str, printed: str
) -> None:
    # not "NF" beside a stop word, nor "IKK" and a panel label "(B)" anywhere; but the
    # figures listing the genes the name stands for (IKK-beta: IKBKB), printed or not
    result = first(service, typed)
    hits = result["hits"]
    assert hits
    named = {s for g in result["query"]["genes"] if g["value"] == typed for s in g["symbols"]}
    for hit in hits:
        figure = service.figure(hit["figid"])
        genes = figure["record"]["genes"]
        names = [n for g in genes for n in (g["symbol"], *g["aliases"], *g["printed"])]
        text = " ".join([figure["caption"] or "", *names, *figure["gene_keywords"]])
        listed = named & {*(g["symbol"] for g in genes), *figure["gene_keywords"]}
        assert re.search(printed, text, re.IGNORECASE) or listed, (typed, hit["figid"])


def test_short_terms_mark_only_themselves() -> None:
    text = "AR and ER are active; Ile and IL-6 rise"
    assert snippet(text, {"ar", "il", "6"}, set()) == (
        "<mark>AR</mark> and ER are active; Ile and <mark>IL</mark>-<mark>6</mark> rise"
    )
    # the one-letter part of "IKK-beta" marks a name's "β", not the panel label "(B)"
    assert snippet("(B) Loss of IKK-β in B cells", {"ikk", "b"}, set()) == (
        "(B) Loss of <mark>IKK</mark>-<mark>β</mark> in B cells"
    )


# -- printed shorthands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "figid"),
    [
        ("ERK1/2", "PMC8238150__ajpregu.00259.2020_f001"),
        ("IRF1/5", "PMC6211389__cshperspect-CYT-028423_F2"),
        ("CD80/86", "PMC7513516__12943_2020_1258_Fig1_HTML"),  # printed "|CD80/86"
        ("PD-1/PD-L1/PD-L2", "PMC7513516__12943_2020_1258_Fig1_HTML"),
    ],
)
def test_printed_shorthands_find_the_figures_that_print_them(
    service: SearchService, printed: str, figid: str
) -> None:
    assert figid in ids(service, printed)


@pytest.mark.parametrize(
    ("typed", "symbols"),
    [
        ("ERK1/2", {"MAPK3", "MAPK1"}),
        ("IRF1/5", {"IRF1", "IRF5"}),
        ("PD-1/PD-L1/PD-L2", {"PDCD1", "CD274", "PDCD1LG2"}),
        ("p53.", {"TP53"}),
        ("007157", {"TP53"}),
    ],
)
def test_typed_names_resolve_to_their_genes(service: SearchService, typed, symbols) -> None:
    assert {g["symbol"] for g in service.gene(typed, SearchRequest())["genes"]} == symbols


def test_nf_kb_and_nfkb_are_the_same_genes(service: SearchService) -> None:
    genes = [
        {g["symbol"] for g in service.gene(t, SearchRequest())["genes"]}
        for t in ("NF-kB", "NFKB", "NF-κB", "NF-kappaB")
    ]
    assert genes[0] and all(g == genes[0] for g in genes)


def test_a_shorthand_in_search_says_which_genes_it_means(service: SearchService) -> None:
    understood = first(service, "ERK1/2")["query"]["genes"]
    assert {"value": "ERK1/2", "symbols": ["MAPK3", "MAPK1"]} in understood


# -- organisms and Entrez IDs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "latin"),
    [
        ("Homo sapiens", "Homo sapiens"),
        ("Mus musculus", "Mus musculus"),
        ("Drosophila melanogaster", "Drosophila melanogaster"),
        ("mouse", "Mus musculus"),
        ("human", "Homo sapiens"),
        ("fruit fly", "Drosophila melanogaster"),
    ],
)
def test_organism_names_as_text_find_that_organism(service: SearchService, typed, latin) -> None:
    organism = ids(service, filters={"organism": [latin]})
    assert organism and organism <= ids(service, typed)
    (offer,) = first(service, typed)["query"]["organisms"]
    assert (offer["text"], offer["organism"], offer["figures"]) == (typed, latin, len(organism))
    assert latin in offer["label"]


def test_an_organism_is_not_offered_where_the_query_excludes_it(service: SearchService) -> None:
    assert first(service, "insulin -mouse")["query"]["organisms"] == []
    assert first(service, "insulin")["query"]["organisms"] == []


def test_a_species_word_is_not_corrected_into_another_word(service: SearchService) -> None:
    result = first(service, "sapiens")
    assert result["total"] > 0 and result["did_you_mean"] == []


def test_mice_and_mouse_find_the_same_figures(service: SearchService) -> None:
    assert ids(service, "mice") == ids(service, "mouse")


def test_a_bare_entrez_id_finds_its_genes_figures(service: SearchService) -> None:
    assert ids(service, "7157") == ids(service, "gene:7157")
    assert ids(service, "7157") and ids(service, "7157") <= ids(service, "gene:TP53")
    assert {"value": "7157", "symbols": ["TP53"]} in first(service, "7157")["query"]["genes"]


# -- exact titles and suggestion counts -----------------------------------------------------


def test_a_quoted_title_ranks_that_figure_first(service: SearchService) -> None:
    assert first(service, '"Hedgehog signal pathway"')["hits"][0]["figid"] == HEDGEHOG


def test_alias_suggestions_count_figures_not_genes(service: SearchService) -> None:
    (stat,) = [s for s in service.suggest("STAT", 50) if s["text"] == "STAT"]
    assert len(stat["symbols"]) == 7
    printing = {
        h["figid"]
        for h in service.iter_hits(SearchRequest(q="gene:STAT"), 1000)
        if any(name_key("STAT") in map(name_key, g["aliases"]) for g in h["genes"])
    }
    assert stat["figures"] == len(printing) == 2
