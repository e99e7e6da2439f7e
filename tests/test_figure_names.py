"""Every name people use for a figure leads to it, and every record's links lead out.

Over the real sample records in every index shape: a figure by its figid or PFOCR alias
(``PMC7513516__F1``), either with ``.html``, as a page (301 to the canonical URL) and in
the API (the record, with ``Link: rel=canonical``); a paper's figures by PMCID and DOI,
ranked first; the NDEx filter and facet; the alias and NDEx network on the figure page,
in the API, the JSON-LD and the exports. An index built before figure names were kept
is refused as needing a rebuild.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from indexer import pipeline
from indexer.index.schema import SCHEMA_VERSION
from indexer.index.store import IncompatibleIndex, IndexStore
from indexer.record import normalize
from indexer.sources import read_records
from server.search.models import InvalidParameter, SearchRequest
from server.search.service import SearchService
from server.web import create_app
from server.web.api import openapi_document
from tests.conftest import (
    NEWER_RECORD,
    OLDER_RECORD,
    SAMPLE_RECORDS,
    STAT3_RECORD,
    edit_front_matter,
    sample_path,
)
from tests.test_openapi import schema_validator

STAT3_ALIAS = "PMC7513516__F1"
NDEX_RECORD = "PMC1052008__JCI0524178.f1"  # alias PMC1052008__F1, a network at NDEx
NDEX_UUID = "fa9b81a0-df34-11ea-99da-0ac135e8bacf"
UNNAMED_RECORD = "PMC4043178__carcinbgr227f01_lw"  # an older record without figid_alias
PAPER = "PMC5411695"  # the one paper of the sample with two figures
PAPER_FIGURES = ["PMC5411695__cshperspect-CIL-028175_F1", "PMC5411695__cshperspect-CIL-028175_F3"]
NEWER_DOI = "10.3389/fpls.2023.1084358"  # NEWER_RECORD's paper


def sample_records() -> list[Any]:
    return [
        normalize(raw.data, raw.location)
        for path in sorted(SAMPLE_RECORDS.iterdir())
        for raw in read_records(path)
    ]


@pytest.fixture(scope="module")
def records() -> list[Any]:
    return sample_records()


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


@pytest.fixture(scope="module")
def client(sample_index: Path) -> FlaskClient:
    return create_app(sample_index, {"TESTING": True}).test_client()


def search(service: SearchService, q: str = "", **kwargs: Any) -> dict[str, Any]:
    return service.search(SearchRequest(q=q, per_page=100, **kwargs))


def figids(result: dict[str, Any]) -> list[str]:
    return [hit["figid"] for hit in result["hits"]]


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


# -- figures by name, in the service ------------------------------------------------------


def test_every_real_name_names_its_own_figure(service: SearchService, records: list[Any]):
    named = [r for r in records if r.figid_alias]
    assert len(named) == 208  # the 6 others are older records that end before it
    for record in records:
        assert [f["figid"] for f in service.figures_named(record.figid)] == [record.figid]
    for record in named:
        for name in (record.figid_alias, record.figid_alias.lower(), record.figid.upper()):
            found = service.figures_named(name)
            assert [f["figid"] for f in found] == [record.figid], name
            assert found[0]["figid_alias"] == record.figid_alias


@pytest.mark.parametrize("name", ["PMC0__F1", "nope", "PMC7513516__F1.html", ""])
def test_names_of_no_figure(service: SearchService, name: str):
    assert service.figures_named(name) == []


@pytest.mark.parametrize(
    "q",
    [STAT3_ALIAS, STAT3_ALIAS.lower(), f"figid:{STAT3_ALIAS}", f'"{STAT3_ALIAS}"', STAT3_RECORD],
)
def test_a_figure_name_typed_in_the_box_finds_it_first(service: SearchService, q: str):
    result = search(service, q)
    assert figids(result)[:1] == [STAT3_RECORD]
    (lookup,) = result["query"]["lookups"]
    assert lookup["figures"] == 1 and lookup["value"] in (STAT3_ALIAS, STAT3_RECORD)
    assert lookup["kind"] == ("figid" if lookup["value"] == STAT3_RECORD else "figid_alias")
    assert result["query"]["ignored"] == []


@pytest.mark.parametrize(
    "q", [PAPER, PAPER.lower(), "5411695", f"pmcid:{PAPER}", "pmcid:5411695", f"{PAPER},"]
)
def test_a_pmcid_lists_every_figure_of_the_paper(service: SearchService, q: str):
    result = search(service, q)
    assert figids(result) == PAPER_FIGURES
    assert [(f["kind"], f["value"], f["figures"]) for f in result["query"]["lookups"]] == [
        ("pmcid", PAPER, 2)
    ]


@pytest.mark.parametrize(
    "q",
    [
        NEWER_DOI,
        NEWER_DOI.upper(),
        f"doi:{NEWER_DOI}",
        f"https://doi.org/{NEWER_DOI}",
        f"https://dx.doi.org/{NEWER_DOI}",
    ],
)
def test_a_doi_lists_the_figures_of_the_paper(service: SearchService, q: str):
    result = search(service, q)
    assert figids(result) == [NEWER_RECORD]
    assert result["query"]["notes"] == []  # a DOI link is no "https:" field
    assert [f["kind"] for f in result["query"]["lookups"]] == ["doi"]


def test_an_ndex_network_finds_its_figure(service: SearchService):
    for q in (NDEX_UUID, NDEX_UUID.upper(), f"https://www.ndexbio.org/viewer/networks/{NDEX_UUID}"):
        assert figids(search(service, q)) == [NDEX_RECORD], q


@pytest.mark.parametrize("joiner", [" ", ", ", " OR ", " AND "])
def test_a_list_of_identifiers_lists_the_figures_of_each(service: SearchService, joiner: str):
    result = search(service, joiner.join([PAPER, STAT3_ALIAS, NEWER_DOI]))
    assert sorted(figids(result)) == sorted([*PAPER_FIGURES, STAT3_RECORD, NEWER_RECORD])


def test_identifiers_among_words_narrow_the_search(service: SearchService):
    assert figids(search(service, f"{STAT3_ALIAS} STAT3")) == [STAT3_RECORD]
    assert search(service, f"{STAT3_ALIAS} zebrafish", match="all")["total"] == 0
    # a word no figure of it holds is shown missing, the identifier stays required
    loose = search(service, f"{STAT3_ALIAS} zebrafish")
    assert figids(loose) == [STAT3_RECORD] and loose["hits"][0]["missing"] == ["zebrafish"]
    assert STAT3_RECORD not in figids(search(service, f"STAT3 NOT {STAT3_ALIAS}"))


def test_unknown_identifiers_find_nothing(service: SearchService):
    result = search(service, "PMC99999999__F1")
    assert result["total"] == 0
    assert result["query"]["lookups"] == []


# -- the NDEx filter and facet -------------------------------------------------------------


def test_ndex_filter_and_facet(service: SearchService, records: list[Any]):
    with_network = sorted(r.figid for r in records if r.ndex)
    assert len(with_network) == 57
    result = service.search(SearchRequest(filters={"ndex": ["true"]}, per_page=100))
    assert sorted(figids(result)) == with_network
    assert all(hit["links"]["ndex"].endswith(hit["ndex"]) for hit in result["hits"])
    assert service.count(SearchRequest(filters={"ndex": ["False"]})) == 214 - 57
    assert service.count(SearchRequest(filters={"ndex": ["true", "false"]})) == 214
    facet = search(service, "pathway", filters={"ndex": ["true"]})["facets"]["ndex"]
    counts = {v["value"]: (v["count"], v["selected"], v["label"]) for v in facet["values"]}
    pathway = {h["figid"]: h["ndex"] for h in service.iter_hits(SearchRequest(q="pathway"), 500)}
    with_it = sum(1 for uuid in pathway.values() if uuid)
    assert 0 < with_it < len(pathway)
    # Counts leave the facet's own filter out, so the other side can be chosen instead.
    assert counts["true"] == (with_it, True, "Has a network at NDEx")
    assert counts["false"] == (len(pathway) - with_it, False, "No network at NDEx")


@pytest.mark.parametrize("value", ["yes", "1", "maybe"])
def test_ndex_takes_true_or_false(service: SearchService, value: str):
    with pytest.raises(InvalidParameter, match=f"ndex must be true .* or false, got '{value}'"):
        service.search(SearchRequest(filters={"ndex": [value]}))


# -- ranked first among text matches, and an alias repeated by mistake ---------------------


@pytest.fixture(scope="module")
def edited_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample with NEWER_RECORD's caption citing the STAT3 figure's alias and PAPER
    (text matches for them), and a second figure given OLDER_RECORD's alias."""
    records = tmp_path_factory.mktemp("edited_records")
    for path in SAMPLE_RECORDS.iterdir():
        (records / path.name).write_bytes(path.read_bytes())
    citing = f"As in {STAT3_ALIAS}, {STAT3_ALIAS} and {PAPER}: the pathway."
    edit_front_matter(records / f"{NEWER_RECORD}.md", lambda r: {**r, "caption": citing})
    twin = records / "PMC10003241__ijms-24-04893-g003.md"
    edit_front_matter(twin, lambda r: {**r, "figid_alias": "PMC100003__F11"})
    root = tmp_path_factory.mktemp("edited_index")
    report = pipeline.build([records], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return root


def test_identifiers_rank_above_text_that_cites_them(edited_index: Path):
    service = SearchService(edited_index)
    try:
        alias = search(service, STAT3_ALIAS)
        assert figids(alias) == [STAT3_RECORD, NEWER_RECORD]  # the figure, then the citation
        assert alias["hits"][0]["score"] > alias["hits"][1]["score"] > 0
        paper = search(service, PAPER)
        assert figids(paper) == [*PAPER_FIGURES, NEWER_RECORD]
        # Sorted by year, the lookup is one match among others, as asked.
        by_year = search(service, PAPER, sort="-year")
        assert sorted(figids(by_year)) == sorted(figids(paper))
    finally:
        service.close()


TWINS = [OLDER_RECORD, "PMC10003241__ijms-24-04893-g003"]  # in figid order


def test_an_alias_of_several_figures_lists_them(edited_index: Path):
    client = create_app(edited_index, {"TESTING": True}).test_client()
    for url in ("/figures/PMC100003__F11", "/figures/pmc100003__f11.html"):
        response = client.get(url)
        assert response.status_code == 300 and "Location" not in response.headers
        html = page(response)
        assert html.select_one("h1").get_text() == "“{}” names 2 figures".format(
            url.removeprefix("/figures/")
        )
        assert [a["href"] for a in html.select(".card h3 a")] == [f"/figures/{f}" for f in TWINS]
    response = client.get("/api/figures/PMC100003__F11")
    assert response.status_code == 300
    body = response.get_json()
    assert body["name"] == "PMC100003__F11"
    assert [f["figid"] for f in body["figures"]] == TWINS
    schema_validator(openapi_document(), "FigureChoices").validate(body)
    assert client.get("/figures/PMC100003__F11/genes.tsv").status_code == 300
    # Its own figid still names each figure alone.
    assert client.get(f"/figures/{OLDER_RECORD}").status_code == 200


# -- every URL form of a figure ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "record"),
    [
        (f"{STAT3_RECORD}.html", STAT3_RECORD),
        (STAT3_ALIAS, STAT3_RECORD),
        (f"{STAT3_ALIAS}.html", STAT3_RECORD),
        (STAT3_ALIAS.lower(), STAT3_RECORD),
        (STAT3_RECORD.upper(), STAT3_RECORD),
        (f"{UNNAMED_RECORD}.html", UNNAMED_RECORD),
        ("PMC1052008__F1", NDEX_RECORD),  # a figid with a dot, and its alias
    ],
)
def test_every_other_name_of_a_figure_page_redirects_to_its_figid(
    client: FlaskClient, name: str, record: str
):
    for suffix, query in (("", ""), ("", "?genes=STAT3"), ("/genes.tsv", ""), ("/genes.gmt", "")):
        response = client.get(f"/figures/{name}{suffix}{query}")
        assert response.status_code == 301, (name, suffix)
        assert response.headers["Location"] == f"/figures/{record}{suffix}{query}"
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        assert client.get(response.headers["Location"]).status_code == 200
    api = client.get(f"/api/figures/{name}")
    assert api.status_code == 200
    assert api.headers["Link"] == f'</api/figures/{record}>; rel="canonical"'
    assert api.get_json() == client.get(f"/api/figures/{record}").get_json()


