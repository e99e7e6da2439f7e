"""The OpenAPI document is valid, covers exactly the app's API routes, and matches them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource

import indexer
from server.search import models
from server.web import create_app, params
from server.web.api import openapi_document

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask and CORS for every route
DOCUMENT_URI = "urn:pfocr:openapi"


@pytest.fixture(scope="module")
def app(sample_index: Path) -> Flask:
    return create_app(sample_index, {"TESTING": True})


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_document_is_valid(document: dict[str, Any]):
    validate(document)


def test_served_document(app: Flask, document: dict[str, Any]):
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == document
    assert document["info"]["version"] == indexer.__version__


def test_every_api_route_is_documented_and_vice_versa(app: Flask, document: dict[str, Any]):
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/", "/healthz"))
        for method in rule.methods or ()
        if method not in IGNORED_METHODS
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented


def query_parameters(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    found = {}
    for parameter in document["paths"][path]["get"].get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        if parameter["in"] == "query":
            found[parameter["name"]] = parameter
    return found


@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        ("/api/search", params.EXPORT_PARAMS),
        ("/api/genes/{text}", params.SEARCH_PARAMS),
        ("/api/suggest", params.SUGGEST_PARAMS),
        ("/api/figures/{figid}", ()),
        ("/api/status", ()),
    ],
)
def test_documented_parameters_are_the_accepted_ones(
    document: dict[str, Any], path: str, accepted: tuple[str, ...]
):
    assert sorted(query_parameters(document, path)) == sorted(accepted)


def test_body_properties_are_the_search_parameters(document: dict[str, Any]):
    body = document["components"]["schemas"]["SearchBody"]["properties"]
    assert sorted(body) == sorted(params.EXPORT_PARAMS)


def test_documented_limits_and_choices_are_the_real_ones(document: dict[str, Any]):
    search = {n: _given(p["schema"]) for n, p in query_parameters(document, "/api/search").items()}
    assert search["sort"]["enum"] == list(models.SORTS)
    assert search["gene_match"]["enum"] == list(models.GENE_MATCHES)
    assert search["match"]["enum"] == list(models.MATCHES)
    assert search["format"]["enum"] == list(params.FORMATS)
    assert search["facets"]["items"]["enum"] == list(models.FACET_NAMES)
    assert search["per_page"]["maximum"] == models.MAX_PER_PAGE
    assert search["per_page"]["default"] == models.DEFAULT_PER_PAGE
    assert search["page"]["maximum"] == models.MAX_PAGE
    assert search["facet_size"]["maximum"] == models.MAX_FACET_SIZE
    assert search["q"]["maxLength"] == models.MAX_QUERY_LENGTH
    assert search["gene"]["maxItems"] == models.MAX_GENES
    assert search["year_min"]["minimum"] == models.MIN_YEAR
    assert search["year_max"]["maximum"] == models.MAX_YEAR
    assert search["min_genes"]["maximum"] == models.MAX_GENES
    # The body takes each parameter as text, a number or a list, checked as the query's.
    body = document["components"]["schemas"]["SearchBody"]["properties"]
    assert {ref["$ref"] for ref in body.values()} == {"#/components/schemas/BodyValue"}


def _given(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema for a value given (a blank one is documented beside it)."""
    if "anyOf" in schema:
        (given,) = [s for s in schema["anyOf"] if s.get("maxLength") != 0]
        return given
    return schema


def schema_validator(document: dict[str, Any], name: str) -> OAS31Validator:
    registry = Registry().with_resource(DOCUMENT_URI, Resource.opaque(document))
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}
    return OAS31Validator(schema, registry=registry)


@pytest.mark.parametrize(
    ("url", "schema"),
    [
        ("/api/search?q=kinase&facets=organism,chemical,year", "SearchResult"),
        ("/api/search?q=stat3x", "SearchResult"),
        ("/api/search?gene=JAK&gene=STAT3&min_genes=2&year_min=2010", "SearchResult"),
        ("/api/suggest?q=STA", "Suggestions"),
        ("/api/search?per_page=500", "Error"),
        ("/api/search?q=STAT3%20year:2020..2010", "Error"),
        ("/api/figures/PMC0__nothing", "Error"),
        ("/api/figures/PMC7513516__12943_2020_1258_Fig1_HTML", "Figure"),
        ("/api/genes/STAT3", "GeneResult"),
        ("/api/genes/JAK", "GeneResult"),
        ("/api/status", "Status"),
    ],
)
def test_answers_match_their_schemas(app: Flask, document: dict[str, Any], url: str, schema: str):
    body = app.test_client().get(url).get_json()
    schema_validator(document, schema).validate(body)


def test_json_export_matches_its_schema(app: Flask, document: dict[str, Any]):
    hits = app.test_client().get("/api/search?q=kinase&format=json").get_json()
    assert hits
    validator = schema_validator(document, "Hit")
    for hit in hits:
        validator.validate(hit)


def documented_properties(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The property names a schema documents, through ``$ref`` and ``allOf``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return documented_properties(document, document["components"]["schemas"][name])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= documented_properties(document, part)
    return names


@pytest.mark.parametrize(
    ("url", "schema"),
    [
        ("/api/search?q=kinase&facets=organism", "SearchResult"),
        ("/api/genes/STAT3", "GeneResult"),
        ("/api/figures/PMC7513516__12943_2020_1258_Fig1_HTML", "Figure"),
    ],
)
def test_every_field_an_answer_has_is_documented(
    app: Flask, document: dict[str, Any], url: str, schema: str
):
    body = app.test_client().get(url).get_json()
    schemas = document["components"]["schemas"]
    assert set(body) - documented_properties(document, schemas[schema]) == set()
    hit_fields = documented_properties(document, schemas["Hit"])
    link_fields = documented_properties(document, schemas["Hit"]["properties"]["links"])
    hits = body.get("hits", [body])  # a figure is a hit and more
    assert hits
    for hit in hits:
        assert set(hit["links"]) == link_fields
        if schema != "Figure":  # and nothing a hit is documented to have is gone
            assert set(hit) == hit_fields
