"""The search service over a real index of the bundled sample records (no HTTP)."""

from __future__ import annotations

import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexer import pipeline
from indexer.index import schema
from indexer.index.store import IndexStore
from server.search import facets
from server.search.hits import snippet
from server.search.models import (
    MAX_FACET_SIZE,
    MAX_GENES,
    MAX_PER_PAGE,
    MAX_QUERY_LENGTH,
    InvalidParameter,
    NotFound,
    SearchRequest,
)
from server.search.service import SearchService, first_matched
from server.search.snapshot import Snapshot
from tests.conftest import SAMPLE_RECORDS, SHAPES, STAT3_RECORD

OSTEOBLAST = "PMC10003241__ijms-24-04893-g003"
BIFIDO = "PMC10034056__fendo-14-1109296-g001"  # paper title "... TNF-α/NF-κB inflammatory ..."


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def search(service: SearchService, q: str = "", **kwargs) -> dict:
    kwargs.setdefault("per_page", MAX_PER_PAGE)
    return service.search(SearchRequest(q=q, **kwargs))


def figids(result: dict) -> list[str]:
    return [h["figid"] for h in result["hits"]]


def all_ids(service: SearchService, q: str = "", **kwargs) -> set[str]:
    request = SearchRequest(q=q, **kwargs)
    return {h["figid"] for h in service.iter_hits(request, 10_000)}


# -- query syntax -----------------------------------------------------------------------------


def test_empty_query_browses_everything(service: SearchService) -> None:
    result = search(service)
    assert result["total"] == 214 == service.status()["documents"]
    assert result["query"]["understood"] == ""


def test_word_matches_text_title_and_gene_fields(service: SearchService) -> None:
    result = search(service, "STAT3")
    assert result["total"] >= 1
    assert figids(result)[0] == STAT3_RECORD  # "STAT3" in its title weighs most
    assert all(h["score"] > 0 for h in result["hits"])


def test_words_and_together(service: SearchService) -> None:
    both = all_ids(service, "osteoblasts myeloma", match="all")
    assert OSTEOBLAST in both
    assert both == all_ids(service, "osteoblasts") & all_ids(service, "myeloma")


def test_or_and_not(service: SearchService) -> None:
    stat3, tp53 = all_ids(service, "stat3"), all_ids(service, "tp53")
    assert all_ids(service, "stat3 OR tp53") == stat3 | tp53
    assert all_ids(service, "stat3 NOT tp53") == stat3 - tp53
    assert all_ids(service, "NOT stat3") == all_ids(service) - stat3
    assert all_ids(service, "(stat3 OR tp53) AND cancer") == (stat3 | tp53) & all_ids(
        service, "cancer"
    )


def test_phrase_is_stricter_than_words(service: SearchService) -> None:
    phrase = all_ids(service, '"signaling pathway"')
    words = all_ids(service, "signaling pathway")
    assert phrase and phrase < words
    assert all_ids(service, '"pathway signaling"') < words


def test_prefix(service: SearchService) -> None:
    prefixed = all_ids(service, "STAT*")
    assert all_ids(service, "stat3") | all_ids(service, "stat1") <= prefixed


def test_gene_and_entrez_fields(service: SearchService) -> None:
    by_symbol = all_ids(service, "gene:STAT3")
    assert STAT3_RECORD in by_symbol
    assert all_ids(service, "entrez:6774") == by_symbol
    assert all_ids(service, "gene:6774") == by_symbol  # resolved through the lexicon
    assert all_ids(service, "gene:stat*") >= by_symbol


def test_organism_disease_chemical_fields(service: SearchService) -> None:
    mouse = all_ids(service, 'organism:"Mus musculus"')
    assert len(mouse) == 23
    assert all_ids(service, "organism:mouse") == mouse
    every = list(service.iter_hits(SearchRequest(), 1000))
    cancer = {
        h["figid"] for h in every if "cancer" in {d["name"].casefold() for d in h["diseases"]}
    }
    assert all_ids(service, "disease:cancer") == cancer and cancer
    assert "PMC100008__mb2411709009" in all_ids(service, "chemical:bradykinin")


