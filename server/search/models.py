"""What the search service is asked and what it raises: shared by the service and the API.

The service (``server.search.service``) knows nothing of HTTP; the API (``server.web.api``) turns
query-string or JSON parameters into a :class:`SearchRequest`, calls the service, and
renders its plain-dict results. Every problem with a request is an :class:`InvalidParameter`
naming the parameter, so the API can answer with one error shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FILTER_NAMES = ("organism", "gene", "disease", "chemical", "annotation")
FACET_NAMES = ("organism", "year", "gene", "disease", "chemical", "annotation")
DEFAULT_FACETS = ("organism", "year", "gene", "disease")
SORTS = ("relevance", "year", "-year")
GENE_MATCHES = ("all", "any")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY_LENGTH = 1000
MAX_GENES = 1000
DEFAULT_FACET_SIZE = 10
MAX_FACET_SIZE = 1000
MAX_FILTER_VALUES = 1000


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


class NotFound(LookupError):
    """The thing asked for (a figure, a gene) does not exist."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what
        self.message = message


@dataclass
class SearchRequest:
    """One search: free text, filters, sorting, paging and facets.

    ``filters`` maps a name of ``FILTER_NAMES`` to values; values of one filter OR
    together, different filters AND. ``gene`` values may be HGNC symbols, Entrez IDs or
    printed aliases. With ``min_genes`` a figure must carry at least that many of the
    ``gene`` filter values (``gene_match="all"`` means all of them).
    """

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    year_min: int | None = None
    year_max: int | None = None
    gene_match: str = "any"
    min_genes: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    facets: tuple[str, ...] = DEFAULT_FACETS
    facet_size: int = DEFAULT_FACET_SIZE
