"""Turn query-string arguments or a JSON body into a :class:`SearchRequest`, checking types.

Both sources are first brought to one form, ``{name: [text, ...]}``, so a parameter is
parsed and checked by the same code (and answers with the same message) whether it came
from ``?per_page=500`` or ``{"per_page": 500}``. Every problem raises
:class:`InvalidParameter` naming the parameter and what is allowed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from server.search import models
from server.search.models import InvalidParameter, SearchRequest

Params = Mapping[str, list[str]]

FORMATS = ("json", "csv", "tsv", "gmt")
MAX_PAGE = 10_000  # deeper pages cost the engine more than they help; exports walk everything
MIN_YEAR, MAX_YEAR = 1000, 9999
DEFAULT_SUGGEST_LIMIT = 10
MAX_SUGGEST_LIMIT = 50

SEARCH_PARAMS = (
    "q",
    *models.FILTER_NAMES,
    "year_min",
    "year_max",
    "gene_match",
    "min_genes",
    "sort",
    "page",
    "per_page",
    "facets",
    "facet_size",
)
EXPORT_PARAMS = (*SEARCH_PARAMS, "format")
SUGGEST_PARAMS = ("q", "limit")


def from_args(args: MultiDict[str, str]) -> dict[str, list[str]]:
    """Query-string arguments as ``{name: [values]}``."""
    return {name: args.getlist(name) for name in args}


def from_json_body(raw: bytes) -> dict[str, list[str]]:
    """A JSON object body as ``{name: [values]}``; numbers become their text."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = getattr(exc, "pos", None)
        raise InvalidParameter(
            "body", f"the request body is not valid JSON: {_json_problem(exc)}", position=position
        ) from None
    if not isinstance(body, dict):
        raise InvalidParameter(
            "body",
            'the request body must be a JSON object such as {"gene": ["STAT3", "JAK2"]}, '
            f"got {_json_kind(body)}",
        )
    return {name: _body_values(name, value) for name, value in body.items()}


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
        if not allowed:
            raise InvalidParameter(name, f"unknown parameter {name!r}: this takes no parameters")
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameter(
            name, f"unknown parameter {name!r}{hint}; allowed: {', '.join(allowed)}"
        )


def search_request(params: Params) -> SearchRequest:
    """The :class:`SearchRequest` that ``params`` describe."""
    filters = {name: _values(params, name) for name in models.FILTER_NAMES}
    request = SearchRequest(
        q=_query(params),
        filters={name: values for name, values in filters.items() if values},
        year_min=_int(params, "year_min", MIN_YEAR, MAX_YEAR),
        year_max=_int(params, "year_max", MIN_YEAR, MAX_YEAR),
        gene_match=_choice(params, "gene_match", models.GENE_MATCHES) or "any",
        min_genes=_int(params, "min_genes", 1, models.MAX_GENES),
        sort=_choice(params, "sort", models.SORTS) or "relevance",
        page=_int(params, "page", 1, MAX_PAGE) or 1,
        per_page=_int(params, "per_page", 1, models.MAX_PER_PAGE) or models.DEFAULT_PER_PAGE,
        facets=_facets(params),
        facet_size=_int(params, "facet_size", 1, models.MAX_FACET_SIZE)
        or models.DEFAULT_FACET_SIZE,
    )
    _check_consistent(request)
    return request


def export_format(params: Params) -> str | None:
    """The export format asked for, or None for a page of results."""
    return _choice(params, "format", FORMATS)


def suggest_args(params: Params) -> tuple[str, int]:
    """The prefix and the number of suggestions asked for."""
    prefix = _query(params)
    limit = _int(params, "limit", 1, MAX_SUGGEST_LIMIT) or DEFAULT_SUGGEST_LIMIT
    return prefix, limit


def _one(params: Params, name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times; give it once")
    value = values[0].strip() if values else ""
    return value or None


def _values(params: Params, name: str) -> list[str]:
    """The non-blank values of a repeatable parameter, in order, without repeats."""
    values = list(dict.fromkeys(v.strip() for v in params.get(name) or [] if v.strip()))
    limit = models.MAX_GENES if name == "gene" else models.MAX_FILTER_VALUES
    if len(values) > limit:
        raise InvalidParameter(
            name, f"{name} has {len(values):,} values; at most {limit:,} are allowed"
        )
    return values


def _query(params: Params) -> str:
    q = _one(params, "q") or ""
    if len(q) > models.MAX_QUERY_LENGTH:
        raise InvalidParameter(
            "q", f"q is {len(q):,} characters long; at most {models.MAX_QUERY_LENGTH:,} are allowed"
        )
    return q


def _int(params: Params, name: str, low: int, high: int) -> int | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(
            name, f"{name} must be a whole number between {low} and {high}, got {raw!r}"
        ) from None
    if not low <= value <= high:
        raise InvalidParameter(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(params: Params, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = _one(params, name)
    if raw is not None and raw not in allowed:
        raise InvalidParameter(name, f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
    return raw


def _facets(params: Params) -> tuple[str, ...]:
    """Facets as a comma-separated list and/or repeated; given but empty means none."""
    if "facets" not in params:
        return models.DEFAULT_FACETS
    names = [n.strip() for value in params["facets"] for n in value.split(",") if n.strip()]
    for name in names:
        if name not in models.FACET_NAMES:
            raise InvalidParameter(
                "facets",
                f"unknown facet {name!r}; allowed: {', '.join(models.FACET_NAMES)}",
            )
    return tuple(dict.fromkeys(names))


def _check_consistent(request: SearchRequest) -> None:
    low, high = request.year_min, request.year_max
    if low is not None and high is not None and low > high:
        raise InvalidParameter("year_min", f"year_min ({low}) must not be after year_max ({high})")
    if request.min_genes is not None:
        genes = len(request.filters.get("gene", []))
        if request.min_genes > genes:
            raise InvalidParameter(
                "min_genes",
                f"min_genes ({request.min_genes}) must not exceed the number of gene values "
                f"given ({genes})",
            )


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


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), f"{type(value).__name__} {value!r}")


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return "it is not UTF-8 text"