def test_year_field(service: SearchService) -> None:
    result = search(service, "year:2015..2020", sort="year")
    years = [h["year"] for h in result["hits"]]
    assert years == sorted(years) and years[0] >= 2015 and years[-1] <= 2020
    assert result["total"] == len(all_ids(service, year_min=2015, year_max=2020))
    assert all(h["year"] == 2023 for h in search(service, "year:2023")["hits"])


def test_title_field(service: SearchService) -> None:
    assert OSTEOBLAST in all_ids(service, "title:osteoblasts")


@pytest.mark.parametrize(
    ("figid", "title_field"),
    [
        (OSTEOBLAST, "figtitle"),
        (BIFIDO, "papertitle"),
        ("PMC10036500__ga1", "figtitle"),
        ("PMC5711377__elife-29132-fig3-figsupp1", "figtitle"),
        ("PMC100028__ii1110348001", "figtitle"),
    ],
)
def test_pasted_titles_find_their_figure(
    service: SearchService, figid: str, title_field: str
) -> None:
    title = service.figure(figid)["record"][title_field]
    assert re.search(r"[:()/'\"α-ω–-]", title), title  # a title with punctuation worth testing
    assert figid in figids(search(service, title))


def test_query_as_understood(service: SearchService) -> None:
    understood = search(service, "the p53 OR gene:JAK")["query"]
    assert understood["understood"] == "(the AND p53) OR gene:JAK"
    assert understood["ignored"] == ["the"]
    assert understood["genes"] == [
        {"value": "p53", "symbols": ["TP53"]},
        {"value": "JAK", "symbols": ["TYK2", "JAK3", "JAK1", "JAK2"]},
    ]


# -- filters and facets -----------------------------------------------------------------------


def test_filter_values_or_and_filters_and(service: SearchService) -> None:
    human = all_ids(service, filters={"organism": ["Homo sapiens"]})
    fly = all_ids(service, filters={"organism": ["Drosophila melanogaster"]})
    cancer = all_ids(service, filters={"disease": ["Cancer"]})
    assert (
        all_ids(service, filters={"organism": ["Homo sapiens", "drosophila melanogaster"]})
        == human | fly
    )
    assert (
        all_ids(service, filters={"organism": ["Homo sapiens"], "disease": ["cancer"]})
        == human & cancer
    )


def test_facet_counts_exclude_their_own_filter(service: SearchService) -> None:
    result = search(
        service, filters={"organism": ["Mus musculus"]}, facets=("organism", "year", "gene")
    )
    organisms = {v["value"]: v for v in result["facets"]["organism"]["values"]}
    unfiltered = {
        v["value"]: v["count"]
        for v in search(service, facet_size=100)["facets"]["organism"]["values"]
    }
    assert organisms["Mus musculus"]["selected"] is True
    assert organisms["Homo sapiens"]["selected"] is False
    # its own filter is not applied to the organism facet
    assert organisms["Homo sapiens"]["count"] == unfiltered["Homo sapiens"]
    years = result["facets"]["year"]["values"]
    assert sum(v["count"] for v in years) <= result["total"]  # other facets are filtered
    assert organisms["Mus musculus"]["label"] == "house mouse (Mus musculus)"
    assert organisms["Mus musculus"]["taxon_id"] == "10090"


def test_facet_counts_match_the_hits(service: SearchService) -> None:
    result = search(
        service, "signaling", facets=("gene", "disease", "chemical", "annotation"), facet_size=5
    )
    hits = list(service.iter_hits(SearchRequest(q="signaling"), 1000))
    for value in result["facets"]["gene"]["values"]:
        assert value["count"] == sum(
            1 for h in hits if value["value"] in {g["symbol"] for g in h["genes"]}
        )
    assert len(result["facets"]["gene"]["values"]) == 5
    assert result["facets"]["gene"]["truncated"] is True
    assert set(result["facets"]) == {"gene", "disease", "chemical", "annotation"}


