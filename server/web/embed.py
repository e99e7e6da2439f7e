"""Our search on other sites: the ``<pfocr-search>`` widget, the iframe form, and ``/embed``.

- ``/embed`` explains both forms, lets the user pick options and shows the snippet to copy
  with a live preview (``/embed/snippet`` renders snippets for the page's script, so they
  are written in one place, here);
- ``/embed/frame`` is the iframe form: results rendered on the server from the same
  search service, no scripts, embeddable by any site;
- the widget's files (``static/widget/``) are named two ways: other sites copy
  ``/embed/v1/<file>`` once and keep it, so it stays the same across compatible releases
  and is cached for a day; our own pages link them like every static file of the site,
  ``static_url("widget/<file>")`` (content hash, cached for a year).

Every page here sends a Content-Security-Policy with no inline scripts or styles; only
``/embed/frame`` may be framed by other sites.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from html import escape, unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.datastructures import MultiDict

from indexer.index.store import IndexError_
from server.search.models import InvalidParameter, SearchRequest
from server.web import assets, errors, params

if TYPE_CHECKING:
    from server.search.service import SearchService

embed = Blueprint("embed", __name__, url_prefix="/embed")

WIDGET_FILES = Path(__file__).resolve().parent / "static" / "widget"
WIDGET_SCRIPT = "pfocr-search.js"
# The major version in the URL that copied snippets name: bump it only for a change that
# would break pages already embedding the widget, and keep serving the old one.
WIDGET_MAJOR = "v1"
DEFAULT_LIMIT = 5
MAX_LIMIT = 20  # a widget is a teaser: the full list is on the search page
OPTION_NAMES = ("q", "gene", "organism", "year_min", "year_max", "limit")
# Widget attributes use HTML's dashes where the API has underscores.
ATTRIBUTES = {"year_min": "year-min", "year_max": "year-max"}
FRAME_HEIGHT = 520

STABLE_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
# No inline scripts or styles anywhere. /embed runs our scripts and frames the preview;
# the frame runs no script at all, and is the one page other sites may frame.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
FRAME_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors *"
)


@dataclass(frozen=True)
class EmbedOptions:
    """What an embedded search shows: a starting query, fixed filters and how many hits."""

    q: str = ""
    gene: str = ""
    organism: str = ""
    year_min: int | None = None
    year_max: int | None = None
    limit: int = DEFAULT_LIMIT

    def search_request(self) -> SearchRequest:
        filters = {"gene": [self.gene], "organism": [self.organism]}
        return SearchRequest(
            q=self.q,
            filters={name: values for name, values in filters.items() if values[0]},
            year_min=self.year_min,
            year_max=self.year_max,
            per_page=self.limit,
            facets=(),
        )

    def pairs(self) -> list[tuple[str, str]]:
        """The options that differ from the defaults, as (parameter, text), in order."""
        out = []
        for name in OPTION_NAMES:
            value = getattr(self, name)
            default = getattr(EmbedOptions, name)
            if value is not None and value != default:
                out.append((name, str(value)))
        return out

    def filters_query(self) -> str:
        """The query string of a search with these options (without the limit)."""
        return urlencode([(k, v) for k, v in self.pairs() if k != "limit"])


def parse_options(args: MultiDict[str, str]) -> EmbedOptions:
    """The options in query-string ``args``; raises ``InvalidParameter`` naming the culprit."""
    given = params.from_args(args)
    params.check_known(given, OPTION_NAMES)
    for name, values in given.items():
        if len(values) > 1:
            raise InvalidParameter(name, f"{name} is given {len(values)} times; give it once")
    limit = _limit(given.get("limit", [""])[0])
    # The API's own checks (query length, year range...), with the API's own messages.
    checked = params.search_request({k: v for k, v in given.items() if k != "limit"})
    return EmbedOptions(
        q=checked.q,
        gene=checked.filters.get("gene", [""])[0],
        organism=checked.filters.get("organism", [""])[0],
        year_min=checked.year_min,
        year_max=checked.year_max,
        limit=limit,
    )


def _limit(raw: str) -> int:
    raw = raw.strip()
    if not raw:
        return DEFAULT_LIMIT
    try:  # int() itself decides what a number is (str.isdigit also accepts "²")
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidParameter(
            "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}"
        )
    return value


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """The service's escaped snippet as (text, highlighted) pieces of plain text.

    Only ``<mark>`` is kept, by position; every other character is unescaped to plain
    text for the template to escape again, so nothing in a record can become markup.
    """
    parts = []
    for i, piece in enumerate(re.split(r"</?mark>", snippet)):
        if piece:
            parts.append((unescape(piece), i % 2 == 1))
    return parts


def snippets(options: EmbedOptions) -> dict[str, Any]:
    """The two snippets to copy, and what the preview needs, for ``options``."""
    script_url = url_for("embed.stable_file", filename=WIDGET_SCRIPT, _external=True)
    attributes = [(ATTRIBUTES.get(k, k), v) for k, v in options.pairs()]
    element = "".join(f' {name}="{escape(value)}"' for name, value in attributes)
    frame_url = url_for("embed.frame", _external=True)
    if options.pairs():
        frame_url += "?" + urlencode(options.pairs())
    return {
        "script": (
            f'<script src="{escape(script_url)}" defer></script>\n'
            f"<pfocr-search{element}></pfocr-search>"
        ),
        "iframe": (
            f'<iframe src="{escape(frame_url)}" title="PFOCR figure search" '
            f'width="100%" height="{FRAME_HEIGHT}" loading="lazy"></iframe>'
        ),
        "attributes": dict(attributes),
        "frame_url": frame_url,
    }


# -- pages --------------------------------------------------------------------------------


@embed.get("")
def page() -> Response:
    return _page(parse_options(request.args))


@embed.get("/snippet")
def snippet() -> Response:
    """The snippets for the options in the query string, as JSON (for /embed's script)."""
    try:
        return jsonify(snippets(parse_options(request.args)))
    except InvalidParameter as exc:
        return errors.from_invalid_parameter(exc).response()


@embed.get("/frame")
def frame() -> Response:
    return _frame(parse_options(request.args))


@embed.errorhandler(InvalidParameter)
def bad_option(exc: InvalidParameter) -> Response:
    """A bad option: the page again, saying which parameter is wrong and why, with 400."""
    options = EmbedOptions()
    if request.endpoint == "embed.frame":
        return _frame(options, error=exc)
    return _page(options, error=exc)


@embed.after_request
def security_headers(response: Response) -> Response:
    if request.endpoint == "embed.frame":
        response.headers["Content-Security-Policy"] = FRAME_POLICY
    elif response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


def _page(options: EmbedOptions, error: InvalidParameter | None = None) -> Response:
    html = render_template(
        "embed.html",
        options=options,
        values={name: request.args.get(name, "") for name in OPTION_NAMES},
        snippets=snippets(options),
        error=error,
        organisms=_organism_names(),
        max_limit=MAX_LIMIT,
        default_limit=DEFAULT_LIMIT,
        frame_height=FRAME_HEIGHT,
        script_kb=round(compressed_size(WIDGET_SCRIPT) / 1000, 1),
        asset=asset_url,
    )
    return make_response(html, 400 if error else 200)


def _frame(options: EmbedOptions, error: InvalidParameter | None = None) -> Response:
    result = None if error else _service().search(options.search_request())
    html = render_template(
        "embed_frame.html",
        options=options,
        values={name: request.args.get(name, "") for name in OPTION_NAMES},
        result=result,
        error=error,
        parts=snippet_parts,
        more_url=search_page_url(options),
        asset=asset_url,
    )
    return make_response(html, 400 if error else 200)


def search_page_url(options: EmbedOptions) -> str:
    """Where "all results" leads: the site's search page with the same query and filters
    (its URL takes the API's parameter names)."""
    query = options.filters_query()
    return url_for("pages.search") + ("?" + query if query else "")


def _organism_names() -> list[str]:
    """Organisms in the index, most figures first, to suggest in the options form."""
    try:
        result = _service().search(SearchRequest(per_page=1, facets=("organism",), facet_size=50))
    except IndexError_:
        return []  # no index yet: the page still explains the widget
    return [value["value"] for value in result["facets"]["organism"]["values"]]


def _service() -> SearchService:
    return current_app.extensions["pfocr"]


# -- static files -------------------------------------------------------------------------


def asset_url(filename: str) -> str:
    """The URL of a widget file for our own pages: the site's one way, ``static_url``."""
    return assets.static_url(f"{WIDGET_FILES.name}/{filename}")


@embed.get(f"/{WIDGET_MAJOR}/<filename>")
def stable_file(filename: str) -> Response:
    """The script other sites name; /embed's own files are only under the site's /static/."""
    if filename != WIDGET_SCRIPT:
        abort(404)
    response = send_from_directory(WIDGET_FILES, filename, conditional=True, etag=True)
    response.headers["Cache-Control"] = STABLE_CACHE
    # Other sites load the script: say so, whatever policy the rest of the site adopts.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def compressed_size(filename: str) -> int:
    """Bytes of a widget file once gzip-compressed, as browsers usually download it."""
    path = WIDGET_FILES / filename
    stat = path.stat()
    return _gzip_size(path, stat.st_mtime_ns, stat.st_size)


@cache
def _gzip_size(path: Path, mtime_ns: int, size: int) -> int:
    # Keyed by mtime and size too, so an edited file (in development) is measured again.
    return len(gzip.compress(path.read_bytes(), compresslevel=9))
