"""What the search service is asked and what it raises, and the one check of a request.

The service (``server.search.service``) knows nothing of HTTP; the API (``server.web.api``) turns
query-string or JSON parameters into a raw :class:`SearchRequest` (values as text), calls
the service, and renders its plain-dict results. :func:`normalize` is the one validator of
a search's meaning and bounds, for the Python API and the HTTP API alike: the same bad
value gets the same :class:`InvalidParameter`, naming the parameter, whichever way it came.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from immutabledict import immutabledict

FILTER_NAMES = ("organism", "gene", "disease", "chemical", "annotation", "ndex")
FACET_NAMES = ("organism", "year", "gene", "disease", "chemical", "annotation", "ndex")
DEFAULT_FACETS = ("organism", "year", "gene", "disease", "ndex")
# ``ndex`` filters on whether a figure has a network at NDEx.
NDEX_VALUES = ("true", "false")
NDEX_LABELS = {"true": "Has a network at NDEx", "false": "No network at NDEx"}
SORTS = ("relevance", "year", "-year")
GENE_MATCHES = ("all", "any")
MATCHES = ("best", "all")  # best: figures holding most of the words when too few hold all
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 10_000  # deeper pages cost the engine more than they help; exports walk everything
MIN_YEAR, MAX_YEAR = 1000, 9999
MAX_QUERY_LENGTH = 1000
MAX_GENES = 1000
DEFAULT_FACET_SIZE = 10
MAX_FACET_SIZE = 1000
MAX_FILTER_VALUES = 1000
SHOWN_VALUE_LENGTH = 40  # an error message quotes at most this much of a bad value
# Enrichment (``EnrichRequest``)
MAX_ENRICH_GENES = 5000
MAX_BACKGROUND_GENES = 60_000  # every human gene, coding or not, with room to spare
MAX_BACKGROUND_SIZE = 10_000_000
DEFAULT_MIN_FIGURE_GENES = 3  # as PFOCR's own gene-set releases
MAX_MIN_FIGURE_GENES = 1000
CORRECTIONS = ("library", "overlapping")
DEFAULT_ENRICH_PER_PAGE = 20
MAX_ENRICH_PER_PAGE = 500

Filters = Mapping[str, tuple[str, ...]]
Whole = int | str  # a whole number, or its text as a query string or JSON body gives it
NO_FILTERS: Filters = immutabledict()

# Code points that are not text: lone surrogate halves (a JSON body can escape them, and
# UTF-8 cannot encode them) and the Unicode noncharacters (U+FDD0-U+FDEF, and the last two
# of every plane, U+FFFE, U+FFFF, U+1FFFE...).
_SURROGATES = (0xD800, 0xDFFF)
_NONCHARACTERS = (0xFDD0, 0xFDEF)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_GENE_SEPARATORS = re.compile(r"[\s,;]+")
_HUGE = 10**30  # past every bound; and Python will not even turn a 4,301-digit text into an int


class InvalidParameter(ValueError):
    """A request parameter is wrong: which one, what is wrong, and what is allowed.

    ``position`` is the character offset in the query for query syntax problems.
    ``status`` is the HTTP status the API should answer with.
    """

    def __init__(
        self, parameter: str, message: str, *, position: int | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.position = position
        self.status = status


class Busy(RuntimeError):
    """A sound request the server cannot take on now (too many costly queries at once);
    the same request may be retried after ``retry_after`` seconds."""

    def __init__(self, parameter: str, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.retry_after = retry_after


class NotFound(LookupError):
    """The thing asked for (a figure, a gene) does not exist."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what
        self.message = message


@dataclass(frozen=True)
class SearchRequest:
    """One search: free text, filters, sorting, paging and facets. Immutable and hashable,
    so a normalised request is its own cache key.

    ``filters`` maps a name of ``FILTER_NAMES`` to values; values of one filter OR
    together, different filters AND. ``gene`` values may be HGNC symbols, Entrez IDs or
    printed aliases; ``ndex`` is ``true`` (figures with a network at NDEx) or ``false``.
    With ``min_genes`` a figure must carry at least that many of the ``gene`` filter
    values (``gene_match="all"`` means all of them). ``match="best"`` shows figures
    holding most of the words of ``q`` when fewer than a page hold them all;
    ``match="all"`` asks every word to be held. ``filters`` may be given as a dict of
    lists (``{"gene": ["STAT3"]}``) and ``facets`` as a list: they are stored frozen.
    Numbers may be given as text; :func:`normalize` checks every value.
    """

    q: str = ""
    filters: Filters = NO_FILTERS
    year_min: Whole | None = None
    year_max: Whole | None = None
    gene_match: str = "any"
    min_genes: Whole | None = None
    match: str = "best"
    sort: str = "relevance"
    page: Whole = 1
    per_page: Whole = DEFAULT_PER_PAGE
    facets: tuple[str, ...] = DEFAULT_FACETS
    facet_size: Whole = DEFAULT_FACET_SIZE

    def __post_init__(self) -> None:
        # Frozen containers for fields a caller may give as a dict or list.
        object.__setattr__(self, "filters", _frozen_filters(self.filters))
        object.__setattr__(self, "facets", frozen_values(self.facets))