@pytest.mark.parametrize(("q", "sort"), [("signaling", "relevance"), ("", "year")])
def test_year_facet_counts_the_matched_figures(service: SearchService, q: str, sort: str) -> None:
    """A scored search counts years from the figures its ordering found; one without text
    from its mask: both as the hits' own years."""
    result = search(service, q, sort=sort, facets=("year",), facet_size=100)
    hits = list(service.iter_hits(SearchRequest(q=q), 10_000))
    expected = Counter(h["year"] for h in hits if h["year"])
    assert {v["value"]: v["count"] for v in result["facets"]["year"]["values"]} == expected
    assert len(hits) == result["total"]


@pytest.mark.parametrize("chunk_entries", [None, 1, 50])
@pytest.mark.parametrize("share", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_facet_counts_agree_by_rows_and_by_scan(
    sample_index: Path, share: float, chunk_entries: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting takes whichever way is cheaper for the mask: all give each value's
    number of matched documents, deleted documents included only if in the mask, whether
    the entries are counted at once (the sample's size) or in chunks of a few documents."""
    if chunk_entries is not None:
        monkeypatch.setattr(facets, "_CHUNK_ENTRIES", chunk_entries)
    snap = Snapshot(IndexStore(sample_index).require_current())
    try:
        mask = np.random.default_rng(7).random(len(snap.live)) < share
        for name, facet in snap.facets.items():
            expected = np.zeros(len(facet), dtype=np.int64)
            for d in np.flatnonzero(mask):
                expected[facet.doc_vals[facet.doc_ptr[d] : facet.doc_ptr[d + 1]]] += 1
            for counted in (
                facet.count_by_rows(mask),
                facet.count_by_scan(mask),
                facet.count_few(np.flatnonzero(mask)),
                facet.count(mask),
            ):
                assert counted.tolist() == expected.tolist(), name
    finally:
        snap.close()


@pytest.mark.parametrize("share", [0.002, 0.05, 1.0])
def test_facet_tops_rank_by_count_then_case_folded_value(sample_index: Path, share: float) -> None:
    """The first values of a facet: most documents first, ties in case-folded order of
    the values (as a Python sort of them all), and whether more values were counted."""
    snap = Snapshot(IndexStore(sample_index).require_current())
    try:
        mask = np.random.default_rng(3).random(len(snap.live)) < share
        for name, facet in snap.facets.items():
            counts = facet.count(mask)
            listed = [o for o in range(len(facet)) if counts[o]]
            expected = sorted(listed, key=lambda o: (-counts[o], facet.values[o].casefold()))
            for size in (1, 3, 10, len(facet) + 1):
                assert facet.top(counts, size) == (expected[:size], len(listed) > size), name
    finally:
        snap.close()


def test_year_filter_and_facet(service: SearchService) -> None:
    result = search(service, year_min=2020, year_max=2021, facets=("year",), facet_size=100)
    assert all(2020 <= h["year"] <= 2021 for h in result["hits"])
    selected = {v["value"] for v in result["facets"]["year"]["values"] if v["selected"]}
    assert selected == {2020, 2021}
    assert len(result["facets"]["year"]["values"]) > 2  # own filter not applied


def test_selected_value_outside_the_top_is_still_listed(service: SearchService) -> None:
    result = search(service, filters={"organism": ["Mustela putorius furo"]}, facet_size=1)
    values = result["facets"]["organism"]["values"]
    assert [v["selected"] for v in values] == [False, True]


def test_gene_filter_by_symbol_entrez_and_alias(service: SearchService) -> None:
    stat3 = all_ids(service, filters={"gene": ["STAT3"]})
    assert STAT3_RECORD in stat3
    assert all_ids(service, filters={"gene": ["6774"]}) == stat3
    assert all_ids(service, filters={"gene": ["stat3"]}) == stat3
    jak = all_ids(service, filters={"gene": ["JAK"]})  # alias of JAK1, JAK2, JAK3, TYK2
    assert jak == set().union(
        *(all_ids(service, filters={"gene": [g]}) for g in ("JAK1", "JAK2", "JAK3", "TYK2"))
    )
    result = search(service, filters={"gene": ["JAK"]}, facets=("gene",), facet_size=50)
    selected = {v["value"] for v in result["facets"]["gene"]["values"] if v["selected"]}
    assert selected == {"JAK1", "JAK2", "JAK3", "TYK2"}


def test_gene_match_and_min_genes(service: SearchService) -> None:
    genes = ["STAT3", "IL6", "SOCS1", "JAK"]
    each = [all_ids(service, filters={"gene": [g]}) for g in genes]
    any_ = all_ids(service, filters={"gene": genes})
    every = all_ids(service, filters={"gene": genes}, gene_match="all")
    at_least_3 = all_ids(service, filters={"gene": genes}, min_genes=3)
    assert any_ == set().union(*each)
    assert every == set.intersection(*each)
    assert at_least_3 == {f for f in any_ if sum(f in s for s in each) >= 3}
    assert every <= at_least_3 <= any_ and STAT3_RECORD in every


# -- sorting, paging, hits --------------------------------------------------------------------


def test_sorting(service: SearchService) -> None:
    newest = [h["year"] for h in search(service, "pathway", sort="-year")["hits"]]
    oldest = [h["year"] for h in search(service, "pathway", sort="year")["hits"]]
    assert newest == sorted(newest, reverse=True) and oldest == sorted(oldest)
    scores = [h["score"] for h in search(service, "pathway")["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_paging_and_iter_hits_are_complete(service: SearchService) -> None:
    request = SearchRequest(q="pathway", per_page=7)
    total = service.search(request)["total"]
    paged = []
    for page in range(1, -(-total // 7) + 2):
        paged += figids(service.search(replace(request, page=page)))
    walked = [h["figid"] for h in service.iter_hits(request, 10_000)]
    assert len(paged) == len(set(paged)) == total == len(walked)
    assert paged == walked
    assert [h["figid"] for h in service.iter_hits(request, 5)] == walked[:5]


def test_hit_shape(service: SearchService) -> None:
    found = search(service, "gene:STAT3")
    hit = next(h for h in found["hits"] if h["figid"] == STAT3_RECORD)
    assert hit["title"] == "Domain structure and signaling pathway of STAT3"
    assert hit["paper_title"] == "Targeting STAT3 in Cancer Immunotherapy."
    assert hit["year"] == 2020 and hit["pmcid"] == "PMC7513516"
    assert hit["organisms"][0]["label"] == "human (Homo sapiens)"
    il6 = next(g for g in hit["genes"] if g["symbol"] == "IL6")
    assert il6 == {
        "symbol": "IL6",
        "entrez": "3569",
        "alias": "IL-6",
        "aliases": ["IL-6"],
        "url": "https://www.ncbi.nlm.nih.gov/gene/3569",
    }
    assert hit["links"]["article"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7513516/"
    assert hit["links"]["page"] == f"/figures/{STAT3_RECORD}"
    assert hit["links"]["image"].startswith("https://europepmc.org/articles/PMC7513516/bin/")
    assert "<mark>STAT3</mark>" in hit["snippet"]


def test_snippet_escapes_and_marks() -> None:
    text = "Binding of <b>STAT3</b> & IL-6 signaling activates STAT3 targets"
    html = snippet(text, {"stat3", "signal"}, set())
    assert html == (
        "Binding of &lt;b&gt;<mark>STAT3</mark>&lt;/b&gt; &amp; IL-6 <mark>signaling</mark> "
        "activates <mark>STAT3</mark> targets"
    )
    long = "word " * 100 + "STAT3 here " + "tail " * 100
    cut = snippet(long, {"stat3"}, set())
    assert cut.startswith("…") and cut.endswith("…") and "<mark>STAT3</mark>" in cut
    assert snippet("no match <here>", set(), {"zz"}) == "no match &lt;here&gt;"


def test_snippets_in_results_are_escaped(service: SearchService) -> None:
    for hit in search(service, "pathway")["hits"]:
        assert re.sub(r"</?mark>", "", hit["snippet"]).count("<") == 0


def test_did_you_mean(service: SearchService) -> None:
    result = search(service, "osteoblsts")
    assert result["total"] == 0
    [suggestion] = result["did_you_mean"]
    assert suggestion["total"] > 0
    assert OSTEOBLAST in figids(search(service, suggestion["q"]))
    assert search(service, "stta3")["did_you_mean"][0]["q"] == "STAT3"
    assert search(service, "pathway")["did_you_mean"] == []
    # Corrections are words as printed, never index stems ("muscl").
    assert search(service, "musle")["did_you_mean"][0]["q"] == "muscle"


def test_suggested_title_words_are_real_words(service: SearchService) -> None:
    words = [item["text"] for item in service.suggest("metab", 10) if item["kind"] == "word"]
    assert "metabolic" in words and "metabol" not in words


def test_results_are_cached(service: SearchService) -> None:
    request = SearchRequest(q="kinase", filters={"organism": ["Homo sapiens"]})
    first = service.search(request)
    second = service.search(request)
    assert first == second and first is not second
    assert first["hits"] is second["hits"]


def test_hits_share_their_organisms_and_genes(service: SearchService) -> None:
    """Cached answers hold one dict per organism and per gene, not one per hit that
    lists it (they are most of a cached hit's memory); each says what its own would."""
    from indexer.organisms import describe

    hits = search(service, "signaling", per_page=50, filters={"organism": ["Homo sapiens"]})["hits"]
    human = [o for h in hits for o in h["organisms"] if o["name"] == "Homo sapiens"]
    assert len(human) == len(hits) > 1
    assert all(o is human[0] for o in human)
    assert human[0] == describe("Homo sapiens").as_dict()
    genes = [g for h in hits for g in h["genes"]]
    distinct = {(g["symbol"], tuple(g["aliases"])) for g in genes}
    assert len({id(g) for g in genes}) == len(distinct) < len(genes)


# -- figures, genes, suggestions, status ------------------------------------------------------


def test_figure(service: SearchService) -> None:
    figure = service.figure(STAT3_RECORD)
    assert figure["record"]["figid"] == STAT3_RECORD
    assert figure["caption"] and figure["links"]["page"] == f"/figures/{STAT3_RECORD}"
    with pytest.raises(NotFound) as error:
        service.figure("PMC0__nope")
    assert error.value.what == "figure"


@pytest.mark.parametrize("typed", ["STAT3", "stat3", "6774"])
def test_gene_lookup(service: SearchService, typed: str) -> None:
    gene = service.gene(typed, SearchRequest(per_page=3))
    assert (gene["symbol"], gene["entrez"], gene["ambiguous"]) == ("STAT3", "6774", False)
    assert gene["total"] == len(all_ids(service, filters={"gene": ["STAT3"]}))
    assert len(gene["hits"]) == 3
    assert sum(y["count"] for y in gene["by_year"]) == gene["total"]
    assert gene["by_organism"][0]["value"] == "Homo sapiens"
    top = gene["cooccurring"][0]
    assert top["symbol"] != "STAT3" and top["figures"] >= gene["cooccurring"][-1]["figures"]
    assert top["figures"] == len(
        all_ids(service, filters={"gene": ["STAT3", top["symbol"]]}, gene_match="all")
    )


def test_gene_lookup_alias_of_several_genes(service: SearchService) -> None:
    gene = service.gene("JAK", SearchRequest())
    assert gene["ambiguous"] is True and gene["matched_by"] == "alias"
    assert {g["symbol"] for g in gene["genes"]} == {"JAK1", "JAK2", "JAK3", "TYK2"}
    assert gene["total"] == len(all_ids(service, filters={"gene": ["JAK"]}))


def test_gene_lookup_is_filterable_and_unknown_is_not_found(service: SearchService) -> None:
    mouse = service.gene("STAT3", SearchRequest(filters={"organism": ["Mus musculus"]}))
    assert mouse["total"] < service.gene("STAT3", SearchRequest())["total"]
    with pytest.raises(NotFound):
        service.gene("NOSUCHGENE1", SearchRequest())


def test_suggest(service: SearchService) -> None:
    found = service.suggest("sta", 10)
    assert {  # figures printing "STAT" (2), not its 7 genes' counts summed (14)
        "text": "STAT",
        "kind": "alias",
        "figures": 2,
        "symbols": ["STAT5B", "STAT5A", "STAT6", "STAT1", "STAT2", "STAT3", "STAT4"],
    } in found
    counts = [f["figures"] for f in found]
    assert counts == sorted(counts, reverse=True)
    assert {"text": "STAT3", "kind": "gene", "figures": 6, "entrez": "6774"} in found
    assert service.suggest("mus", 1)[0]["text"] == "Mus musculus"
    assert {f["kind"] for f in service.suggest("canc", 10)} >= {"disease", "word"}
    assert service.suggest("", 10) == [] and service.suggest("zzzzqq", 10) == []


def test_status(service: SearchService) -> None:
    status = service.status()
    assert status["documents"] == 214 and status["schema_version"] == schema.SCHEMA_VERSION
    # 617 genes of the older records, and the official NCBI symbols of newer records' keywords
    assert status["lexicon_size"] == 2471
    assert status["version"] == service.version == status["meta"]["generation"]


# -- bad parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "parameter", "message"),
    [
        ({"q": "x" * (MAX_QUERY_LENGTH + 1)}, "q", f"at most {MAX_QUERY_LENGTH:,}"),
        ({"q": "year:2020..2015"}, "q", "reversed"),
        ({"filters": {"colour": ["red"]}}, "colour", "allowed: organism, gene"),
        ({"filters": {"gene": [f"G{i}" for i in range(MAX_GENES + 1)]}}, "gene", "1,001 values"),
        ({"filters": {"organism": [f"o{i}" for i in range(1001)]}}, "organism", "1,001 values"),
        ({"sort": "score"}, "sort", "one of relevance, year, -year"),
        ({"facets": ("organism", "colour")}, "facets", "allowed: organism, year, gene"),
        ({"gene_match": "some"}, "gene_match", "one of all, any"),
        ({"page": 0}, "page", "between 1 and"),
        ({"page": "two"}, "page", "whole number"),
        ({"per_page": MAX_PER_PAGE + 1}, "per_page", f"1 and {MAX_PER_PAGE}"),
        ({"per_page": 0}, "per_page", f"1 and {MAX_PER_PAGE}"),
        ({"facet_size": MAX_FACET_SIZE + 1}, "facet_size", f"1 and {MAX_FACET_SIZE}"),
        ({"year_min": 2020, "year_max": 2010}, "year_min", "must not be after year_max"),
        ({"year_min": "soon"}, "year_min", "whole number"),
        ({"year_max": -1}, "year_max", "1000 and 9999"),
        ({"min_genes": 2}, "min_genes", "needs gene values"),
        ({"min_genes": 3, "filters": {"gene": ["A", "B"]}}, "min_genes", "given (2)"),
        ({"min_genes": 0, "filters": {"gene": ["A"]}}, "min_genes", "between 1 and"),
    ],
)
def test_invalid_parameters(
    service: SearchService, changes: dict, parameter: str, message: str
) -> None:
    with pytest.raises(InvalidParameter) as error:
        service.search(SearchRequest(**changes))
    assert error.value.parameter == parameter
    assert message in error.value.message
    assert parameter.split("_")[0] in error.value.message or parameter in ("colour", "q")


@pytest.mark.parametrize("limit", [0, 51, "ten"])
def test_invalid_suggest_limit(service: SearchService, limit: object) -> None:
    with pytest.raises(InvalidParameter) as error:
        service.suggest("sta", limit)  # type: ignore[arg-type]
    assert error.value.parameter == "limit"


@pytest.mark.parametrize(
    "q",
    ['"', "(", ")", "*", "**", "NOT", "AND OR", "gene:", 'gene:"', "year:", "year:99999",
     "a:b:c", "\\", "%", "—", "title:*", "gene:*", "((((((((((x", "\x00", "ß*"],
)  # fmt: skip
def test_odd_queries_never_fail(service: SearchService, q: str) -> None:
    result = service.search(SearchRequest(q=q))
    assert result["total"] >= 0


# -- index generations ------------------------------------------------------------------------


@pytest.fixture
def small_root(tmp_path: Path) -> Iterator[Path]:
    records = tmp_path / "records"
    records.mkdir()
    for path in sorted(SAMPLE_RECORDS.glob("*.md"))[:20]:
        shutil.copy(path, records)
    pipeline.build([records], tmp_path / "index", workers=1)
    yield tmp_path


def test_new_generation_is_picked_up(small_root: Path) -> None:
    service = SearchService(small_root / "index")
    old_version = service.version
    assert service.search(SearchRequest())["total"] == 20
    shutil.copy(SAMPLE_RECORDS / f"{STAT3_RECORD}.md", small_root / "records")
    pipeline.build([small_root / "records"], small_root / "index", workers=1)
    assert service.version != old_version
    assert service.search(SearchRequest())["total"] == 21
    assert STAT3_RECORD in figids(service.search(SearchRequest(q="gene:STAT3")))
    status = service.status()
    assert status["version"] == service.version and status["documents"] == 21
    assert "sources" not in status["meta"] and str(small_root) not in repr(status)
    service.close()


def test_searches_in_threads_survive_a_reload(small_root: Path) -> None:
    service = SearchService(small_root / "index")
    errors: list[BaseException] = []
    totals: set[int] = set()
    stop = threading.Event()

    def hammer(q: str) -> None:
        try:
            while not stop.is_set():
                service._results.data.clear()
                result = service.search(SearchRequest(q=q, facets=("organism", "gene")))
                totals.add(service.search(SearchRequest())["total"])
                assert result["total"] >= 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(q,)) for q in ("pathway", "gene:AKT1", "")]
    for thread in threads:
        thread.start()
    shutil.copy(SAMPLE_RECORDS / f"{STAT3_RECORD}.md", small_root / "records")
    pipeline.build([small_root / "records"], small_root / "index", workers=1)
    service.refresh()
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert service.search(SearchRequest())["total"] == 21
    service.close()


# -- the same answers over every index shape ------------------------------------------------

# Real queries over the sample: words, phrases, prefixes, genes, fields, filters, browsing,
# every sort and pages. Many have equal scores or years, which only a stable key orders.
SHAPE_QUERIES: list[dict] = [
    {"q": ""},
    {"q": "", "sort": "year"},
    {"q": "", "sort": "-year"},
    {"q": "", "page": 3, "per_page": 7},
    {"q": "pathway"},
    {"q": "pathway", "sort": "year"},
    {"q": "pathway", "sort": "-year", "page": 2, "per_page": 10},
    {"q": "signaling pathway"},
    {"q": '"signaling pathway"'},
    {"q": "cancer"},
    {"q": "cancer NOT breast"},
    {"q": "insulin resistance"},
    {"q": "apoptosis OR autophagy"},
    {"q": "inflammation", "sort": "year"},
    {"q": "osteoblasts myeloma"},
    {"q": "STAT3"},
    {"q": "stat3 OR tp53"},
    {"q": "STAT*"},
    {"q": "osteo*"},
    {"q": "gene:AKT1"},
    {"q": "gene:MAPK*"},
    {"q": "entrez:6774"},
    {"q": "title:signaling"},
    {"q": 'organism:"Mus musculus"'},
    {"q": "year:2015..2020"},
    {"q": "year:2015..2020", "sort": "year"},
    {"q": "disease:cancer"},
    {"q": "", "filters": {"organism": ["Homo sapiens"]}, "sort": "-year"},
    {"q": "", "filters": {"gene": ["TP53", "AKT1", "MTOR"]}, "min_genes": 2},
    {"q": "receptor", "filters": {"gene": ["EGFR", "ERBB2"]}, "page": 2, "per_page": 5},
    {"q": "metabolism", "year_min": 2010, "year_max": 2022},
    {"q": "kinase", "page": 4, "per_page": 9},
]


def answers(service: SearchService, request: dict) -> tuple[list, list]:
    """Every match as ``(figid, score)`` in order, and the figids of the requested page."""
    req = SearchRequest(**request)
    everything = [(h["figid"], h["score"]) for h in service.iter_hits(req, 10_000)]
    return everything, figids(service.search(req))


def test_every_index_shape_answers_alike(index_shapes, tmp_path: Path) -> None:
    parallel = tmp_path / "parallel"  # four workers: another document order
    pipeline.build([SAMPLE_RECORDS], parallel, workers=4)
    services = {shape: SearchService(index_shapes(shape)) for shape in SHAPES}
    services["parallel"] = SearchService(parallel)
    orders = {shape: s._snapshot().figids.all() for shape, s in services.items()}
    assert orders["parallel"] != orders["one-segment"] != orders["updated"]
    try:
        for request in SHAPE_QUERIES:
            by_shape = {shape: answers(s, request) for shape, s in services.items()}
            expected = by_shape["one-segment"]
            assert expected[0], request  # every query matches something
            for shape, got in by_shape.items():
                assert got == expected, (shape, request)
    finally:
        for service in services.values():
            service.close()


@pytest.mark.parametrize("where", ["spread", "bunched at the end", "one", "none", "all"])
@pytest.mark.parametrize("limit", [0, 1, 20, 300, 100_000])
def test_first_matched_is_the_first_matches_in_order(where: str, limit: int) -> None:
    # the sample is too small for more than one chunk: a 100k order of its own
    rng = np.random.default_rng(7)
    n = 100_000
    order = rng.permutation(n)
    matched = np.zeros(n, dtype=bool)
    chosen = {
        "spread": rng.choice(n, 500, replace=False),
        "bunched at the end": order[-300:],
        "one": order[-1:],
        "none": [],
        "all": np.arange(n),
    }[where]
    matched[chosen] = True
    expected = order[matched[order]][:limit]
    got = first_matched(order, matched, int(matched.sum()), limit)
    assert got.tolist() == expected.tolist()


def test_ties_are_broken_by_year_then_figid(service: SearchService) -> None:
    for request in SHAPE_QUERIES[:3]:
        hits = list(service.iter_hits(SearchRequest(**request), 10_000))
        if request.get("sort") == "year":
            key = [((h["year"] or 10_000), h["figid"]) for h in hits]
        else:
            key = [(-(h["year"] or 0), h["figid"]) for h in hits]
        assert key == sorted(key), request


def test_answers_are_cached_within_the_figures_they_list(sample_index: Path, monkeypatch) -> None:
    """The answer cache is bounded by the figures its answers list, not by their number:
    a page of 10 hits takes the room of two pages of 5; the least recent go first."""
    from server.search import service as service_module

    monkeypatch.setattr(service_module, "RESULT_CACHE_FIGURES", 3 * 6)
    service = SearchService(sample_index)
    words = ("kinase", "apoptosis", "insulin", "signaling")
    for word in words:
        assert len(search(service, word, per_page=5)["hits"]) == 5
    cache = service._results.data
    assert [key[2].q for key in cache] == list(words[1:])
    assert cache.currsize == sum(1 + len(answer["hits"]) for answer in cache.values())
    assert len(search(service, "signaling", per_page=10)["hits"]) == 10
    assert [(key[2].q, key[2].per_page) for key in cache] == [("signaling", 5), ("signaling", 10)]
    assert len(search(service, "pathway", per_page=20)["hits"]) == 20
    assert len(cache) == 2  # heavier than the whole cache: not kept


def test_matches_are_cached_within_room_for_some_over_every_document(
    sample_index: Path, monkeypatch
) -> None:
    """The match cache has room for MATCH_CACHE_DENSE matches over every document, each
    match weighing its arrays' bytes in thousandths of such a match's (so the room grows
    with the index); the least recently used go first."""
    from server.search import service as service_module
    from server.search.scoring import Match

    n = 1000
    dense = Match(np.ones(n, dtype=bool), np.ones(n, dtype=np.float32))
    assert service_module._match_weight((None, dense, None)) == 1000
    few = np.arange(10, dtype=np.int64)
    sparse = Match.of_docs(n, few, few, np.ones(10, dtype=np.float32))
    # read, a sparse match makes the dense arrays too: its own three arrays weigh on top
    assert service_module._match_weight((None, sparse, None)) == 1000 + 40  # 200 bytes
    assert service_module._match_weight((None, None, None)) == 1

    monkeypatch.setattr(service_module, "MATCH_CACHE_DENSE", 2)
    service = SearchService(sample_index)
    for word in ("kinase", "apoptosis", "insulin", "signaling", "receptor"):
        search(service, word)
    cache = service._matches.data
    assert 1 <= len(cache) < 5
    weights = [service_module._match_weight(cached) for cached in cache.values()]
    assert cache.currsize == sum(weights) <= 2 * 1000
    assert not any(key[1] == "kinase" for key in cache)  # the oldest went first
