"""Every bad input the API can get, and the one error shape it answers with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.search.models import MAX_GENES
from server.web import create_app

ERROR_KEYS = {"status", "code", "parameter", "message", "position"}
SEARCH_PARAMETERS = (
    "q, organism, gene, disease, chemical, annotation, year_min, year_max, gene_match, "
    "min_genes, sort, page, per_page, facets, facet_size, format"
)


def assert_error(
    response: TestResponse,
    status: int,
    code: str,
    parameter: str | None,
    message: str | None = None,
) -> dict[str, Any]:
    """Assert the one error shape, its status, code and parameter, and its exact message."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/json"
    body = json.loads(text)
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == ERROR_KEYS
    assert (error["status"], error["code"], error["parameter"]) == (status, code, parameter)
    assert isinstance(error["message"], str) and error["message"]
    if message is not None:
        assert error["message"] == message
    assert "Traceback" not in text and 'File "' not in text
    return error


@pytest.fixture(scope="module")
def app(sample_index: Path) -> Flask:
    return create_app(sample_index, {"TESTING": True, "PFOCR_EXPORT_MAX": 50})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


GET_CASES = [
    # (query string, parameter, message)
    ("per_page=500", "per_page", "per_page must be between 1 and 100, got 500"),
    ("per_page=0", "per_page", "per_page must be between 1 and 100, got 0"),
    (
        "per_page=ten",
        "per_page",
        "per_page must be a whole number between 1 and 100, got 'ten'",
    ),
    ("page=0", "page", "page must be between 1 and 10000, got 0"),
    ("page=1&page=2", "page", "page is given 2 times; give it once"),
    (
        "year_min=last",
        "year_min",
        "year_min must be a whole number between 1000 and 9999, got 'last'",
    ),
    (
        "year_max=2015.5",
        "year_max",
        "year_max must be a whole number between 1000 and 9999, got '2015.5'",
    ),
    ("year_min=15", "year_min", "year_min must be between 1000 and 9999, got 15"),
    (
        "year_min=2020&year_max=2010",
        "year_min",
        "year_min (2020) must not be after year_max (2010)",
    ),
    ("sort=date", "sort", "sort must be one of relevance, year, -year; got 'date'"),
    ("gene_match=most", "gene_match", "gene_match must be one of all, any; got 'most'"),
    (
        "min_genes=3&gene=STAT3&gene=JAK2",
        "min_genes",
        "min_genes (3) must not exceed the number of gene values given (2)",
    ),
    (
        "min_genes=two&gene=STAT3",
        "min_genes",
        "min_genes must be a whole number between 1 and 1000, got 'two'",
    ),
    (
        "facets=organism,colour",
        "facets",
        "unknown facet 'colour'; allowed: organism, year, gene, disease, chemical, annotation",
    ),
    ("facet_size=0", "facet_size", "facet_size must be between 1 and 1000, got 0"),
    ("facet_size=5000", "facet_size", "facet_size must be between 1 and 1000, got 5000"),
    ("q=" + "a" * 1001, "q", "q is 1,001 characters long; at most 1,000 are allowed"),
    (
        "q=STAT3%20year:2020..2010",
        "q",
        "year range year:2020..2010 is reversed at character 7: write the earlier year "
        "first, as in year:2010..2020",
    ),
    ("format=xlsx", "format", "format must be one of json, csv, tsv, gmt; got 'xlsx'"),
    (
        "perpage=5",
        "perpage",
        f"unknown parameter 'perpage' (did you mean 'per_page'?); allowed: {SEARCH_PARAMETERS}",
    ),
    (
        "gene=" + "&gene=".join(f"G{i}" for i in range(MAX_GENES + 1)),
        "gene",
        "gene has 1,001 values; at most 1,000 are allowed",
    ),
]


@pytest.mark.parametrize(("query", "parameter", "message"), GET_CASES)
def test_bad_search_parameter(client: FlaskClient, query: str, parameter: str, message: str):
    assert_error(client.get(f"/api/search?{query}"), 400, "invalid_parameter", parameter, message)


def test_query_syntax_error_gives_its_position(client: FlaskClient):
    error = assert_error(
        client.get("/api/search?q=STAT3%20year:2020..2010"), 400, "invalid_parameter", "q"
    )
    assert error["position"] == 6


BODY_CASES = [
    # (body, parameter, message)
    (
        {"gene": [f"G{i}" for i in range(MAX_GENES + 1)]},
        "gene",
        "gene has 1,001 values; at most 1,000 are allowed",
    ),
    (
        {"year_min": "recent"},
        "year_min",
        "year_min must be a whole number between 1000 and 9999, got 'recent'",
    ),
    (
        {"year_min": True},
        "year_min",
        "year_min must be text or a number (or a list of them), got a boolean",
    ),
    (
        {"gene": [{"symbol": "STAT3"}]},
        "gene",
        "gene must be text or a number (or a list of them), got an object",
    ),
    ({"per_page": [10, 20]}, "per_page", "per_page is given 2 times; give it once"),
    (
        {"genes": ["STAT3"]},
        "genes",
        f"unknown parameter 'genes' (did you mean 'gene'?); allowed: {SEARCH_PARAMETERS}",
    ),
    (
        ["STAT3", "JAK2"],
        "body",
        'the request body must be a JSON object such as {"gene": ["STAT3", "JAK2"]}, got an array',
    ),
]


