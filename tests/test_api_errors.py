"""Every bad input the API can get, and the one error shape it answers with."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.search.models import MAX_GENES, InvalidParameter, SearchRequest
from server.web import create_app
from server.web.errors import ApiError

ERROR_KEYS = {"status", "code", "parameter", "message", "position"}
SEARCH_PARAMETERS = (
    "q, organism, gene, disease, chemical, annotation, ndex, year_min, year_max, gene_match, "
    "min_genes, match, sort, page, per_page, facets, facet_size, format"
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
        "facets names an unknown facet 'colour'; allowed: organism, year, gene, disease, chemical, annotation, ndex",
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


# -- hostile input: every entry point answers 400 naming the parameter, never 500 ------------

NONCHARACTER = "%EF%BF%BE"  # U+FFFE: valid UTF-8, but not a character


def surrogate_body(name: str, value: Any) -> bytes:
    """A JSON body whose text holds a lone surrogate, escaped as JSON allows."""
    return json.dumps({name: value}).encode()


SURROGATE_CASES = [
    # (parameter, value in the body, what the message says before "which is not text")
    ("q", "STAT3 \ud800", "q holds U+D800 at character 7"),
    *((name, ["STAT3", "\ud800x"], f"{name} value 2 holds U+D800 at character 1")
      for name in ("organism", "gene", "disease", "chemical", "annotation")),
    ("sort", "\ud800", "sort holds U+D800 at character 1"),
    ("page", "1\udfff", "page holds U+DFFF at character 2"),
    ("facets", ["gene", "\ud800"], "facets holds U+D800 at character 1"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "message"), SURROGATE_CASES)
@pytest.mark.parametrize("query", ["", "?format=csv", "?format=gmt"])
def test_lone_surrogate_in_body(
    client: FlaskClient, name: str, value: Any, message: str, query: str
):
    response = client.post(f"/api/search{query}", data=surrogate_body(name, value))
    expected = f"{message}, which is not text (a lone surrogate)"
    assert_error(response, 400, "invalid_parameter", name, expected)


def test_lone_surrogate_in_the_body_format(client: FlaskClient):
    response = client.post("/api/search", data=surrogate_body("format", "csv\ud800"))
    message = "format holds U+D800 at character 4, which is not text (a lone surrogate)"
    assert_error(response, 400, "invalid_parameter", "format", message)


def test_surrogate_bytes_in_a_query_string_do_not_fail(client: FlaskClient):
    # UTF-8 cannot hold a surrogate: the bytes that would spell one are not decoded as one.
    response = client.get("/api/search?q=STAT3%ED%A0%80")
    assert response.status_code == 200
    assert not re.search("[\ud800-\udfff]", response.get_json()["query"]["q"])


def test_lone_surrogate_in_a_body_parameter_name(client: FlaskClient):
    response = client.post("/api/search", data=surrogate_body("q\ud800", "STAT3"))
    assert_error(
        response,
        400,
        "invalid_parameter",
        "body",
        "a parameter name in the body holds U+D800 at character 2, which is not text "
        "(a lone surrogate)",
    )


@pytest.mark.parametrize(
    ("path", "parameter", "message"),
    [
        (f"/api/search?q=a{NONCHARACTER}", "q", "q holds U+FFFE at character 2"),
        (f"/api/search?gene={NONCHARACTER}&format=csv", "gene", "gene value 1 holds U+FFFE"),
        (f"/api/search?organism=x&organism={NONCHARACTER}", "organism", "organism value 2"),
        (f"/api/genes/STAT3{NONCHARACTER}", "text", "text holds U+FFFE at character 6"),
        (f"/api/genes/STAT3?disease={NONCHARACTER}", "disease", "disease value 1 holds U+FFFE"),
        (f"/api/suggest?q=ST{NONCHARACTER}", "q", "q holds U+FFFE at character 3"),
        (f"/api/suggest?q=ST&limit={NONCHARACTER}", "limit", "limit holds U+FFFE"),
        (f"/api/figures/PMC1{NONCHARACTER}", "figid", "figid holds U+FFFE at character 5"),
    ],
)
def test_noncharacters_in_every_entry_point(
    client: FlaskClient, path: str, parameter: str, message: str
):
    error = assert_error(client.get(path), 400, "invalid_parameter", parameter)
    assert error["message"].startswith(message)
    assert error["message"].endswith("which is not text (a Unicode noncharacter)")


@pytest.mark.parametrize("opening", ["[", '{"a":'])
@pytest.mark.parametrize("query", ["", "?format=csv"])
def test_deeply_nested_body(client: FlaskClient, opening: str, query: str):
    response = client.post(f"/api/search{query}", data=opening * 100_000)
    assert_error(
        response,
        400,
        "invalid_parameter",
        "body",
        "the request body is not valid JSON: it nests arrays or objects too deeply; "
        'a search body is one object of values or lists, such as {"gene": ["STAT3"]}',
    )


def test_body_number_too_long_to_read(client: FlaskClient):
    response = client.post("/api/search", data=b'{"page": 1' + b"0" * 5000 + b"}")
    assert_error(
        response,
        400,
        "invalid_parameter",
        "body",
        "the request body is not valid JSON: it holds a number too long to read",
    )


def test_error_quoting_a_surrogate_still_encodes(app: Flask):
    error = ApiError(400, "invalid_parameter", "bad \ud800 text", parameter="q\udfff")
    with app.test_request_context("/api/search"):
        response = error.response()
    assert json.loads(response.get_data())["error"]["parameter"] == "q\\udfff"
    assert json.loads(response.get_data())["error"]["message"] == "bad \\ud800 text"


# -- one validator: the Python API and the HTTP API answer a bad value alike -----------------

SAME_ANSWER_CASES = [
    {"per_page": 500},
    {"per_page": 0},
    {"per_page": "ten"},
    {"page": 0},
    {"page": 10_001},
    {"page": "1.5"},
    {"page": "9" * 5000},
    {"year_min": 15},
    {"year_max": 10_000},
    {"year_min": "last"},
    {"year_min": 2020, "year_max": 2010},
    {"sort": "date"},
    {"gene_match": "most"},
    {"min_genes": 3, "filters": {"gene": ["STAT3", "JAK2"]}},
    {"min_genes": 1},
    {"min_genes": "two", "filters": {"gene": ["STAT3"]}},
    {"facets": ("organism", "colour")},
    {"facet_size": 0},
    {"facet_size": 5000},
    {"q": "a" * 1001},
    {"q": "STAT3 year:2020..2010"},
    {"q": "STAT3\ufffe"},
    {"filters": {"gene": [f"G{i}" for i in range(MAX_GENES + 1)]}},
    {"filters": {"organism": [f"o{i}" for i in range(1001)]}},
    {"filters": {"disease": ["cancer", "\uffff"]}},
]


def as_parameters(changes: dict[str, Any]) -> dict[str, Any]:
    """The HTTP parameters (name -> value or list) of ``SearchRequest(**changes)``."""
    parameters = dict(changes.pop("filters", {}), **changes)
    if "facets" in parameters:
        parameters["facets"] = ",".join(parameters["facets"])
    return parameters


@pytest.mark.parametrize("changes", SAME_ANSWER_CASES, ids=lambda c: str(c)[:40])
def test_service_and_http_give_the_same_error(app: Flask, client: FlaskClient, changes: dict):
    with pytest.raises(InvalidParameter) as caught:
        app.extensions["pfocr"].search(SearchRequest(**changes))
    expected = (caught.value.parameter, caught.value.message, caught.value.position)
    parameters = as_parameters(dict(changes))
    answers = {
        "GET": client.get("/api/search", query_string=parameters),
        "POST": client.post("/api/search", json=parameters),
        "export": client.get("/api/search", query_string={**parameters, "format": "csv"}),
    }
    for how, response in answers.items():
        error = assert_error(response, 400, "invalid_parameter", expected[0])
        assert (error["parameter"], error["message"], error["position"]) == expected, how


@pytest.mark.parametrize(
    ("limit", "message"),
    [(0, "limit must be between 1 and 50, got 0"), ("many", "limit must be a whole number")],
)
def test_suggest_limit_errors_are_the_services(
    app: Flask, client: FlaskClient, limit: Any, message: str
):
    with pytest.raises(InvalidParameter) as caught:
        app.extensions["pfocr"].suggest("STA", limit)
    assert caught.value.message.startswith(message)
    response = client.get("/api/suggest", query_string={"q": "STA", "limit": limit})
    assert_error(response, 400, "invalid_parameter", "limit", caught.value.message)


@pytest.mark.parametrize(
    ("body", "parameter", "start"),
    [
        ({"x" * 1_000_000: 1}, "x" * 40, "unknown parameter 'xxxxxxxx"),
        ({"sort": "y" * 900_000}, "sort", "sort must be one of relevance, year, -year; got 'yyy"),
        ({"gene": ["é" * 100_000 + "\ufffe"]}, "gene", "gene value 1 holds U+FFFE at character"),
    ],
)
def test_huge_values_are_not_echoed_back(
    client: FlaskClient, body: dict, parameter: str, start: str
):
    error = assert_error(client.post("/api/search", json=body), 400, "invalid_parameter", parameter)
    assert error["message"].startswith(start)
    assert len(error["message"]) < 300


def test_busy_server_says_so_and_when_to_retry(app: Flask, client: FlaskClient):
    """A costly query turned away while another runs is a 503 "busy" with Retry-After: the
    request was fine, so it is not an invalid parameter, and clients may retry it."""
    service = app.extensions["pfocr"]
    service._matches.data.clear()
    service._results.data.clear()
    assert service._costly.acquire(timeout=1)  # another costly query is running
    try:
        import server.search.service as service_module

        wait, service_module.COSTLY_WAIT_SECONDS = service_module.COSTLY_WAIT_SECONDS, 0.05
        try:
            response = client.get("/api/search?q=sig*+path*+canc*")
            page = client.get("/?q=sig*+path*+canc*")
        finally:
            service_module.COSTLY_WAIT_SECONDS = wait
    finally:
        service._costly.release()
    error = assert_error(response, 503, "busy", "q")
    assert "busy with other costly queries" in error["message"]
    assert response.headers["Retry-After"] == "2"
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert page.headers["Retry-After"] == "2"
    assert "busy with other costly queries" in page.get_data(as_text=True)
