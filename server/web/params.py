"""Turn query-string arguments or a JSON body into a raw :class:`SearchRequest`.

Both sources are first brought to one form, ``{name: [text, ...]}``, so a parameter reads
the same whether it came from ``?per_page=500`` or ``{"per_page": 500}``. This module only
checks what is HTTP's own: unknown parameters, a parameter given twice, a body that is not
a JSON object. The meaning and bounds of every value are checked once, by
:func:`server.search.models.normalize` (and the service's other entry points), so the
Python API and the HTTP API answer a bad value with the same :class:`InvalidParameter`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict

from server.search import models
from server.search.models import EnrichRequest, InvalidParameter, SearchRequest

Params = Mapping[str, list[Any]]

FORMATS = ("json", "csv", "tsv", "gmt")

SEARCH_PARAMS = (
    "q",
    *models.FILTER_NAMES,
    "year_min",
    "year_max",
    "gene_match",
    "min_genes",
    "match",
    "sort",
    "page",
    "per_page",
    "facets",
    "facet_size",
)
EXPORT_PARAMS = (*SEARCH_PARAMS, "format")
# Search parameters given once (filters and facets may be repeated).
SINGLE_PARAMS = tuple(
    name for name in SEARCH_PARAMS if name not in (*models.FILTER_NAMES, "facets")
)
SUGGEST_PARAMS = ("q", "limit")
# Enrichment: the gene list and its statistics, then the search that makes the library.
ENRICH_FORMATS = ("json", "tsv", "gmt")
GENE_LISTS = ("genes", "background")  # lists of texts, or one text of several entries
ENRICH_OWN = ("background_size", "min_figure_genes", "correction", "page", "per_page")
# The library is the search's figures: every search parameter but its own order and paging.
LIBRARY_PARAMS = tuple(name for name in SEARCH_PARAMS if name not in ("sort", "page", "per_page"))
ENRICH_PARAMS = (*GENE_LISTS, *ENRICH_OWN, "format", *LIBRARY_PARAMS)


def from_args(args: MultiDict[str, str]) -> dict[str, list[str]]:
    """Query-string arguments as ``{name: [values]}``."""
    return {name: args.getlist(name) for name in args}


def from_json_body(raw: bytes, lists: Iterable[str] = ()) -> dict[str, list[Any]]:
    """A JSON object body as ``{name: [values]}``; numbers become their text. Parameters
    named in ``lists`` keep their items as given (the service checks each is text)."""
    body = _parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidParameter(
            "body",
            'the request body must be a JSON object such as {"gene": ["STAT3", "JAK2"]}, '
            f"got {_json_kind(body)}",
        )
    for name in body:
        models.text("body", name, what="a parameter name in the body")
    lists = tuple(lists)
    return {
        name: _list_values(name, value) if name in lists else _body_values(name, value)
        for name, value in body.items()
    }


def from_form_body(raw: bytes) -> dict[str, list[str]]:
    """A form-encoded body (``application/x-www-form-urlencoded``) as ``{name: [values]}``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("body", "the request body is not UTF-8 text") from None
    return from_args(MultiDict(parse_qsl(text, keep_blank_values=True)))


def merge(query: Params, body: Params) -> dict[str, list[str]]:
    """Query-string and body parameters together; a name may appear in only one of them."""
    for name in body:
        if name in query:
            raise InvalidParameter(
                name, f"{name} is given both in the query string and in the body; give it once"
            )
    return {**query, **body}


def check_known(params: Params, allowed: Iterable[str]) -> None:
    """Reject unknown parameters so a typo is not silently ignored.

    Names starting with ``_`` are left alone: they are the cache busters some clients add.
    """
    allowed = tuple(allowed)
    for name in params:
        if name in allowed or name.startswith("_"):
            continue
        # A name is echoed cut short, and only a short one is worth a spelling hint.
        parameter, quoted = name[: models.SHOWN_VALUE_LENGTH], models.shown(name)
        if not allowed:
            raise InvalidParameter(
                parameter, f"unknown parameter {quoted}: this takes no parameters"
            )
        close = difflib.get_close_matches(name, allowed, n=1) if name == parameter else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameter(
            parameter, f"unknown parameter {quoted}{hint}; allowed: {', '.join(allowed)}"
        )


def search_request(params: Params) -> SearchRequest:
    """The raw :class:`SearchRequest` that ``params`` describe (the service checks it):
    given values as text, defaults for the rest."""
    given: dict[str, Any] = {
        name: value for name in SINGLE_PARAMS if (value := _one(params, name)) is not None
    }
    if "facets" in params:
        given["facets"] = _facets(params["facets"])
    filters = {name: params[name] for name in models.FILTER_NAMES if name in params}
    return SearchRequest(filters=filters, **given)


def enrich_request(params: Params) -> EnrichRequest:
    """The raw :class:`EnrichRequest` that ``params`` describe (the service checks it).
    A blank ``background`` (the page's empty box) is no background."""
    given: dict[str, Any] = {
        name: value for name in ENRICH_OWN if (value := _one(params, name)) is not None
    }
    background = params.get("background")
    if background is not None and not any(not isinstance(v, str) or v.strip() for v in background):
        background = None
    library: dict[str, Any] = {
        name: value
        for name in ("q", "year_min", "year_max", "gene_match", "min_genes", "match", "facet_size")
        if (value := _one(params, name)) is not None
    }
    filters = {name: params[name] for name in models.FILTER_NAMES if name in params}
    facets = _facets(params["facets"]) if "facets" in params else ()
    return EnrichRequest(
        genes=tuple(params.get("genes") or ()),
        library=SearchRequest(filters=filters, facets=facets, **library),
        background=None if background is None else tuple(background),
        **given,
    )


def enrich_format(params: Params) -> str:
    """The format of an enrichment answer: json (a page of rows), tsv or gmt (every row)."""
    return models.one_of("format", _one(params, "format"), ENRICH_FORMATS, "json")


def export_format(params: Params) -> str | None:
    """The export format asked for, or None for a page of results."""
    return models.one_of("format", _one(params, "format"), FORMATS)


def suggest_args(params: Params) -> tuple[str, str | None]:
    """The prefix and the number of suggestions asked for, as given."""
    return _one(params, "q") or "", _one(params, "limit")


def _one(params: Params, name: str) -> str | None:
    """The one value of ``name``, or None when it is not given."""
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _facets(values: list[str]) -> tuple[str, ...]:
    """Facets as a comma-separated list and/or repeated; given but empty means none."""
    return tuple(name for value in values for name in value.split(",") if name.strip())


def _body_values(name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise InvalidParameter(
                name, f"{name} must be text or a number (or a list of them), got {_json_kind(item)}"
            )
        texts.append(item if isinstance(item, str) else json.dumps(item))
    return texts


def _list_values(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise InvalidParameter(
        name, f"{name} must be a list of texts or one text of entries, got {_json_kind(value)}"
    )


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = getattr(exc, "pos", None)
        raise InvalidParameter(
            "body", f"the request body is not valid JSON: {_json_problem(exc)}", position=position
        ) from None
    except RecursionError:
        raise InvalidParameter(
            "body",
            "the request body is not valid JSON: it nests arrays or objects too deeply; "
            'a search body is one object of values or lists, such as {"gene": ["STAT3"]}',
        ) from None
    except ValueError:  # a number of more than 4,300 digits, which Python will not read
        raise InvalidParameter(
            "body", "the request body is not valid JSON: it holds a number too long to read"
        ) from None


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), f"{type(value).__name__} {value!r}")


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return "it is not UTF-8 text"