@pytest.mark.parametrize(("body", "parameter", "message"), BODY_CASES)
def test_bad_search_body(client: FlaskClient, body: Any, parameter: str, message: str):
    response = client.post("/api/search", json=body)
    assert_error(response, 400, "invalid_parameter", parameter, message)


def test_malformed_json_body_says_where(client: FlaskClient):
    response = client.post("/api/search", data='{"gene": ["STAT3",]}')
    error = assert_error(
        response,
        400,
        "invalid_parameter",
        "body",
        "the request body is not valid JSON: Expecting value at line 1, column 19",
    )
    assert error["position"] == 18


def test_body_not_utf8(client: FlaskClient):
    response = client.post("/api/search", data=b'{"q": "\xff"}')
    assert_error(
        response,
        400,
        "invalid_parameter",
        "body",
        "the request body is not valid JSON: it is not UTF-8 text",
    )


def test_parameter_both_in_query_and_body(client: FlaskClient):
    response = client.post("/api/search?q=STAT3", json={"q": "JAK2"})
    assert_error(
        response,
        400,
        "invalid_parameter",
        "q",
        "q is given both in the query string and in the body; give it once",
    )


def test_body_over_limit(sample_index: Path):
    app = create_app(sample_index, {"TESTING": True, "MAX_CONTENT_LENGTH": 1000})
    body = {"gene": [f"GENE{i}" for i in range(200)]}
    response = app.test_client().post("/api/search", json=body)
    assert_error(
        response,
        413,
        "body_too_large",
        "body",
        "the request body is over the limit of 1,000 bytes",
    )


def test_export_over_cap(client: FlaskClient):
    error = assert_error(client.get("/api/search?format=csv"), 400, "export_too_large", "format")
    assert error["message"].startswith(
        "this search matches 214 figures; an export is limited to 50: narrow it"
    )


def test_unknown_figure(client: FlaskClient):
    error = assert_error(client.get("/api/figures/PMC0__nothing"), 404, "not_found", None)
    assert "PMC0__nothing" in error["message"]


def test_unknown_gene(client: FlaskClient):
    error = assert_error(client.get("/api/genes/NOSUCHGENE1"), 404, "not_found", None)
    assert "NOSUCHGENE1" in error["message"]


def test_figure_takes_no_parameters(client: FlaskClient):
    assert_error(
        client.get("/api/figures/PMC0__nothing?page=2"),
        400,
        "invalid_parameter",
        "page",
        "unknown parameter 'page': this takes no parameters",
    )


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("q=STA&limit=0", "limit", "limit must be between 1 and 50, got 0"),
        ("q=STA&limit=many", "limit", "limit must be a whole number between 1 and 50, got 'many'"),
        ("q=STA&size=3", "size", "unknown parameter 'size'; allowed: q, limit"),
    ],
)
def test_bad_suggest_parameter(client: FlaskClient, query: str, parameter: str, message: str):
    assert_error(client.get(f"/api/suggest?{query}"), 400, "invalid_parameter", parameter, message)


def test_gene_lookup_checks_parameters(client: FlaskClient):
    assert_error(
        client.get("/api/genes/STAT3?per_page=101"),
        400,
        "invalid_parameter",
        "per_page",
        "per_page must be between 1 and 100, got 101",
    )


def test_unknown_route(client: FlaskClient):
    assert_error(
        client.get("/api/searches"),
        404,
        "not_found",
        None,
        "no API route matches /api/searches; see /api/openapi.json for the routes",
    )


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/search", "GET, POST"),
        ("post", "/api/figures/PMC0__x", "GET"),
        ("put", "/api/status", "GET"),
    ],
)
def test_method_not_allowed(client: FlaskClient, method: str, path: str, allowed: str):
    response = getattr(client, method)(path)
    assert_error(
        response,
        405,
        "method_not_allowed",
        None,
        f"method {method.upper()} is not allowed on {path}; allowed: {allowed}",
    )
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_is_logged_not_leaked(
    sample_index: Path, caplog: pytest.LogCaptureFixture
):
    app = create_app(sample_index, {"TESTING": True})

    def broken() -> None:
        raise RuntimeError("secret detail /etc/passwd")

    app.add_url_rule("/api/broken", view_func=broken)
    response = app.test_client().get("/api/broken")
    error = assert_error(
        response,
        500,
        "internal_error",
        None,
        "internal server error; the details have been logged",
    )
    assert "secret" not in json.dumps(error)
    assert "secret detail" in caplog.text  # logged with its traceback, for the operator


def test_no_index(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    client = create_app(tmp_path / "empty", {"TESTING": True}).test_client()
    for path in ("/healthz", "/api/search?q=STAT3", "/api/status"):
        assert_error(
            client.get(path),
            503,
            "index_unavailable",
            None,
            "the search index is not available; the details have been logged",
        )
    assert f"no index in {tmp_path / 'empty'}" in caplog.text  # the reason, for the operator
