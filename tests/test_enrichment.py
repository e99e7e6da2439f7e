"""Gene-set enrichment, checked row by row against an independent implementation.

The reference here reads each figure's genes from its stored record (not from the gene
arrays enrichment counts over), builds every figure's 2x2 table itself, and asks scipy
for the one-sided Fisher test (``fisher_exact(alternative="greater")``) and for
Benjamini-Hochberg (``false_discovery_control``). Every row's p-value, adjusted p-value,
odds ratio and fold enrichment must agree to 1e-9 relative, over the sample index in each
of its shapes, for lists of 1, 12, 40 and 500 genes and the cases around them.
"""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import false_discovery_control, fisher_exact, hypergeom

from indexer import pipeline
from indexer.analysis import name_key
from server.search.genes import stats
from server.search.genes.resolve import resolve_gene
from server.search.models import Busy, EnrichRequest, InvalidParameter, SearchRequest
from server.search.service import SearchService
from tests.conftest import SAMPLE_RECORDS, STAT3_RECORD

RELATIVE = 1e-9
EVERY_ROW = 10**6


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def figure_genes(service: SearchService, library: SearchRequest) -> dict[str, set[str]]:
    """Each figure the search finds, with its genes (case folded) read from its record."""
    hits = service.iter_hits(library, limit=EVERY_ROW)
    return {h["figid"]: {g["symbol"].casefold() for g in h["genes"]} for h in hits}


@dataclass
class Expected:
    rows: list[dict[str, Any]]  # best first
    n: int
    M: int
    m: int


def reference(
    sets: dict[str, set[str]],
    query: set[str],
    *,
    min_figure_genes: int = 3,
    background: set[str] | None = None,
    background_size: int | None = None,
    correction: str = "library",
) -> Expected:
    """Enrichment computed from scratch, one 2x2 table and one Fisher test per figure."""
    library = {f: g for f, g in sets.items() if len(g) >= min_figure_genes}
    if background is None and background_size is None:
        background = set().union(*library.values())
    M = background_size if background_size is not None else len(background)
    drawn = query if background is None else query & background
    n = len(drawn)
    rows = []
    for figid, genes in library.items():
        own = genes if background is None else genes & background
        a, K = len(drawn & own), len(own)
        if not a:
            continue
        b, c, d = n - a, K - a, M - n - K + a
        p = fisher_exact([[a, b], [c, d]], alternative="greater").pvalue
        odds = a * d / max(b * c, 1)
        rows.append(
            {"figid": figid, "a": a, "K": K, "p": p, "odds": odds, "fold": (a / n) / (K / M)}
        )
    m = len(library) if correction == "library" else len(rows)
    adjusted = false_discovery_control([r["p"] for r in rows] + [1.0] * (m - len(rows)))
    for row, q in zip(rows, adjusted, strict=False):
        row["adjusted"] = float(q)
    rows.sort(key=lambda r: (r["p"], -r["a"], r["figid"]))
    return Expected(rows, n, M, m)


def answer(service: SearchService, request: EnrichRequest) -> tuple[dict, list[dict]]:
    summary, rows = service.iter_enrichment(request, limit=EVERY_ROW)
    return summary, list(rows)


def assert_agrees(summary: dict, rows: list[dict], expected: Expected) -> None:
    assert (summary["query_size"], summary["background_size"]) == (expected.n, expected.M)
    assert summary["hypotheses"] == expected.m
    assert summary["total"] == len(expected.rows) == len(rows)
    assert [r["figid"] for r in rows] == [r["figid"] for r in expected.rows]
    for got, want in zip(rows, expected.rows, strict=True):
        assert (got["overlap"], got["figure_genes"]) == (want["a"], want["K"]), got["figid"]
        assert got["p_value"] == pytest.approx(want["p"], rel=RELATIVE, abs=0)
        assert got["adjusted_p_value"] == pytest.approx(want["adjusted"], rel=RELATIVE, abs=0)
        assert got["odds_ratio"] == pytest.approx(want["odds"], rel=RELATIVE, abs=0)
        assert got["fold_enrichment"] == pytest.approx(want["fold"], rel=RELATIVE, abs=0)
        combined = -math.log(want["p"]) * want["odds"]
        assert got["combined_score"] == pytest.approx(combined, rel=1e-8, abs=1e-12)
        # p to RELATIVE is log10 p to RELATIVE / ln 10, however close to 0 log10 p is
        log10_p = math.log10(want["p"])
        assert got["log10_p_value"] == pytest.approx(log10_p, rel=0, abs=RELATIVE / math.log(10))