def normalize(request: SearchRequest) -> SearchRequest:
    """The canonical, checked form of ``request``; raises :class:`InvalidParameter`.

    Text is checked to be text and whitespace-collapsed; filter values lose blanks and
    repeats; blank text where a number or choice goes means "not given".
    """
    filters = _filters(request.filters)
    year_min = whole_number("year_min", request.year_min, MIN_YEAR, MAX_YEAR)
    year_max = whole_number("year_max", request.year_max, MIN_YEAR, MAX_YEAR)
    if year_min is not None and year_max is not None and year_min > year_max:
        raise InvalidParameter(
            "year_min", f"year_min ({year_min}) must not be after year_max ({year_max})"
        )
    defaults = SearchRequest  # a dataclass's attributes are its fields' defaults
    return SearchRequest(
        q=query_text("q", request.q),
        filters=filters,
        year_min=year_min,
        year_max=year_max,
        gene_match=one_of("gene_match", request.gene_match, GENE_MATCHES, defaults.gene_match),
        min_genes=_min_genes(request.min_genes, len(filters.get("gene", ()))),
        match=one_of("match", request.match, MATCHES, defaults.match),
        sort=one_of("sort", request.sort, SORTS, defaults.sort),
        page=whole_number("page", request.page, 1, MAX_PAGE, defaults.page),
        per_page=whole_number("per_page", request.per_page, 1, MAX_PER_PAGE, defaults.per_page),
        facets=_facets(request.facets),
        facet_size=whole_number(
            "facet_size", request.facet_size, 1, MAX_FACET_SIZE, defaults.facet_size
        ),
    )


@dataclass(frozen=True)
class EnrichRequest:
    """Gene-set enrichment of ``genes`` over the figures ``library`` finds.

    ``genes`` (and ``background``) are entries, or texts of entries separated by newlines,
    commas, semicolons, tabs or spaces: HGNC symbols, Entrez IDs or printed aliases.
    ``library`` is a search (its text, filters and year range; its paging, sort and facets
    do not change the library, and its facets are counted for the answer). Figures with
    fewer than ``min_figure_genes`` genes are left out of the library. The background is
    the library's genes, or the ``background`` list, or ``background_size`` genes.
    ``correction`` is ``library`` (Benjamini-Hochberg over every figure of the library)
    or ``overlapping`` (over the figures sharing a gene with the list, as Enrichr does).
    """

    genes: tuple[str, ...] = ()
    library: SearchRequest = field(default_factory=lambda: SearchRequest(facets=()))
    min_figure_genes: Whole | None = DEFAULT_MIN_FIGURE_GENES
    background: tuple[str, ...] | None = None
    background_size: Whole | None = None
    correction: str = "library"
    page: Whole = 1
    per_page: Whole = DEFAULT_ENRICH_PER_PAGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "genes", frozen_values(self.genes))
        if self.background is not None:
            object.__setattr__(self, "background", frozen_values(self.background))


