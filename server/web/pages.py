"""HTML pages. For now one: the front page, which says what is indexed and how to search.

The search pages and the embeddable widget are to come; they will call the same
search service as the JSON API.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from indexer.index.store import IndexError_
from server.web import assets

pages = Blueprint("pages", __name__)
pages.add_app_template_global(assets.static_url, "static_url")
pages.after_app_request(assets.cache_static)

EXAMPLES = (
    ("Figures about a gene", "/api/search?q=gene:STAT3"),
    ("Text and filters", "/api/search?q=insulin+signaling&organism=Homo+sapiens&year_min=2015"),
    ("Gene lookup by symbol, Entrez ID or printed alias", "/api/genes/p53"),
    ("Autocomplete", "/api/suggest?q=sta"),
    ("Gene sets of matching figures (GMT)", "/api/search?q=apoptosis&format=gmt"),
    ("Index status", "/api/status"),
    ("OpenAPI description of the API", "/api/openapi.json"),
)


@pages.get("/")
def search() -> str:
    return render_template("index.html", status=_status())


@pages.get("/about")
def about() -> str:
    return render_template("about.html", status=_status(), examples=EXAMPLES)


def _status() -> dict | None:
    try:
        return current_app.extensions["pfocr"].status()
    except IndexError_:
        return None