@pytest.fixture(scope="module")
def everything(service: SearchService) -> dict[str, set[str]]:
    return figure_genes(service, SearchRequest(facets=()))


@pytest.fixture(scope="module")
def symbols(everything: dict[str, set[str]]) -> list[str]:
    """Every gene of the index (case folded), in a fixed order."""
    return sorted(set().union(*everything.values()))


@pytest.mark.parametrize("size", [1, 12, 40, 500])
def test_lists_of_every_size_agree_with_fisher(
    service: SearchService, everything: dict, symbols: list[str], size: int
):
    query = random.Random(size).sample(symbols, size)
    summary, rows = answer(service, EnrichRequest(genes=tuple(query)))
    assert_agrees(summary, rows, reference(everything, set(query)))
    assert summary["query"]["recognised"] == size


def test_a_figures_own_genes_rank_it_first(service: SearchService, everything: dict):
    own = everything[STAT3_RECORD]
    summary, rows = answer(service, EnrichRequest(genes=tuple(sorted(own))))
    assert rows[0]["figid"] == STAT3_RECORD
    assert rows[0]["overlap"] == rows[0]["figure_genes"] == len(own)
    assert_agrees(summary, rows, reference(everything, own))


def test_unknown_genes_and_duplicates_are_reported_and_count_once(
    service: SearchService, everything: dict, symbols: list[str]
):
    query = random.Random(3).sample(symbols, 12)
    given = [*query, "NOTAGENE1", query[0].upper(), query[1].lower(), "XYZ-9999", query[0]]
    summary, rows = answer(service, EnrichRequest(genes=tuple(given)))
    assert_agrees(summary, rows, reference(everything, set(query)))
    read = summary["query"]
    assert read["unrecognised"] == ["NOTAGENE1", "XYZ-9999"]
    assert [d["input"] for d in read["duplicates"]] == [
        query[0].upper(),
        query[1].lower(),
        query[0],
    ]
    assert (read["entries"], read["genes"], read["recognised"]) == (17, 12, 15)


def test_aliases_and_entrez_ids_resolve_to_their_genes(service: SearchService, everything: dict):
    lexicon = service._snapshot().lexicon
    # names printed for exactly one gene, which differ from its symbol
    aliases = sorted(
        (lexicon.alias_display[key], next(iter(counts)))
        for key, counts in lexicon.alias_symbols.items()
        if len(counts) == 1 and name_key(next(iter(counts))) != key
    )[:6]
    by_entrez = sorted((e, s) for s, e in lexicon.entrez_by_symbol.items() if e)[:6]
    given = [alias for alias, _ in aliases] + [entrez for entrez, _ in by_entrez]
    expected = {s.casefold() for _, s in aliases} | {s.casefold() for _, s in by_entrez}
    summary, rows = answer(service, EnrichRequest(genes=("\n".join(given),)))
    read = {(r["input"], r["symbol"]) for r in summary["query"]["resolved"]}
    for alias, symbol in aliases:
        assert (alias, symbol) in read
    for entrez, symbol in by_entrez:
        assert (entrez, symbol) in read
    expected &= set().union(*everything.values())  # genes only a deleted figure had
    assert_agrees(summary, rows, reference(everything, expected))


def test_a_family_name_stands_for_all_its_genes(service: SearchService, everything: dict):
    summary, rows = answer(service, EnrichRequest(genes=("JAK", "STAT3")))
    family = summary["query"]["ambiguous"]
    assert [f["input"] for f in family] == ["JAK"]
    members = {g["symbol"] for g in family[0]["genes"]}
    assert {"JAK1", "JAK2", "JAK3", "TYK2"} <= members
    assert family[0]["action"] == "expanded"
    query = {s.casefold() for s in members} | {"stat3"}
    assert_agrees(summary, rows, reference(everything, query))


