"""The names a figure URL may carry, and which figure each leads to.

A figure's canonical URL names it by its figid: ``/figures/<figid>``. Users arrive with
other names: its PFOCR alias (``PMC7513516__F1``, the form Enrichr's and PFOCRummage's
PFOCR gene sets use), either name in another case, and either with ``.html`` (the PFOCR
site's permanent links are ``https://pfocr.wikipathways.org/figures/<figid>.html``). Every
one of them resolves:

- pages (``/figures/<name>`` and its downloads) answer ``301 Moved Permanently`` to the
  canonical URL, query string kept;
- the JSON API (``/api/figures/<name>``) answers the record itself, with
  ``Link: </api/figures/<figid>>; rel="canonical"``: a script gets its data without
  following a redirect;
- an alias naming several figures (it should not, but a release may repeat one) answers
  ``300 Multiple Choices``, listing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.search.models import NotFound

if TYPE_CHECKING:
    from server.search.service import SearchService

HTML_SUFFIX = ".html"
# A 301 is kept by browsers for good unless told otherwise: an alias moved to another
# figure by a later release is followed again after a day.
REDIRECT_CACHE = "public, max-age=86400"


@dataclass(frozen=True)
class Named:
    """The figures a URL's name stands for (hit dicts, figid order): one, or several."""

    name: str
    figures: list[dict[str, Any]]

    @property
    def figid(self) -> str | None:
        """The one figure's figid; None when the name stands for several."""
        return self.figures[0]["figid"] if len(self.figures) == 1 else None

    @property
    def canonical(self) -> bool:
        """Whether the name is the figure's figid itself, as its canonical URL has it."""
        return self.figid == self.name


def resolve(service: SearchService, name: str) -> Named:
    """The figures a figure URL names; raises ``NotFound`` when it names none."""
    candidates = [name]
    if name.endswith(HTML_SUFFIX) and len(name) > len(HTML_SUFFIX):
        candidates.append(name.removesuffix(HTML_SUFFIX))
    for candidate in candidates:  # a figid may itself end in ".html": it comes first
        figures = service.figures_named(candidate)
        if figures:
            return Named(name, figures)
    raise NotFound("figure", f"no figure with figid or PFOCR alias {name!r}")