def test_the_canonical_urls_answer_themselves(client: FlaskClient):
    response = client.get(f"/figures/{STAT3_RECORD}")
    assert response.status_code == 200
    canonical = page(response).select_one("link[rel=canonical]")["href"]
    assert canonical == f"http://localhost/figures/{STAT3_RECORD}"
    api = client.get(f"/api/figures/{STAT3_RECORD}")
    assert api.headers["Link"] == f'</api/figures/{STAT3_RECORD}>; rel="canonical"'
    # A script on another site can read it.
    cross = client.get(f"/api/figures/{STAT3_ALIAS}", headers={"Origin": "https://example.org"})
    assert "Link" in cross.headers["Access-Control-Expose-Headers"].split(", ")


@pytest.mark.parametrize("name", ["PMC0__nothing", "PMC0__nothing.html", ".html"])
def test_a_name_of_no_figure_is_a_404(client: FlaskClient, name: str):
    response = client.get(f"/figures/{name}")
    assert response.status_code == 404
    assert f"no figure with figid or PFOCR alias '{name}'" in page(response).get_text()
    api = client.get(f"/api/figures/{name}")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


# -- the names and links shown -------------------------------------------------------------


def facts(html: BeautifulSoup) -> dict[str, str]:
    return {
        dt.get_text(strip=True): dt.find_next_sibling("dd").get_text(strip=True)
        for dt in html.select("dl.facts dt")
    }