def normalize_enrichment(request: EnrichRequest) -> EnrichRequest:
    """The canonical, checked form of ``request``; raises :class:`InvalidParameter`.

    Gene entries are split and stripped (repeats kept: the answer reports them); the
    library is normalised as a search, with its paging and sort fixed (they do not
    change which figures it holds)."""
    genes = gene_entries("genes", request.genes, MAX_ENRICH_GENES)
    if not genes:
        raise InvalidParameter(
            "genes", "genes is empty: give gene symbols, Entrez IDs or printed names"
        )
    background = None
    if request.background is not None:
        background = gene_entries("background", request.background, MAX_BACKGROUND_GENES)
        if not background:
            raise InvalidParameter("background", "background is empty: give genes, or leave it out")
    size = whole_number("background_size", request.background_size, 1, MAX_BACKGROUND_SIZE)
    if background is not None and size is not None:
        raise InvalidParameter(
            "background_size", "give a background list or a background_size, not both"
        )
    defaults = EnrichRequest()
    library = normalize(request.library)
    return EnrichRequest(
        genes=genes,
        library=SearchRequest(
            q=library.q,
            filters=library.filters,
            year_min=library.year_min,
            year_max=library.year_max,
            gene_match=library.gene_match,
            min_genes=library.min_genes,
            match=library.match,
            facets=library.facets,
            facet_size=library.facet_size,
        ),
        min_figure_genes=whole_number(
            "min_figure_genes",
            request.min_figure_genes,
            1,
            MAX_MIN_FIGURE_GENES,
            DEFAULT_MIN_FIGURE_GENES,
        ),
        background=background,
        background_size=size,
        correction=one_of("correction", request.correction, CORRECTIONS, defaults.correction),
        page=whole_number("page", request.page, 1, MAX_PAGE, defaults.page),
        per_page=whole_number(
            "per_page", request.per_page, 1, MAX_ENRICH_PER_PAGE, defaults.per_page
        ),
    )


# -- the checks of single values, shared by every entry point ------------------------------


def text(name: str, value: Any, *, what: str | None = None) -> str:
    """``value`` if it is text holding only characters; ``what`` names it in messages."""
    what = what or name
    if not isinstance(value, str):
        raise InvalidParameter(name, f"{what} must be text, got {type(value).__name__}")
    at = _first_not_text(value)
    if at is not None:
        char = value[at]
        kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a Unicode noncharacter"
        raise InvalidParameter(
            name,
            f"{what} holds U+{ord(char):04X} at character {at + 1}, which is not text ({kind})",
            position=at if name == "q" else None,
        )
    return value


def gene_entries(name: str, values: Iterable[Any], limit: int) -> tuple[str, ...]:
    """The entries of a gene list: each value must be text; texts are split on newlines,
    commas, semicolons, tabs and spaces; blanks dropped, repeats kept; at most ``limit``."""
    values = list(values)
    for number, value in enumerate(values, 1):
        if not isinstance(value, str):
            hint = (
                ' (write an Entrez ID as text: "7157")'
                if isinstance(value, int) and not isinstance(value, bool)
                else ""
            )
            raise InvalidParameter(
                name,
                f"{name} entry {number} must be text, got {type(value).__name__} "
                f"{shown(value)}{hint}",
            )
    joined = text(name, "\n".join(values))  # one check and one split for the whole list
    entries = [e for e in _GENE_SEPARATORS.split(joined) if e]
    if len(entries) > limit:
        raise InvalidParameter(
            name, f"{name} has {len(entries):,} entries; at most {limit:,} are allowed"
        )
    return tuple(entries)


def query_text(name: str, value: Any) -> str:
    """Free text of at most ``MAX_QUERY_LENGTH`` characters, whitespace collapsed."""
    value = "" if value is None else value
    if isinstance(value, str) and len(value) > MAX_QUERY_LENGTH:
        raise InvalidParameter(
            name,
            f"{name} is {len(value):,} characters long; at most {MAX_QUERY_LENGTH:,} are allowed",
        )
    return " ".join(text(name, value).split())


def whole_number(name: str, value: Any, low: int, high: int, default: Any = None) -> Any:
    """``value`` as an int from ``low`` to ``high``; ``default`` if not given (None or blank)."""
    if isinstance(value, str):
        value = text(name, value).strip()
        if not value:
            return default
    elif value is None:
        return default
    number = _as_whole_number(value)
    if number is None:
        raise InvalidParameter(
            name, f"{name} must be a whole number between {low} and {high}, got {shown(value)}"
        )
    if not low <= number <= high:
        got = number if abs(number) < _HUGE else f"a number of over {len(str(_HUGE)) - 1} digits"
        raise InvalidParameter(name, f"{name} must be between {low} and {high}, got {got}")
    return number


def one_of(name: str, value: Any, allowed: tuple[str, ...], default: Any = None) -> Any:
    """``value`` if it is one of ``allowed``; ``default`` if not given (None or blank)."""
    if value is None:
        return default
    value = text(name, value).strip()
    if not value:
        return default
    if value not in allowed:
        raise InvalidParameter(
            name, f"{name} must be one of {', '.join(allowed)}; got {shown(value)}"
        )
    return value


