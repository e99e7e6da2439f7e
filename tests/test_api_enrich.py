"""POST /api/enrich and POST /api/genes over HTTP: bodies of every kind, the exports, the
errors in the API's one shape, and the answers against their OpenAPI schemas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.web import create_app, params
from server.web.api import openapi_document
from tests.conftest import STAT3_RECORD, ShapeBuilder
from tests.test_api_errors import assert_error
from tests.test_openapi import documented_properties, schema_validator

GENES = ["STAT3", "JAK", "IL6", "AKT1", "TP53", "p53", "7157", "NOTAGENE1", "EGFR", "MYC"]


@pytest.fixture(scope="module")
def index(index_shapes: ShapeBuilder) -> Path:
    """One shape: enrichment over every shape is tested without HTTP (test_enrichment)."""
    return index_shapes("one-segment")


@pytest.fixture(scope="module")
def app(index: Path) -> Flask:
    return create_app(index, {"TESTING": True, "PFOCR_EXPORT_MAX": 50})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def enrich(client: FlaskClient, **kwargs: Any) -> dict[str, Any]:
    response = client.post("/api/enrich", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def figids(answer: dict[str, Any]) -> list[str]:
    return [row["figid"] for row in answer["results"]]


def test_every_kind_of_body_asks_the_same(client: FlaskClient):
    as_list = enrich(client, json={"genes": GENES, "organism": ["Homo sapiens"]})
    assert as_list["total"] > 3
    assert figids(as_list)[0] == STAT3_RECORD
    text = "\n".join(GENES[:4]) + "\r\n" + ",".join(GENES[4:7]) + "\t" + " ".join(GENES[7:])
    bodies = [
        {"json": {"genes": text, "organism": "Homo sapiens"}},
        {"data": {"genes": text, "organism": "Homo sapiens"}},  # the page's form
        {
            "data": {"genes": text, "organism": "Homo sapiens"},
            "content_type": "multipart/form-data",
        },
        # curl -d '{...}' sends JSON as a form type: read as JSON all the same
        {
            "data": json.dumps({"genes": GENES, "organism": "Homo sapiens"}),
            "content_type": "application/x-www-form-urlencoded",
        },
    ]
    for body in bodies:
        assert enrich(client, **body) == as_list, body
    in_query = enrich(client, query_string={"organism": "Homo sapiens"}, json={"genes": GENES})
    assert in_query == as_list


def test_the_answer_says_what_it_read_and_did(client: FlaskClient):
    answer = enrich(client, json={"genes": GENES, "per_page": 5})
    query = answer["query"]
    assert query["unrecognised"] == ["NOTAGENE1"]
    assert [d["input"] for d in query["duplicates"]] == ["p53", "7157"]
    assert query["ambiguous"][0]["input"] == "JAK"
    assert answer["correction"] == "library"
    assert answer["hypotheses"] == answer["library_size"]
    assert answer["library"]["too_small"] > 0
    assert any("left out of the library" in note for note in answer["notes"])
    row = answer["results"][0]
    assert row["links"]["highlighted"] == (
        f"/figures/{row['figid']}?genes={','.join(row['overlap_genes'])}"
    )
    assert len(answer["results"]) == 5 and answer["pages"] == -(-answer["total"] // 5)


def test_tsv_export_has_enrichrs_columns_and_every_row(client: FlaskClient):
    answer = enrich(client, json={"genes": GENES, "per_page": 500})
    response = client.post("/api/enrich", json={"genes": GENES, "format": "tsv"})
    assert response.status_code == 200
    assert response.mimetype == "text/tab-separated-values"
    assert "pfocr-enrichment.tsv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)), dialect="excel-tab"))
    assert rows[0] == [
        "Term",
        "Title",
        "Overlap",
        "P-value",
        "Adjusted P-value",
        "Odds Ratio",
        "Fold Enrichment",
        "Combined Score",
        "Genes",
    ]
    total = answer["total"]
    assert response.headers["X-Total-Count"] == str(total)
    assert response.headers["X-Exported-Count"] == str(min(total, 50))
    assert len(rows) - 1 == min(total, 50)
    for line, row in zip(rows[1:], answer["results"], strict=False):
        assert line[0] == row["figid"]
        assert line[2] == f"{row['overlap']}/{row['figure_genes']}"
        assert float(line[3]) == row["p_value"]
        assert float(line[4]) == row["adjusted_p_value"]
        assert float(line[5]) == row["odds_ratio"]
        assert line[8].split(";") == row["overlap_genes"]


def test_gmt_export_holds_each_figures_genes(client: FlaskClient):
    answer = enrich(client, json={"genes": GENES[:3], "per_page": 500})
    response = client.post("/api/enrich", data={"genes": " ".join(GENES[:3]), "format": "gmt"})
    lines = response.get_data(as_text=True).splitlines()
    assert [line.split("\t")[0] for line in lines] == figids(answer)[:50]
    for line, row in zip(lines, answer["results"], strict=False):
        genes = line.split("\t")[2:]
        assert len(genes) == row["figure_genes"]
        assert set(row["overlap_genes"]) <= set(genes)


def test_tsv_with_no_overlap_is_the_header_alone(client: FlaskClient):
    response = client.post("/api/enrich", json={"genes": "NOTAGENE1", "format": "tsv"})
    assert response.get_data(as_text=True).startswith("Term\tTitle")
    assert response.get_data(as_text=True).count("\n") == 1
    assert response.headers["X-Total-Count"] == "0"


def test_reading_a_list(client: FlaskClient):
    response = client.post("/api/genes", json={"genes": "TP53\np53, JAK NOTAGENE1"})
    read = response.get_json()
    assert (read["entries"], read["recognised"], read["unrecognised"]) == (4, 3, ["NOTAGENE1"])
    empty = client.post("/api/genes", data={"genes": ""}).get_json()
    assert (empty["entries"], empty["recognised"]) == (0, 0)


@pytest.mark.parametrize(
    ("body", "parameter", "message"),
    [
        ({"genes": []}, "genes", "genes is empty: give gene symbols, Entrez IDs or printed names"),
        (
            {"genes": " \n\t "},
            "genes",
            "genes is empty: give gene symbols, Entrez IDs or printed names",
        ),
        ({}, "genes", "genes is empty: give gene symbols, Entrez IDs or printed names"),
        (
            {"genes": ["TP53"] * 5001},
            "genes",
            "genes has 5,001 entries; at most 5,000 are allowed",
        ),
        (
            {"genes": ["TP53", 7157]},
            "genes",
            'genes entry 2 must be text, got int 7157 (write an Entrez ID as text: "7157")',
        ),
        ({"genes": ["TP53", None]}, "genes", "genes entry 2 must be text, got NoneType None"),
        (
            {"genes": {"TP53": 1}},
            "genes",
            "genes must be a list of texts or one text of entries, got an object",
        ),
        ({"genes": "TP53", "per_page": 0}, "per_page", "per_page must be between 1 and 500, got 0"),
        (
            {"genes": "TP53", "per_page": 501},
            "per_page",
            "per_page must be between 1 and 500, got 501",
        ),
        ({"genes": "TP53", "sort": "year"}, "sort", None),
        ({"genes": "TP53", "gens": "x"}, "gens", None),
        (
            {"genes": "TP53", "format": "csv"},
            "format",
            "format must be one of json, tsv, gmt; got 'csv'",
        ),
        ({"genes": "TP53", "correction": "bonferroni"}, "correction", None),
        ({"genes": "TP53", "background_size": 3}, "background_size", None),
        ({"genes": "TP53", "year_min": 2020, "year_max": 2010}, "year_min", None),
    ],
)
def test_bad_bodies(client: FlaskClient, body: dict, parameter: str, message: str | None):
    error = assert_error(client.post("/api/enrich", json=body), 400, "invalid_parameter", parameter)
    if message is not None:
        assert error["message"] == message
    if parameter in ("sort", "gens"):
        assert error["message"].startswith(f"unknown parameter {parameter!r}")


def test_body_over_the_limit_is_413_in_the_api_shape(index: Path):
    app = create_app(index, {"TESTING": True, "MAX_CONTENT_LENGTH": 1000})
    client = app.test_client()
    body = {"genes": [f"GENE{i}" for i in range(300)]}
    for sent in ({"json": body}, {"data": {"genes": "\n".join(body["genes"])}}):
        assert_error(
            client.post("/api/enrich", **sent),
            413,
            "body_too_large",
            "body",
            "the request body is over the limit of 1,000 bytes",
        )


def test_get_is_not_allowed(client: FlaskClient):
    assert_error(client.get("/api/enrich?genes=TP53"), 405, "method_not_allowed", None)


def test_documented_body_is_the_accepted_parameters():
    body = openapi_document()["components"]["schemas"]["EnrichBody"]["properties"]
    assert sorted(body) == sorted(params.ENRICH_PARAMS)


@pytest.mark.parametrize(
    "body",
    [
        {"genes": GENES, "facets": ["organism", "year"]},
        {"genes": GENES, "background": [*GENES[:5], "BGONLY"], "correction": "overlapping"},
        {"genes": "NOTAGENE1"},
        {"genes": GENES, "background_size": 20000, "q": "signaling"},
    ],
)
def test_answers_match_their_schema_and_every_field_is_documented(client: FlaskClient, body: dict):
    document = openapi_document()
    answer = enrich(client, json=body)
    schema_validator(document, "EnrichResult").validate(answer)
    schemas = document["components"]["schemas"]
    assert set(answer) == documented_properties(document, schemas["EnrichResult"])
    row_fields = documented_properties(document, schemas["EnrichRow"])
    for row in answer["results"]:
        assert set(row) == row_fields
    read = client.post("/api/genes", json={"genes": body["genes"]}).get_json()
    assert set(read) == {"version"} | documented_properties(document, schemas["GeneListRead"])