@pytest.mark.parametrize(
    ("figid", "alias", "uuid"),
    [
        (NDEX_RECORD, "PMC1052008__F1", NDEX_UUID),  # older generation
        (
            "PMC3243745__toxscikfr262f06_3c",
            "PMC3243745__F6",
            "0d1ff7b3-df14-11ea-99da-0ac135e8bacf",
        ),
    ],
)
def test_figure_page_shows_the_alias_and_the_ndex_network(
    client: FlaskClient, figid: str, alias: str, uuid: str
):
    html = page(client.get(f"/figures/{figid}"))
    shown = facts(html)
    assert (shown["PFOCR alias"], shown["NDEx network"]) == (alias, uuid)
    ndex_url = f"https://www.ndexbio.org/viewer/networks/{uuid}"
    pfocr_url = f"https://pfocr.wikipathways.org/figures/{figid}.html"
    links = {a.get_text(strip=True): a["href"] for a in html.select(".link-list a")}
    assert (links["Network at NDEx"], links["Figure on the PFOCR site"]) == (ndex_url, pfocr_url)
    data = json.loads(html.select_one("script[type='application/ld+json']").string)
    assert data["sameAs"] == [pfocr_url, ndex_url]
    assert data["identifier"] == [figid, alias]
    record = client.get(f"/api/figures/{figid}").get_json()
    assert (record["figid_alias"], record["ndex"]) == (alias, uuid)
    assert (record["links"]["ndex"], record["links"]["pfocr"]) == (ndex_url, pfocr_url)
    assert (record["record"]["figid_alias"], record["record"]["ndex"]) == (alias, uuid)


