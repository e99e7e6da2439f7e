"""The HTML pages, rendered by the Flask test client over real records.

The browser tests (tests/ui/) drive the same pages in Chromium; these check what the
server sends: the links that carry the page state, the escaping of record text, the
error pages and the headers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup

from indexer import pipeline
from server.search.models import DEFAULT_FACETS
from server.web import create_app
from tests.conftest import FIXTURES, STAT3_RECORD

# A copy of the real STAT3 record with script payloads in its title, caption, paper title
# and printed gene words (tests/fixtures/xss/).
PAYLOAD_RECORD = "PMC7513516__xss-payload"
PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture(scope="module")
def client(sample_index):
    return create_app(sample_index, test_config={"TESTING": True}).test_client()


@pytest.fixture(scope="module")
def payload_client(tmp_path_factory):
    root = tmp_path_factory.mktemp("payload_index")
    report = pipeline.build([FIXTURES / "xss"], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return create_app(root, test_config={"TESTING": True}).test_client()


def get_page(client, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def facet_link(page: BeautifulSoup, facet: str, value: str):
    return page.find("a", attrs={"data-key": f"f:{facet}:{value}"})


def titles(page: BeautifulSoup) -> list[str]:
    return [h.get_text(strip=True) for h in page.select(".card h3")]


# -- search page ------------------------------------------------------------------------


def test_search_page_shows_the_same_hits_as_the_api_in_the_same_order(client):
    page = get_page(client, "/?q=insulin")
    api = client.get("/api/search?q=insulin").get_json()
    assert page.select_one("#results-title").get_text(" ", strip=True) == f"{api['total']} figures"
    assert titles(page) == [h["title"] for h in api["hits"]]
    first = page.select_one(".card")
    assert first.select_one("h3 a")["href"] == api["hits"][0]["links"]["page"]
    assert "<mark>insulin</mark>" in str(first.select_one(".card__snippet")).lower()


def test_a_card_shows_genes_as_links_with_the_printed_word(client):
    page = get_page(client, "/?q=gene:IL6")
    api = client.get("/api/search?q=gene:IL6").get_json()
    index = next(i for i, h in enumerate(api["hits"]) if h["figid"] == STAT3_RECORD)
    card = page.select(".card")[index]
    il6 = next(a for a in card.select("a.gene") if a.get_text().startswith("IL6"))
    assert il6.get_text(" ", strip=True) == "IL6 (IL-6)"  # printed as IL-6 in the figure
    assert il6["href"] == "/genes/IL6"
    assert "is-query" in il6["class"]
    assert card.select("a.gene")[0] is il6  # the genes searched for come first
    links = {a.get_text(strip=True): a["href"] for a in card.select(".card__links a")}
    assert links["PMC article"] == "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7513516/"
    assert links["Europe PMC"] == "https://europepmc.org/article/PMC/PMC7513516"
    image = card.select_one(".thumb img")
    assert image["loading"] == "lazy" and image["alt"] == ""
    assert image["src"].startswith("https://europepmc.org/articles/PMC7513516/bin/")


def test_an_organism_typed_as_text_is_offered_as_a_filter(client):
    page = get_page(client, "/?q=insulin+mouse")
    (offer,) = page.select(".offer")
    assert "Mus musculus" in offer.get_text()
    link = offer.find("a")
    assert query(link["href"]) == [("q", "insulin mouse"), ("organism", "Mus musculus")]
    (offered,) = client.get("/api/search?q=insulin+mouse").get_json()["query"]["organisms"]
    assert f"({offered['figures']} figures in the index)" in offer.get_text()
    api = client.get("/api/search?q=insulin+mouse&organism=Mus+musculus").get_json()
    filtered = get_page(client, link["href"])
    assert titles(filtered) == [h["title"] for h in api["hits"]]
    assert filtered.select(".offer") == []  # the filter is on: nothing more to offer


def test_facet_links_add_a_filter_and_counts_change(client):
    page = get_page(client, "/?q=insulin")
    link = facet_link(page, "organism", "Mus musculus")
    assert query(link["href"]) == [("q", "insulin"), ("organism", "Mus musculus")]
    filtered = get_page(client, link["href"])
    api = client.get("/api/search?q=insulin&organism=Mus+musculus").get_json()
    assert titles(filtered) == [h["title"] for h in api["hits"]]
    selected = facet_link(filtered, "organism", "Mus musculus")
    assert selected["aria-current"] == "true"
    assert query(selected["href"]) == [("q", "insulin")]  # clicking again removes it
    # The organism facet keeps its own counts; the gene facet counts the filtered set.
    assert facet_link(filtered, "organism", "Homo sapiens") is not None
    gene_counts = {v["value"]: v["count"] for v in api["facets"]["gene"]["values"]}
    for symbol, count in gene_counts.items():
        shown = facet_link(filtered, "gene", symbol).select_one(".facet__count")
        assert shown.get_text(strip=True).startswith(str(count))


def test_two_values_of_one_facet_or_together_and_chips_remove_each(client):
    url = "/?organism=Mus+musculus&organism=Danio+rerio&gene=AKT1"
    page = get_page(client, url)
    both = client.get("/api/search" + url[1:]).get_json()["total"]
    mouse = client.get("/api/search?organism=Mus+musculus&gene=AKT1").get_json()
    assert both > mouse["total"] > 0  # OR within a facet
    assert page.select_one("#results-title").get_text(" ", strip=True).startswith(f"{both} figure")
    chips = {a.get_text(" ", strip=True): a["href"] for a in page.select(".chips a.chip")}
    assert query(chips["Organism: Danio rerio × (remove filter)"]) == [
        ("organism", "Mus musculus"),
        ("gene", "AKT1"),
    ]
    assert query(chips["Clear all filters"]) == []


def test_removing_a_gene_never_leaves_more_min_genes_than_genes(client):
    page = get_page(client, "/?gene=AKT1&gene=MTOR&gene=PTEN&min_genes=3")
    for chip in page.select(".chips a.chip"):
        get_page(client, chip["href"])  # each removal is a valid page, not a 400
    chips = {a.get_text(" ", strip=True): a["href"] for a in page.select(".chips a.chip")}
    assert query(chips["Genes: PTEN × (remove filter)"]) == [("gene", "AKT1"), ("gene", "MTOR")]
    for link in page.select("#facet-gene + ul a[aria-current=true]"):
        get_page(client, link["href"])
    empty = get_page(client, "/?q=insulin&gene=AKT1&gene=NOSUCHGENE9&min_genes=2")
    for hint in empty.select(".empty a"):
        get_page(client, hint["href"])


def test_gene_filter_by_alias_selects_the_symbol_and_its_toggle_removes_the_alias(client):
    page = get_page(client, "/?gene=p53")
    selected = facet_link(page, "gene", "TP53")
    assert selected["aria-current"] == "true"
    assert query(selected["href"]) == []


def test_year_histogram_and_range_form_work_without_javascript(client):
    page = get_page(client, "/?q=insulin&year_min=2010&year_max=2020&sort=-year")
    form = page.select_one("form.year-form")
    hidden = [(i["name"], i["value"]) for i in form.select("input[type=hidden]")]
    assert hidden == [("q", "insulin"), ("sort", "-year")]
    assert form.select_one("input[name=year_min]")["value"] == "2010"
    bars = page.select(".year-chart rect")
    in_range = [r for r in bars if "in-range" in (r.get("class") or [])]
    assert in_range and len(in_range) < len(bars)
    bar_link = page.select_one(".year-chart a")
    year = bar_link.select_one("title").get_text().split(":")[0]
    assert query(bar_link["href"]) == [
        ("q", "insulin"),
        ("sort", "-year"),
        ("year_min", year),
        ("year_max", year),
    ]
    api = client.get("/api/search?q=insulin&year_min=2010&year_max=2020").get_json()
    years = [y for y in range(2010, 2021)]
    assert all(h["year"] in years for h in api["hits"])
    assert "Year: 2010–2020" in page.select_one(".chips").get_text(" ", strip=True)


def test_sort_pages_and_exports_carry_the_state(client):
    page = get_page(client, "/?q=pathway&organism=Homo+sapiens&page=2")
    sorts = {a.get_text(strip=True): a for a in page.select(".sort-links a")}
    assert sorts["Relevance"]["aria-current"] == "true"
    assert query(sorts["Newest"]["href"]) == [
        ("q", "pathway"),
        ("organism", "Homo sapiens"),
        ("sort", "-year"),
    ]
    pager = page.select_one(".pager")
    assert pager.select_one("[aria-current=page]").get_text() == "2"
    assert query(pager.select_one("a[rel=prev]")["href"]) == [
        ("q", "pathway"),
        ("organism", "Homo sapiens"),
    ]
    assert ("page", "3") in query(pager.select_one("a[rel=next]")["href"])
    exports = {a.get_text(strip=True): a["href"] for a in page.select(".export-links a")}
    assert set(exports) == {"CSV", "TSV", "JSON", "GMT"}
    assert exports["GMT"] == "/api/search?q=pathway&organism=Homo+sapiens&format=gmt"
    newest = get_page(client, sorts["Newest"]["href"])
    years = [int(y.get_text()) for y in newest.select(".card__meta span") if y.get_text().isdigit()]
    assert years == sorted(years, reverse=True)


def test_show_more_and_facets_on_request(client):
    page = get_page(client, "/")
    more = page.select_one('a[data-key="more:gene"]')
    assert ("facet_size", "50") in query(more["href"])
    assert len(get_page(client, more["href"]).select("#facet-gene + ul li")) == 50
    extra = {a.get_text(strip=True): a["href"] for a in page.select(".facet__extra a")}
    assert query(extra["chemicals"]) == [("facets", ",".join((*DEFAULT_FACETS, "chemical")))]
    with_chemicals = get_page(client, extra["chemicals"])
    assert with_chemicals.select_one("#facet-chemical") is not None


def test_zero_results_suggest_spellings_and_filters_to_drop(client):
    page = get_page(client, "/?q=insulln")
    did_you_mean = page.select_one(".empty a")
    assert did_you_mean.get_text() == "insulin"
    assert query(did_you_mean["href"]) == [("q", "insulin")]
    page = get_page(client, "/?q=insulin&organism=Danio+rerio&disease=Metastasis")
    hints = {a.get_text(strip=True): a["href"] for a in page.select(".empty a")}
    assert query(hints["Without the diseases filter"]) == [
        ("q", "insulin"),
        ("organism", "Danio rerio"),
    ]
    assert "Without the diseases filter (1 figure)" in page.select_one(".empty").get_text(
        " ", strip=True
    )
    # Nothing to refine: only the selected values stay in the sidebar, to be undone.
    assert [a["aria-current"] for a in page.select(".facets li a")] == ["true", "true"]


def test_fragment_request_gets_only_the_results_region(client):
    response = client.get("/?q=insulin", headers={"X-PFOCR-Fragment": "results"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div class="search-layout" id="results-root"')
    assert "<html" not in body
    assert "X-PFOCR-Fragment" in response.headers["Vary"]


def test_search_page_parameters_are_checked_as_the_api_checks_them(client):
    page = get_page(client, "/?per_page=500", status=400)
    api = client.get("/api/search?per_page=500").get_json()["error"]
    assert api["message"] in page.select_one("main").get_text(" ", strip=True)
    assert page.select_one("main code").get_text() == "per_page"
    page = get_page(client, "/?organsim=mouse", status=400)
    assert "did you mean 'organism'?" in page.get_text()


def test_pages_carry_a_strict_content_security_policy(client):
    for url in ("/", f"/figures/{STAT3_RECORD}", "/genes/STAT3", "/about", "/nowhere"):
        policy = client.get(url).headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "unsafe-inline" not in policy


def test_no_page_has_inline_scripts_or_styles(client):
    for url in ("/?q=insulin", f"/figures/{STAT3_RECORD}", "/genes/STAT"):
        page = get_page(client, url)
        assert not page.select("[style]"), url
        assert not page.select("style"), url
        for script in page.select("script"):
            assert script.get("src") or script.get("type") == "application/ld+json", url


# -- figure page ------------------------------------------------------------------------


def test_figure_page_shows_the_record_and_its_links(client):
    page = get_page(client, f"/figures/{STAT3_RECORD}")
    record = client.get(f"/api/figures/{STAT3_RECORD}").get_json()
    assert page.select_one("h1").get_text() == record["title"]
    assert page.select_one("title").get_text().startswith(record["title"])
    facts = {
        dt.get_text(): dt.find_next_sibling("dd").get_text() for dt in page.select(".facts dt")
    }
    assert facts["Year"] == "2020"
    assert facts["Reference"] == record["reference"]
    links = {a.get_text(strip=True): a["href"] for a in page.select(".link-list a")}
    assert links["Europe PMC article"] == "https://europepmc.org/article/PMC/PMC7513516"
    assert links["Figure on the PFOCR site"] == (
        f"https://pfocr.wikipathways.org/figures/{STAT3_RECORD}.html"
    )
    assert page.select_one(".figure-image img")["src"] == record["links"]["image"]


def test_figure_genes_table_links_out_and_highlights_asked_genes(client):
    page = get_page(client, f"/figures/{STAT3_RECORD}?genes=il6,6774")
    rows = page.select("table tbody tr")
    record = client.get(f"/api/figures/{STAT3_RECORD}").get_json()
    assert len(rows) == len(record["genes"])
    il6 = next(r for r in rows if r.select("td")[2].a.get_text() == "IL6")
    cells = [td.get_text(" ", strip=True) for td in il6.select("td")]
    assert cells[0] == "IL-6/10, IL-6"  # the printed words, as OCR read them
    assert cells[1] == "IL-6" and cells[3] == "3569"
    assert il6.select("td")[2].a["href"] == "/genes/IL6"
    assert il6.select_one("td.num a")["href"] == "https://www.ncbi.nlm.nih.gov/gene/3569"
    highlighted = {r.select("td")[2].a.get_text() for r in page.select("tr.is-highlighted")}
    assert highlighted == {"IL6", "STAT3"}


def test_figure_page_lists_figures_sharing_genes_from_the_service(client, sample_index):
    from server.search.service import SearchService

    page = get_page(client, f"/figures/{STAT3_RECORD}")
    expected = SearchService(sample_index).similar_figures(STAT3_RECORD, 8)
    shown = page.select(".similar li")
    assert [li.a["href"] for li in shown] == [s["links"]["page"] for s in expected]
    assert (
        shown[0]
        .select_one(".small")
        .get_text()
        .startswith(
            f"Shared ({len(expected[0]['shared'])}): {', '.join(expected[0]['shared'][:12])}"
        )
    )


def test_figure_downloads(client):
    tsv = client.get(f"/figures/{STAT3_RECORD}/genes.tsv")
    assert tsv.headers["Content-Disposition"] == (
        f'attachment; filename="{STAT3_RECORD}-genes.tsv"'
    )
    lines = tsv.get_data(as_text=True).splitlines()
    assert lines[0] == "printed\tsymbol\tentrez"
    assert "IL-6/10|IL-6\tIL6\t3569" in lines
    gmt = client.get(f"/figures/{STAT3_RECORD}/genes.gmt").get_data(as_text=True)
    fields = gmt.rstrip("\n").split("\t")
    assert fields[0] == STAT3_RECORD and "IL6" in fields[2:]


def test_figure_json_ld_names_the_figure_and_its_genes(client):
    page = get_page(client, f"/figures/{STAT3_RECORD}")
    data = json.loads(page.select_one("script[type='application/ld+json']").string)
    assert data["name"] == "Domain structure and signaling pathway of STAT3"
    assert "STAT3" in data["keywords"] and "IL6" in data["keywords"]
    assert {"@type": "Gene", "name": "IL6", "identifier": "ncbigene:3569"} in data["about"]


def test_unknown_figure_and_gene_get_a_404_page(client):
    page = get_page(client, "/figures/PMC0__nothing", status=404)
    assert "no figure with figid or PFOCR alias 'PMC0__nothing'" in page.get_text()
    assert page.select_one("link[rel=stylesheet]") is not None  # the site's own style
    page = get_page(client, "/genes/NOSUCHGENE1", status=404)
    assert "no gene 'NOSUCHGENE1'" in page.get_text()
    assert client.get("/api/nowhere").get_json()["error"]["status"] == 404  # API keeps JSON


def test_wrong_method_on_a_page_gets_a_page_and_on_the_api_json(client):
    response = client.post("/")
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "POST is not allowed here." in response.get_data(as_text=True)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "Content-Security-Policy" in response.headers
    api = client.delete("/api/search")
    assert api.status_code == 405 and api.get_json()["error"]["code"] == "method_not_allowed"


def test_figure_page_rejects_unknown_parameters(client):
    page = get_page(client, f"/figures/{STAT3_RECORD}?gene=IL6", status=400)
    assert "unknown parameter 'gene' (did you mean 'genes'?)" in page.get_text()


# -- gene page --------------------------------------------------------------------------


def test_gene_page_shows_the_gene_its_figures_and_chart(client):
    page = get_page(client, "/genes/p53")
    api = client.get("/api/genes/p53").get_json()
    assert page.select_one("h1").get_text() == "TP53"
    assert "Entrez Gene ID 7157" in page.select_one(".page-head").get_text()
    assert titles(page) == [h["title"] for h in api["hits"]]
    bars = page.select(".year-bars rect")
    assert sum(int(r.title.get_text().split(": ")[1]) for r in bars) == sum(
        y["count"] for y in api["by_year"]
    )
    cooccurring = [
        a.get_text(" ", strip=True).split()[0] for a in page.select(".gene-layout a.gene")
    ]
    assert cooccurring == [g["symbol"] for g in api["cooccurring"]]
    # Facet links stay on the gene page.
    assert facet_link(page, "organism", "Homo sapiens")["href"].startswith("/genes/p53?")


def test_gene_page_by_entrez_id(client):
    page = get_page(client, "/genes/7157")
    assert page.select_one("h1").get_text() == "TP53"


def test_gene_page_names_what_the_gene_is_printed_as(client):
    page = get_page(client, "/genes/IL6")
    assert "Printed in these figures as: IL-6" in page.select_one(".page-head").get_text()


def test_gene_page_of_an_alias_with_a_slash_links_back_to_itself(client):
    page = get_page(client, "/genes/P/CAF")
    api = client.get("/api/genes/P/CAF").get_json()
    assert page.select_one("h1").get_text() == api["symbol"]
    link = facet_link(page, "organism", api["by_organism"][0]["value"])
    assert link["href"].startswith("/genes/P/CAF?organism=")
    assert get_page(client, link["href"]).select_one("h1").get_text() == api["symbol"]


def test_ambiguous_alias_lists_the_genes_and_searches_them_all(client):
    page = get_page(client, "/genes/STAT")
    api = client.get("/api/genes/STAT").get_json()
    assert page.select_one("h1").get_text() == f"“STAT” names {len(api['genes'])} genes"
    choices = [a["href"] for a in page.select(".choices a")]
    assert choices == [f"/genes/{g['symbol']}" for g in api["genes"]]
    search_all = page.find("a", string="search figures of all of them")["href"]
    assert query(search_all) == [("gene", g["symbol"]) for g in api["genes"]]


# -- record text stays text ---------------------------------------------------------------


def _no_live_payload(html: str) -> None:
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find("img", src="x")
    for script in soup.find_all("script"):
        assert "alert" not in (script.get("src") or "")
        if script.get("type") != "application/ld+json":
            assert not (script.string or "").strip()


@pytest.mark.parametrize("url", ["/?q=stat3", f"/figures/{PAYLOAD_RECORD}", "/genes/STAT3"])
def test_script_payloads_in_records_are_shown_as_text(payload_client, url):
    html = payload_client.get(url).get_data(as_text=True)
    _no_live_payload(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html or (
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    )


def test_json_ld_cannot_be_closed_by_record_text(payload_client):
    html = payload_client.get(f"/figures/{PAYLOAD_RECORD}").get_data(as_text=True)
    body = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert "</" not in body and "<!--" not in body and "<" not in body
    data = json.loads(body)
    assert data["name"].startswith(PAYLOADS[0])
    assert "</script><!--" in data["caption"]


# -- the about page and static files --------------------------------------------------------


def test_about_page_says_what_is_indexed_and_links_the_api(client):
    page = get_page(client, "/about")
    assert "214 figures indexed" in page.get_text()
    assert page.find("a", href="/api/openapi.json")


def test_about_page_without_an_index(tmp_path):
    client = create_app(tmp_path / "none", test_config={"TESTING": True}).test_client()
    assert "No index yet" in get_page(client, "/about").get_text()
    page = get_page(client, "/", status=503)
    assert "The search index is not available" in page.get_text()


def test_stylesheet_is_linked_by_content_hash_and_cached_for_a_year(client):
    page = client.get("/about").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert re.fullmatch(r"/static/site\.css\?v=[0-9a-f]{12}", href)
    with client.get(href) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with client.get("/static/site.css?v=000000000000") as stale:
        assert "immutable" not in stale.headers.get("Cache-Control", "")


def test_static_files_ship_in_the_package():
    import server.web

    static = Path(server.web.__file__).parent / "static"
    assert (static / "site.css").is_file() and (static / "site.js").is_file()
