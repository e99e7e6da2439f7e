"""The HTML pages: search (``/``), a figure, a gene, and about. Routes stay thin: they parse
parameters as the API does (``server.web.params``), call the same search service, and
hand its result dicts to ``server.web.views`` and the templates.

Every page answer carries a strict Content-Security-Policy (no inline script or style
anywhere). A request with ``X-PFOCR-Fragment: results`` gets only the results region,
which the page's script swaps in place; the URL is the same either way.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from indexer.index.store import IndexError_
from server.search.models import Busy, InvalidParameter, NotFound, SearchRequest, normalize
from server.web import assets, errors, export, figure_names, params, views

if TYPE_CHECKING:
    from server.search.service import SearchService

pages = Blueprint("pages", __name__)
pages.add_app_template_global(assets.static_url, "static_url")
pages.after_app_request(assets.cache_static)
pages.add_app_template_filter(views.gene_page, "gene_url")
pages.add_app_template_filter(views.figures, "figures")
pages.add_app_template_filter(views.words_list, "words_list")

CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
FRAGMENT_HEADER = "X-PFOCR-Fragment"
FIGURE_PARAMS = ("genes",)
# The enrichment page takes the API's parameters (not format: the page is the format) and
# the example button's.
ENRICH_PAGE_PARAMS = (*(p for p in params.ENRICH_PARAMS if p != "format"), "example")
SIMILAR_FIGURES = 8
API_SEARCH = "/api/search"

EXAMPLES = (
    ("Figures about a gene", "/api/search?q=gene:STAT3"),
    ("Text and filters", "/api/search?q=insulin+signaling&organism=Homo+sapiens&year_min=2015"),
    ("Gene lookup by symbol, Entrez ID or printed alias", "/api/genes/p53"),
    ("Every figure of a paper, by PMCID or DOI", "/api/search?q=PMC7513516"),
    (
        "A figure by its PFOCR alias (the record, with its canonical link)",
        "/api/figures/PMC7513516__F1",
    ),
    ("Autocomplete", "/api/suggest?q=sta"),
    ("Gene sets of matching figures (GMT)", "/api/search?q=apoptosis&format=gmt"),
    ("Index status", "/api/status"),
    ("OpenAPI description of the API", "/api/openapi.json"),
)


def service() -> SearchService:
    return current_app.extensions["pfocr"]


@pages.get("/")
def search() -> Response:
    args = params.from_args(request.args)
    params.check_known(args, params.SEARCH_PARAMS)
    search_request = normalize(params.search_request(args))
    result = service().search(views.page_request(search_request))
    state = views.PageState.from_params(request.path, args)
    context = views.results_context(result, search_request, state, API_SEARCH)
    if result["total"] == 0:
        context["drop_hints"] = views.drop_filter_hints(service(), search_request, state)
    return _render_results("search.html", context)


@pages.get("/figures/<figid>")
def figure(figid: str) -> Response | str:
    args = params.from_args(request.args)
    params.check_known(args, FIGURE_PARAMS)
    named = figure_names.resolve(service(), figid)
    if not named.canonical:
        return _to_canonical(named, "pages.figure")
    highlight = [g.strip() for v in args.get("genes", []) for g in v.split(",") if g.strip()]
    record = service().figure(figid)
    return render_template(
        "figure.html",
        figure=record,
        canonical_url=url_for("pages.figure", figid=figid, _external=True),
        genes=views.gene_rows(record, highlight),
        highlight=highlight,
        diseases=views.terms(record["diseases"]),
        chemicals=views.terms(record["chemicals"]),
        links=views.figure_links(record),
        similar=[
            {**views.card(item), "jaccard": item["jaccard"], "shared": item["shared"]}
            for item in service().similar_figures(figid, SIMILAR_FIGURES)
        ],
        json_ld=views.json_ld(record, request.base_url),
        organisms=[o.get("label") or o["name"] for o in record["organisms"]],
    )


@pages.get("/figures/<figid>/genes.tsv")
def figure_genes_tsv(figid: str) -> Response:
    params.check_known(params.from_args(request.args), ())
    named = figure_names.resolve(service(), figid)
    if not named.canonical:
        return _to_canonical(named, "pages.figure_genes_tsv")
    text = views.genes_tsv(service().figure(figid))
    return _download(text, "text/tab-separated-values; charset=utf-8", f"{figid}-genes.tsv")


@pages.get("/figures/<figid>/genes.gmt")
def figure_genes_gmt(figid: str) -> Response:
    params.check_known(params.from_args(request.args), ())
    named = figure_names.resolve(service(), figid)
    if not named.canonical:
        return _to_canonical(named, "pages.figure_genes_gmt")
    text = "".join(export.gmt_chunks([service().figure(figid)]))
    return _download(text, export.MEDIA_TYPES["gmt"], f"{figid}.gmt")


def _to_canonical(named: figure_names.Named, endpoint: str) -> Response:
    """A 301 to the canonical URL of the one figure ``named`` stands for (the query string
    kept), or the 300 page listing the figures it stands for."""
    if named.figid is None:
        body = render_template(
            "figure_choices.html", name=named.name, cards=[views.card(f) for f in named.figures]
        )
        return make_response(body, 300)
    target = url_for(endpoint, figid=named.figid)
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    response = redirect(target, 301)
    response.headers["Cache-Control"] = figure_names.REDIRECT_CACHE
    return response


@pages.get("/genes/<path:text>")  # printed aliases such as "P/CAF" hold slashes
def gene(text: str) -> Response:
    args = params.from_args(request.args)
    params.check_known(args, params.SEARCH_PARAMS)
    search_request = normalize(params.search_request(args))
    result = service().gene(text, views.page_request(search_request))
    # request.path is decoded: an alias holding "?" or "#" must be quoted again in links.
    state = views.PageState.from_params(quote(request.path, safe="/"), args)
    context = views.results_context(result, search_request, state, API_SEARCH)
    # Exports of a gene page are the search for its genes, filtered the same way.
    gene_pairs = [("gene", g["symbol"]) for g in result["genes"]]
    context["exports"] = views.export_links(
        views.PageState(API_SEARCH, (*gene_pairs, *state.pairs)), API_SEARCH
    )
    context.update(
        gene=result,
        chart=views.year_chart(result["by_year"]),
        cooccurring=result["cooccurring"],
        search_all=views.PageState("/", tuple(gene_pairs)).url(),
        hgnc=views.HGNC_URL.format(result["symbol"]),
        printed=views.printed_names(result),
    )
    return _render_results("gene.html", context)


@pages.route("/enrich", methods=["GET", "POST"])
def enrich() -> Response:
    """The enrichment page: a form (gene list, library filters with counts, background),
    and once a list is given, its figures ranked, as a table and a chart. The form posts
    to itself; a GET with ``genes`` in the query string asks the same (links, bookmarks)."""
    args = params.from_args(request.args)
    if request.method == "POST":
        args = params.merge(args, params.from_args(request.form))
    params.check_known(args, ENRICH_PAGE_PARAMS)
    example = service().enrichment_example()
    if "example" in args and example:  # the example button without JavaScript
        args = {**args, "genes": ["\n".join(example["genes"])]}
    form = views.enrich_form(args)
    enrich_request = params.enrich_request(args)
    enrich_request = replace(
        enrich_request, library=replace(enrich_request.library, facets=views.ENRICH_FACETS)
    )
    context: dict[str, Any] = {"form": form, "example": example, "error": None, "result": None}
    status = 200
    asked = form["genes"].strip() and "example" not in args
    try:
        if asked:
            context["result"] = service().enrich(enrich_request)
        library = context["result"] or service().search(replace(enrich_request.library, per_page=1))
    except InvalidParameter as exc:  # shown beside the form, which keeps what was typed
        context["error"] = {"parameter": exc.parameter, "message": exc.message}
        context["result"] = None
        status = 400
        library = service().search(SearchRequest(facets=views.ENRICH_FACETS, per_page=1))
    result = context["result"]
    context.update(
        facets=views.library_facets(library, enrich_request.library),
        library_total=library["total"] if result is None else result["library"]["matched"],
        rows=views.enrichment_rows(result) if result else [],
        chart=views.enrichment_chart(result) if result else None,
        pages=views.enrichment_pages(result) if result else [],
        export_cap=current_app.config["PFOCR_EXPORT_MAX"],
    )
    response = make_response(render_template("enrich.html", **context), status)
    return response


@pages.get("/about")
def about() -> str:
    return render_template("about.html", status=_status(), examples=EXAMPLES)


@pages.after_request
def security_headers(response: Response) -> Response:
    return _secure(response)


@pages.errorhandler(InvalidParameter)
def bad_parameter(exc: InvalidParameter) -> Response:
    return error_page(
        exc.status, "That request could not be read", exc.message, parameter=exc.parameter
    )


@pages.errorhandler(Busy)
def busy(exc: Busy) -> Response:
    response = error_page(503, "The server is busy", exc.message, parameter=exc.parameter)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@pages.errorhandler(NotFound)
def not_found(exc: NotFound) -> Response:
    return error_page(404, f"No such {exc.what}", exc.message)


@pages.errorhandler(IndexError_)
def no_index(exc: IndexError_) -> Response:
    current_app.logger.error("index unavailable: %s", exc)
    return error_page(
        503, "The search index is not available", "Try again in a minute; the details are logged."
    )


@pages.errorhandler(Exception)
def failed(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # 405 and the like: the page style, the same status
        return error_page(exc.code or 500, exc.name, exc.description or exc.name)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(500, "Something went wrong", "The details have been logged.")


@pages.app_errorhandler(404)
@pages.app_errorhandler(405)
def unrouted(exc: HTTPException) -> Response:
    """Requests that match no route (or not with this method) get a page in the site's
    style; the API keeps its JSON error shape."""
    if request.path.startswith(errors.API_PREFIXES):
        return errors.from_http_exception(exc).response()
    if exc.code == 405:
        page = error_page(405, "Method not allowed", f"{request.method} is not allowed here.")
        page.headers.update({k: v for k, v in exc.get_headers() if k.lower() == "allow"})
        return page
    return error_page(404, "Page not found", f"Nothing lives at {request.path}.")


def error_page(status: int, title: str, message: str, parameter: str | None = None) -> Response:
    body = render_template(
        "error.html", status=status, title=title, message=message, parameter=parameter
    )
    return _secure(make_response(body, status))


def _render_results(template: str, context: dict[str, Any]) -> Response:
    fragment = request.headers.get(FRAGMENT_HEADER) == "results"
    response = make_response(render_template("_results.html" if fragment else template, **context))
    # The same URL answers with the page or its fragment: caches must keep them apart.
    response.vary.add(FRAGMENT_HEADER)
    return response


def _download(text: str, media_type: str, filename: str) -> Response:
    response = Response(text, content_type=media_type)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)  # figids are not meant for headers
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def _secure(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def _status() -> dict | None:
    try:
        return service().status()
    except IndexError_:
        return None