def test_figure_page_of_a_record_without_alias_or_network(client: FlaskClient):
    html = page(client.get(f"/figures/{UNNAMED_RECORD}"))
    assert "PFOCR alias" not in facts(html) and "NDEx network" not in facts(html)
    data = json.loads(html.select_one("script[type='application/ld+json']").string)
    assert data["sameAs"] == [f"https://pfocr.wikipathways.org/figures/{UNNAMED_RECORD}.html"]
    record = client.get(f"/api/figures/{UNNAMED_RECORD}").get_json()
    assert (record["figid_alias"], record["ndex"], record["links"]["ndex"]) == (None, None, None)


def test_search_page_finds_an_alias_and_says_what_it_named(client: FlaskClient):
    html = page(client.get(f"/?q={STAT3_ALIAS}"))
    assert html.select_one(".card h3 a")["href"] == f"/figures/{STAT3_RECORD}"
    note = html.select_one(".notes.lookup")
    assert note.get_text() == f"“{STAT3_ALIAS}”: the figure with PFOCR alias {STAT3_ALIAS}."
    assert note.select_one("a")["href"] == f"/figures/{STAT3_ALIAS}"  # which redirects
    html = page(client.get(f"/?q={PAPER}"))
    assert [a["href"] for a in html.select(".card h3 a")] == [
        f"/figures/{f}" for f in PAPER_FIGURES
    ]
    assert html.select_one(".notes.lookup").get_text() == (
        f"“{PAPER}”: the 2 figures of paper {PAPER}."
    )