# -- the parts of a request ----------------------------------------------------------------


def _filters(filters: Filters) -> immutabledict[str, tuple[str, ...]]:
    checked = {}
    for name, values in filters.items():
        if name not in FILTER_NAMES:
            raise InvalidParameter(
                name, f"unknown filter {shown(name)}; allowed: {', '.join(FILTER_NAMES)}"
            )
        cleaned = _filter_values(name, values)
        if cleaned:
            checked[name] = cleaned
    return immutabledict(sorted(checked.items()))


def _filter_values(name: str, values: Iterable[Any]) -> tuple[str, ...]:
    """The non-blank values, whitespace collapsed, in order, without repeats."""
    cleaned = []
    for number, value in enumerate(values, 1):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an Entrez ID given as a number
        value = " ".join(text(name, value, what=f"{name} value {number}").split())
        if value:
            cleaned.append(value)
    if name == "ndex":
        cleaned = [_ndex_value(value) for value in cleaned]
    unique = tuple(dict.fromkeys(cleaned))
    limit = MAX_GENES if name == "gene" else MAX_FILTER_VALUES
    if len(unique) > limit:
        raise InvalidParameter(
            name, f"{name} has {len(unique):,} values; at most {limit:,} are allowed"
        )
    return unique


def _ndex_value(value: str) -> str:
    folded = value.casefold()
    if folded not in NDEX_VALUES:
        raise InvalidParameter(
            "ndex",
            f"ndex must be true (figures with a network at NDEx) or false, got {shown(value)}",
        )
    return folded


def _min_genes(value: Any, genes: int) -> int | None:
    min_genes = whole_number("min_genes", value, 1, MAX_GENES)
    if min_genes is None:
        return None
    if genes == 0:
        raise InvalidParameter("min_genes", "min_genes needs gene values: give one or more genes")
    if min_genes > genes:
        raise InvalidParameter(
            "min_genes",
            f"min_genes ({min_genes}) must not exceed the number of gene values given ({genes})",
        )
    return min_genes


def _facets(names: Iterable[Any]) -> tuple[str, ...]:
    checked = []
    for name in names:
        name = text("facets", name).strip()
        if not name:
            continue  # as in a query string's "facets=gene,"
        if name not in FACET_NAMES:
            raise InvalidParameter(
                "facets",
                f"facets names an unknown facet {shown(name)}; allowed: {', '.join(FACET_NAMES)}",
            )
        checked.append(name)
    return tuple(dict.fromkeys(checked))


def _frozen_filters(filters: Any) -> immutabledict[str, tuple[Any, ...]]:
    if filters is None:
        return immutabledict()
    if not isinstance(filters, Mapping):
        raise InvalidParameter(
            "filters",
            "filters must map filter names to values, as in {'gene': ['STAT3']}, "
            f"got {type(filters).__name__}",
        )
    return immutabledict((name, frozen_values(values)) for name, values in filters.items())


def frozen_values(values: Any) -> tuple[Any, ...]:
    """One value or an iterable of them as a tuple (text is one value, not its letters)."""
    if values is None:
        return ()
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        return (values,)
    return tuple(values)


def _first_not_text(value: str) -> int | None:
    """Where the first code point that is not a character is in ``value``, if anywhere."""
    if value.isascii():
        return None
    # One pass in numpy over the code points: a regular expression over the astral
    # noncharacters costs ~0.4 s per megabyte of emoji.
    points = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    bad = (
        _between(points, *_SURROGATES)
        | _between(points, *_NONCHARACTERS)
        | ((points & 0xFFFE) == 0xFFFE)
    )
    at = int(np.argmax(bad))
    return at if bad[at] else None


def _between(points: np.ndarray, low: int, high: int) -> np.ndarray:
    return (points >= low) & (points <= high)


def _as_whole_number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not _WHOLE_NUMBER.fullmatch(value):
        return None
    digits = value.lstrip("+-")
    return int(value) if len(digits) < len(str(_HUGE)) else _HUGE


def shown(value: Any) -> str:
    """``value`` quoted for an error message, cut short: a message must not echo a megabyte."""
    shown = repr(value)
    return shown if len(shown) <= SHOWN_VALUE_LENGTH else shown[:SHOWN_VALUE_LENGTH] + "…"
