"""The /enrich page without a browser: the form, its answer, errors beside the form, and
the figure page's offer to enrich with its genes."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from server.web import create_app
from server.web.pages import CSP
from tests.conftest import STAT3_RECORD, ShapeBuilder

GENES = "STAT3\nJAK\nIL6\nTP53\np53\nNOTAGENE1"


@pytest.fixture(scope="module")
def client(index_shapes: ShapeBuilder) -> FlaskClient:
    return create_app(index_shapes("one-segment"), {"TESTING": True}).test_client()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_the_empty_form_offers_an_example_and_the_librarys_facets(client: FlaskClient):
    response = client.get("/enrich")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    page = soup(response)
    example = page.select_one("button[data-example]")
    assert len(example["data-example"].split("\n")) >= 12
    organisms = [i["value"] for i in page.select("input[name=organism]")]
    assert "Homo sapiens" in organisms
    assert not page.select(".enrich-table")
    assert not page.select("[style]") and not page.select("script:not([src])")


def test_posting_a_list_ranks_figures_and_links_them_highlighted(client: FlaskClient):
    page = soup(client.post("/enrich", data={"genes": GENES, "organism": "Homo sapiens"}))
    rows = page.select(".enrich-table tbody tr")
    assert rows
    link = rows[0].select_one(".figure-title")["href"]
    assert link.startswith(f"/figures/{STAT3_RECORD}?genes=") and "STAT3" in link
    assert page.select_one("input[name=organism][value='Homo sapiens']").has_attr("checked")
    assert page.select_one("#genes").text == GENES
    assert "NOTAGENE1" in page.select_one(".enrich-notes").text
    assert len(page.select(".enrich-chart rect")) == min(len(rows), 10)
    downloads = page.select_one("form.downloads")
    assert downloads["action"] == "/api/enrich"
    hidden = {(i["name"], i["value"]) for i in downloads.select("input[type=hidden]")}
    assert ("organism", "Homo sapiens") in hidden and ("genes", GENES) in hidden


def test_a_get_with_genes_asks_the_same(client: FlaskClient):
    posted = soup(client.post("/enrich", data={"genes": GENES}))
    got = soup(client.get("/enrich", query_string={"genes": GENES}))
    assert str(got.select_one(".enrich-table")) == str(posted.select_one(".enrich-table"))


def test_the_example_button_without_javascript_fills_the_list(client: FlaskClient):
    page = soup(client.post("/enrich", data={"genes": "", "example": "1"}))
    assert len(page.select_one("#genes").text.split("\n")) >= 12
    assert not page.select(".enrich-table")  # filled, not run


def test_a_bad_list_is_shown_beside_the_form_which_keeps_it(client: FlaskClient):
    typed = " ".join(f"G{i}" for i in range(5001))
    response = client.post("/enrich", data={"genes": typed})
    assert response.status_code == 400
    page = soup(response)
    assert "genes has 5,001 entries; at most 5,000" in page.select_one(".form-error").text
    assert page.select_one("#genes").text == typed
    response = client.post("/enrich", data={"genes": "TP53", "year_min": "20x"})
    assert response.status_code == 400
    assert "year_min must be a whole number" in soup(response).select_one(".form-error").text


def test_the_figure_page_offers_its_genes(client: FlaskClient):
    page = soup(client.get(f"/figures/{STAT3_RECORD}"))
    form = page.select_one("form.enrich-offer")
    assert form["action"] == "/enrich" and form["method"] == "post"
    genes = form.select_one("input[name=genes]")["value"].split("\n")
    assert "STAT3" in genes and len(genes) == len(set(genes)) > 50


def test_unknown_parameters_are_refused(client: FlaskClient):
    response = client.get("/enrich?genez=TP53")
    assert response.status_code == 400
    assert "unknown parameter &#39;genez&#39;" in response.get_data(as_text=True)
