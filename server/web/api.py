"""The JSON API: thin routes that parse parameters, call the search service and render JSON.

Every GET answer carries an ETag made from the index version and the request, so a
client (or a cache) revalidates cheaply and sees a rebuilt index at once.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any, ParamSpec

import yaml
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    make_response,
    request,
    stream_with_context,
    url_for,
)

import indexer
from server.search.models import SearchRequest
from server.web import export, figure_names, params

if TYPE_CHECKING:
    from server.search.service import SearchService

api = Blueprint("api", __name__, url_prefix="/api")
health = Blueprint("health", __name__)

P = ParamSpec("P")


def service() -> SearchService:
    """The app's search service."""
    return current_app.extensions["pfocr"]


def conditional(view: Callable[P, Any]) -> Callable[P, Response]:
    """Tag a GET answer with an ETag and answer a matching If-None-Match with 304."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        return _tagged(_etag(service().version), lambda: view(*args, **kwargs))

    return wrapper


def _tagged(tag: str, render: Callable[[], Any]) -> Response:
    """``render()``'s answer tagged ``tag``, or 304 when the client holds that tag."""
    # Only a tag this URL was answered with: "*" would also match a request that is
    # not valid, which has no answer the client could hold.
    held = request.if_none_match
    if not held.star_tag and held.contains_weak(tag):
        response = Response(status=304)  # before any work: the answer cannot have changed
    else:
        response = make_response(render())
    response.set_etag(tag)
    # Revalidate every time: a rebuilt index changes every answer.
    response.headers["Cache-Control"] = "no-cache"
    return response


@api.get("/search")
@conditional
def search_get() -> Response:
    return _search(params.from_args(request.args))


@api.post("/search")
def search_post() -> Response:
    # The body is read as JSON whatever its Content-Type: `curl -d` sends a form type.
    body = request.get_data(cache=False)
    from_body = params.from_json_body(body) if body.strip() else {}
    return _search(params.merge(params.from_args(request.args), from_body))


@api.post("/enrich")
def enrich() -> Response:
    args = params.merge(params.from_args(request.args), _enrich_body())
    params.check_known(args, params.ENRICH_PARAMS)
    enrich_request = params.enrich_request(args)
    fmt = params.enrich_format(args)
    if fmt == "json":
        return jsonify(service().enrich(enrich_request))
    cap = current_app.config["PFOCR_EXPORT_MAX"]
    summary, rows = service().iter_enrichment(enrich_request, limit=cap)
    chunks = export.render_enrichment(fmt, rows)
    response = Response(stream_with_context(chunks), content_type=export.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export.enrichment_filename(fmt)}"'
    )
    response.headers["X-Total-Count"] = str(summary["total"])
    response.headers["X-Exported-Count"] = str(min(summary["total"], cap))
    return response


def _enrich_body() -> dict[str, list[Any]]:
    """The body of an enrichment: JSON (whatever the Content-Type says: ``curl -d`` sends
    JSON as a form), or a form (the page's), urlencoded or multipart."""
    if request.mimetype == "multipart/form-data":
        return params.from_args(request.form)
    body = request.get_data(cache=False)
    if not body.strip():
        return {}
    if request.mimetype == "application/x-www-form-urlencoded" and body.lstrip()[:1] not in (
        b"{",
        b"[",
    ):
        return params.from_form_body(body)
    return params.from_json_body(body, lists=params.GENE_LISTS)


@api.post("/genes")
def resolve_genes() -> Response:
    args = params.merge(params.from_args(request.args), _enrich_body())
    params.check_known(args, ("genes",))
    return jsonify(service().resolve_genes(args.get("genes", [])))


@api.get("/genes/<path:text>")  # printed aliases such as "P/CAF" hold slashes
@conditional
def gene(text: str) -> Response:
    args = params.from_args(request.args)
    params.check_known(args, params.SEARCH_PARAMS)
    return _counted(service().gene(text, params.search_request(args)))


@api.get("/figures/<figid>")
@conditional
def figure(figid: str) -> Response:
    """The record of the figure ``figid`` names (its figid or alias, either with .html),
    with its canonical URL in a Link header; 300 listing them if it names several."""
    params.check_known(params.from_args(request.args), ())
    named = figure_names.resolve(service(), figid)
    if named.figid is None:
        return make_response(jsonify({"name": named.name, "figures": named.figures}), 300)
    response = jsonify(service().figure(named.figid))
    canonical = url_for("api.figure", figid=named.figid)
    response.headers["Link"] = f'<{canonical}>; rel="canonical"'
    return response


@api.get("/suggest")
@conditional
def suggest() -> Response:
    args = params.from_args(request.args)
    params.check_known(args, params.SUGGEST_PARAMS)
    prefix, limit = params.suggest_args(args)
    return jsonify({"q": prefix, "suggestions": service().suggest(prefix, limit=limit)})


@api.get("/status")
def status() -> Response:
    params.check_known(params.from_args(request.args), ())
    health = service().health()
    # Degraded or not changes this answer while the version served stays the same.
    failed = (health["load_error"] or {}).get("generation")
    tag = _etag(f"{health['index_version']}\0{failed}\0{os.getpid()}")
    # Each worker process answers for itself: which one, and the generation it serves.
    return _tagged(
        tag,
        lambda: jsonify(
            {**service().status(), "server_version": indexer.__version__, "worker_pid": os.getpid()}
        ),
    )


@api.get("/openapi.json")
@conditional
def openapi() -> Response:
    return jsonify(openapi_document())


@health.get("/healthz")
def healthz() -> Response:
    # 200 while an index is served, "degraded" if it is older than ``current``; with
    # nothing to serve the service raises and the error handler answers 503. Which worker
    # answered, as in /api/status: a server is ready once every one of them has.
    return jsonify({**service().health(), "worker_pid": os.getpid()})


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, with the server's own version."""
    text = resources.files("server.web").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["info"]["version"] = indexer.__version__
    return document


def _search(args: params.Params) -> Response:
    params.check_known(args, params.EXPORT_PARAMS)
    search_request = params.search_request(args)
    fmt = params.export_format(args)
    if fmt is None:
        return _counted(service().search(search_request))
    return _export(search_request, fmt)


def _counted(result: dict[str, Any]) -> Response:
    """``result`` as JSON, its number of matches also in ``X-Total-Count`` (as exports)."""
    response = jsonify(result)
    response.headers["X-Total-Count"] = str(result["total"])
    return response


def _export(search_request: SearchRequest, fmt: str) -> Response:
    cap = current_app.config["PFOCR_EXPORT_MAX"]
    total = service().count(search_request)
    export.check_size(total, cap)
    hits = service().iter_hits(search_request, limit=cap, snippets=export.holds_snippets(fmt))
    chunks = export.render(fmt, hits)
    response = Response(stream_with_context(chunks), content_type=export.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(fmt)}"'
    response.headers["X-Total-Count"] = str(total)
    return response


def _etag(version: str) -> str:
    # GET and HEAD share a tag: the same answer, with or without its body.
    key = f"{version}\0{request.full_path}".encode()
    return hashlib.blake2b(key, digest_size=12).hexdigest()