def test_a_filtered_library(service: SearchService, symbols: list[str]):
    library = SearchRequest(filters={"organism": ["Homo sapiens"]}, year_min=2015, facets=())
    sets = figure_genes(service, library)
    assert 10 < len(sets) < 200
    query = random.Random(40).sample(symbols, 40)
    request = EnrichRequest(genes=tuple(query), library=library)
    summary, rows = answer(service, request)
    assert_agrees(summary, rows, reference(sets, set(query)))
    assert summary["library"]["matched"] == len(sets)
    small = sum(1 for g in sets.values() if len(g) < 3)
    assert summary["library"]["too_small"] == small
    assert summary["library_size"] == len(sets) - small


def test_min_figure_genes(service: SearchService, everything: dict, symbols: list[str]):
    query = random.Random(5).sample(symbols, 40)
    request = EnrichRequest(genes=tuple(query), min_figure_genes=10)
    summary, rows = answer(service, request)
    assert_agrees(summary, rows, reference(everything, set(query), min_figure_genes=10))
    assert summary["notes"][0].endswith("fewer than 10 genes and are left out of the library")


def test_a_background_list(service: SearchService, everything: dict, symbols: list[str]):
    rng = random.Random(11)
    listed = rng.sample(symbols, len(symbols) // 2)
    outside = [s for s in symbols if s not in set(listed)]
    query = [*rng.sample(listed, 30), *outside[:5], "BGONLY1"]
    background = [*listed, "BGONLY1", "BGONLY2", "bgonly2"]
    request = EnrichRequest(genes=tuple(query), background=tuple(background))
    summary, rows = answer(service, request)
    urn = {s.casefold() for s in listed} | {"bgonly1", "bgonly2"}
    assert_agrees(
        summary, rows, reference(everything, {q.casefold() for q in query}, background=urn)
    )
    assert summary["background"] == "list"
    assert {g["symbol"].casefold() for g in summary["query"]["outside_background"]} == {
        s.casefold() for s in outside[:5]
    }
    assert summary["query"]["unrecognised_in_background"] == ["BGONLY1"]


def test_a_background_size(service: SearchService, everything: dict, symbols: list[str]):
    query = random.Random(12).sample(symbols, 12)
    request = EnrichRequest(genes=tuple(query), background_size=20_000)
    summary, rows = answer(service, request)
    assert_agrees(summary, rows, reference(everything, set(query), background_size=20_000))
    assert summary["background"] == "size"


def test_overlapping_correction_reproduces_enrichr(
    service: SearchService, everything: dict, symbols: list[str]
):
    query = random.Random(13).sample(symbols, 40)
    request = EnrichRequest(genes=tuple(query), correction="overlapping")
    summary, rows = answer(service, request)
    expected = reference(everything, set(query), correction="overlapping")
    assert_agrees(summary, rows, expected)
    assert summary["correction"] == "overlapping"
    assert summary["hypotheses"] == summary["total"] < summary["library_size"]


def test_pages_are_slices_of_the_ranking(service: SearchService, symbols: list[str]):
    request = EnrichRequest(genes=tuple(random.Random(9).sample(symbols, 60)), per_page=7)
    _, every = answer(service, request)
    assert len(every) > 21
    for page in (1, 2, 3):
        result = service.enrich(EnrichRequest(genes=request.genes, per_page=7, page=page))
        assert [r["figid"] for r in result["results"]] == [
            r["figid"] for r in every[(page - 1) * 7 : page * 7]
        ]
        assert [r["rank"] for r in result["results"]] == list(range(page * 7 - 6, page * 7 + 1))
    assert result["pages"] == -(-len(every) // 7)


def test_no_gene_recognised_is_an_answer_not_an_error(service: SearchService):
    result = service.enrich(EnrichRequest(genes=("NOTAGENE1", "NOTAGENE2")))
    assert (result["total"], result["query_size"], result["results"]) == (0, 0, [])
    assert result["query"]["unrecognised"] == ["NOTAGENE1", "NOTAGENE2"]
    assert "no gene of the list is in the background: nothing to test" in result["notes"]


@pytest.mark.parametrize(
    ("request_", "parameter", "message"),
    [
        (EnrichRequest(genes=()), "genes", "genes is empty"),
        (EnrichRequest(genes=(" \n\t, ",)), "genes", "genes is empty"),
        (EnrichRequest(genes=("A",) * 5001), "genes", "genes has 5,001 entries; at most 5,000"),
        (EnrichRequest(genes=("TP53", 7157)), "genes", "genes entry 2 must be text, got int 7157"),
        (EnrichRequest(genes=("TP53",), per_page=0), "per_page", "per_page must be between 1"),
        (EnrichRequest(genes=("TP53",), correction="bonferroni"), "correction", "correction"),
        (
            EnrichRequest(genes=("TP53",), background=("TP53",), background_size=20000),
            "background_size",
            "give a background list or a background_size, not both",
        ),
        (EnrichRequest(genes=("TP53",), background_size=5), "background_size", "smaller than"),
        (EnrichRequest(genes=("TP53",), min_figure_genes=0), "min_figure_genes", "between 1"),
    ],
)
def test_bad_requests_name_their_parameter(
    service: SearchService, request_: EnrichRequest, parameter: str, message: str
):
    with pytest.raises(InvalidParameter) as raised:
        service.enrich(request_)
    assert raised.value.parameter == parameter
    assert message in raised.value.message


# -- the arithmetic itself -------------------------------------------------------------------


def test_enrichr_published_row():
    """A row of a real Enrichr export: a = 4, n = 31, K = 200, M = 20,000."""
    a, K, n, M = [4], [200], 31, 20_000
    log_p = stats.log_p_values(a, K, n, M)
    odds = stats.odds_ratio(a, K, n, M)
    assert math.exp(log_p[0]) == pytest.approx(2.4711e-4, abs=5e-9)  # as printed
    assert odds[0] == pytest.approx(14.945578, abs=5e-7)
    # Enrichr printed 124.13357, from a p-value its own Fisher code puts 3.5e-5 lower
    # than the exact 2.4711165e-4 (fisher_exact's); the exact one gives 124.13305.
    assert stats.combined_score(log_p, odds)[0] == pytest.approx(124.13357, rel=5e-6)


def exact_log10_tail(a: int, K: int, n: int, M: int) -> float:
    """log10 P(X >= a) in exact integer arithmetic."""
    numerator = sum(math.comb(K, k) * math.comb(M - K, n - k) for k in range(a, min(K, n) + 1))
    return math.log10(numerator) - math.log10(math.comb(M, n))


@pytest.mark.parametrize(
    ("a", "K", "n", "M"),
    [(500, 500, 500, 20_000), (499, 500, 500, 20_000), (120, 200, 300, 13_700), (40, 41, 41, 900)],
)
def test_tiny_p_values_are_exact_in_log_space(a: int, K: int, n: int, M: int):
    log_p = stats.log_p_values([a], [K], n, M)[0]
    assert log_p / stats.LOG10 == pytest.approx(exact_log10_tail(a, K, n, M), rel=1e-10)


# -- p-values past a double: an index with a figure of 500 genes ------------------------------


def big_figure(figid: str, genes: list[str]) -> str:
    lines = [
        "---",
        f"figid: {figid}",
        f"pmcid: PMC{abs(hash(figid)) % 10**7}",
        f"figtitle: Figure of {len(genes)} genes",
        "year: '2020'",
        "organisms: Homo sapiens",
        "genes:",
    ]
    for i, symbol in enumerate(genes):
        lines += [
            f"- word: {symbol}",
            f"  symbol: {symbol}",
            "  source: hgnc_symbol",
            f"  hgnc_symbol: {symbol}",
            f"  entrez: '{9_000_000 + i}'",
        ]
    return "\n".join([*lines, "---", ""])


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    records = tmp_path_factory.mktemp("big-records")
    for path in sorted(SAMPLE_RECORDS.iterdir())[:30]:
        shutil.copy(path, records)
    genes = [f"TESTG{i}" for i in range(1, 501)]
    (records / "PMC1__big500.md").write_text(big_figure("PMC1__big500", genes))
    (records / "PMC2__big499.md").write_text(big_figure("PMC2__big499", [*genes[:499], "TESTX"]))
    (records / "PMC3__big400.md").write_text(big_figure("PMC3__big400", genes[:400]))
    root = tmp_path_factory.mktemp("big-index")
    assert pipeline.build([records], root, workers=1).figures_rejected == 0
    service = SearchService(root)
    yield service
    service.close()


def test_p_values_past_a_double_stay_positive_exact_and_ordered(big_index: SearchService):
    genes = tuple(f"TESTG{i}" for i in range(1, 501))
    request = EnrichRequest(genes=genes, background_size=20_000)
    result = big_index.enrich(request)
    top = result["results"][:3]
    assert [r["figid"] for r in top] == ["PMC1__big500", "PMC2__big499", "PMC3__big400"]
    want = [exact_log10_tail(r["overlap"], r["figure_genes"], 500, 20_000) for r in top]
    assert want[0] < -300 and want[1] < -300
    assert [r["log10_p_value"] for r in top] == pytest.approx(want, rel=1e-10)
    assert top[0]["log10_p_value"] < top[1]["log10_p_value"] < top[2]["log10_p_value"] < 0
    # adjusted p-values too: BH over m = library_size, in log space
    m = result["library_size"]
    assert top[0]["log10_adjusted_p_value"] == pytest.approx(want[0] + math.log10(m), rel=1e-10)
    assert math.isfinite(top[0]["combined_score"]) and top[0]["combined_score"] > 0
    _, rows = big_index.iter_enrichment(request, limit=3)
    assert stats.p_text(want[0] * stats.LOG10).endswith(f"e{math.floor(want[0])}")
    assert next(rows)["log10_p_value"] == pytest.approx(want[0], rel=1e-10)


# -- one reading of a typed gene, for every caller ---------------------------------------------


@pytest.mark.parametrize("typed", ["STAT3", "stat3", "6774", "p53", "JAK", "ERK1/2", "NF-kB"])
def test_every_caller_reads_a_typed_gene_alike(service: SearchService, typed: str):
    """The gene filter, gene: in a query, the gene page and enrichment all read a typed
    gene through resolve_gene: they name the same genes."""
    expected = {m.symbol for m in resolve_gene(service._snapshot(), typed)}
    assert expected
    page = service.gene(typed, SearchRequest())
    assert {g["symbol"] for g in page["genes"]} == expected
    filtered = service.search(SearchRequest(filters={"gene": [typed]}))
    assert set(filtered["query"]["genes"][0]["symbols"]) == expected
    queried = service.search(SearchRequest(q=f'gene:"{typed}"'))
    assert set(queried["query"]["genes"][0]["symbols"]) == expected
    listed = service.resolve_genes([typed])
    assert {r["symbol"] for r in listed["resolved"]} == expected


def test_vectorised_tails_agree_with_scipy_over_a_grid():
    """Every (a, K) of random figures against scipy's hypergeom.sf (Boost), at the sizes
    the service meets: lists of 1 to 5,000 genes, backgrounds of 100 to 20,000 genes."""
    rng = np.random.default_rng(7)
    for n, M in [(1, 614), (12, 614), (300, 13_700), (3000, 13_700), (5000, 20_000), (90, 100)]:
        K = rng.integers(1, min(M, 400), 2000)
        a = np.minimum(np.minimum(K, n), rng.integers(1, 120, 2000))
        a = np.maximum(a, n + K - M)  # within the support
        kept = a >= 1
        a, K = a[kept], K[kept]
        want = hypergeom.sf(a - 1, M, K, n)
        got = np.exp(stats.log_p_values(a, K, n, M))
        shown = want > 1e-300
        assert np.allclose(got[shown], want[shown], rtol=1e-9, atol=0), (n, M)


def test_long_lists_take_the_costly_turn(
    service: SearchService, symbols: list[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("server.search.service.COSTLY_WAIT_SECONDS", 0.01)
    background = tuple(symbols) + tuple(f"OTHER{i}" for i in range(6000))
    service._costly.acquire(0)  # another costly request holds the turn
    try:
        with pytest.raises(Busy) as raised:
            service.enrich(EnrichRequest(genes=tuple(symbols[:5]), background=background))
        assert raised.value.parameter == "background"
        assert "a shorter list" in raised.value.message
        short = service.enrich(EnrichRequest(genes=tuple(symbols[:5])))  # no turn needed
        assert short["query_size"] == 5
    finally:
        service._costly.release()
    done = service.enrich(EnrichRequest(genes=tuple(symbols[:5]), background=background))
    assert done["background_size"] == len(symbols) + 6000