def test_search_page_ndex_facet_chooses_one_side(client: FlaskClient):
    html = page(client.get("/?q=pathway"))
    with_network = html.find("a", attrs={"data-key": "f:ndex:true"})
    assert with_network["href"] == "/?q=pathway&ndex=true"
    assert "Has a network at NDEx" in with_network.get_text()
    html = page(client.get(with_network["href"]))
    assert html.find("a", attrs={"data-key": "f:ndex:false"})["href"] == (
        "/?q=pathway&ndex=false"  # not both: that would be every figure again
    )
    assert [c.get_text(strip=True) for c in html.select(".chips a.chip")] == [
        "Has a network at NDEx×(remove filter)"
    ]
    assert all(a.get_text() == "NDEx network" for a in html.select(".card__links a[href*=ndex]"))


def test_exports_name_each_figure_by_figid_with_its_alias(client: FlaskClient):
    gmt = client.get(f"/api/search?q={PAPER}+{STAT3_ALIAS}&format=gmt").get_data(as_text=True)
    sets = {line.split("\t")[0]: line.split("\t") for line in gmt.splitlines()}
    assert sets[STAT3_RECORD][1] == f"{STAT3_ALIAS} Domain structure and signaling pathway of STAT3"
    page_gmt = client.get(f"/figures/{STAT3_RECORD}/genes.gmt").get_data(as_text=True)
    assert page_gmt == next(line + "\n" for line in gmt.splitlines() if STAT3_RECORD in line)
    text = client.get("/api/search?ndex=true&format=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 57 and all(
        r["ndex_url"].startswith("https://www.ndexbio.org/") for r in rows
    )
    ndex_row = next(r for r in rows if r["figid"] == NDEX_RECORD)
    assert ndex_row["figid_alias"] == "PMC1052008__F1"


def test_embedded_search_finds_an_alias_and_links_the_figure_page(client: FlaskClient):
    html = page(client.get(f"/embed/frame?q={STAT3_ALIAS}"))
    first = html.select_one("a[href*='/figures/']")
    assert first["href"].endswith(f"/figures/{STAT3_RECORD}")


# -- an index from before figure names were kept -------------------------------------------


def test_an_index_of_the_previous_schema_is_refused_as_needing_a_rebuild(tmp_path: Path):
    root = tmp_path / "ix"
    pipeline.build([sample_path(STAT3_RECORD)], root, workers=1)
    meta_path = IndexStore(root).require_current() / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "schema_version": SCHEMA_VERSION - 1}))
    service = SearchService(root)
    with pytest.raises(IncompatibleIndex, match="rebuild it with `pfocr build`"):
        service.figures_named(STAT3_ALIAS)
    client = create_app(root, {"TESTING": True}).test_client()
    for url in (f"/api/figures/{STAT3_ALIAS}", f"/api/search?q={STAT3_ALIAS}"):
        response = client.get(url)
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "index_unavailable"
    assert client.get(f"/figures/{STAT3_ALIAS}").status_code == 503
