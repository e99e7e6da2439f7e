"""What the pages show, built from the search service's result dicts.

The whole state of a search page lives in its query string, under the API's own parameter
names, so a page URL is also an API request (``/?q=x&organism=...`` is
``/api/search?q=x&organism=...``). :class:`PageState` holds those parameters and makes
the links that change one thing (add a filter, drop it, sort, page); the functions below
turn a search result into what the templates loop over. No service calls happen here
except in :func:`drop_filter_hints`, which counts what dropping each filter would give.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup

from server.search import models
from server.search.models import SearchRequest

FACET_TITLES = {
    "organism": "Organism",
    "year": "Year",
    "gene": "Genes",
    "disease": "Diseases",
    "chemical": "Chemicals",
    "annotation": "Annotations",
    "ndex": "NDEx network",
}
ON_REQUEST_FACETS = ("chemical", "annotation")
SORT_CHOICES = (("relevance", "Relevance"), ("-year", "Newest"), ("year", "Oldest"))
EXPORT_FORMATS = (("csv", "CSV"), ("tsv", "TSV"), ("json", "JSON"), ("gmt", "GMT"))
# Parameters that shape the page of results but not the set of figures: not exported.
PAGE_ONLY = ("page", "per_page", "facets", "facet_size")
# Years asked of the service so the histogram has every year, whatever facet_size says
# (PubMed Central's figures span about 30 years; more values would slow every facet).
YEAR_VALUES = 50
CARD_GENES = 12
MORE_FACTOR = 5
PAGER_WINDOW = 2
MAX_PAGE = 10_000

MESH_URL = "https://meshb.nlm.nih.gov/record/ui?ui={}"
HGNC_URL = "https://www.genenames.org/data/gene-symbol-report/#!/symbol/{}"
EUROPE_PMC_ARTICLE = "https://europepmc.org/article/PMC/{}"


@dataclass(frozen=True)
class PageState:
    """A page's path and its query-string parameters, in order; makes the links of a page."""

    path: str
    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_params(cls, path: str, params: Mapping[str, Sequence[str]]) -> PageState:
        pairs = tuple((name, v) for name, values in params.items() for v in values if v.strip())
        return cls(path, pairs)

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.pairs if n == name]

    def url(self, pairs: Iterable[tuple[str, str]] | None = None) -> str:
        query = "&".join(_encoded(n, v) for n, v in (self.pairs if pairs is None else pairs))
        return self.path + ("?" + query if query else "")

    def adding(self, name: str, value: str) -> str:
        """This page with one more ``name=value``, from its first page."""
        return self.url([*self._keep(("page",)), (name, value)])

    def dropping(self, name: str, values: Iterable[str] | None = None) -> str:
        """This page without ``name`` (or only its ``values``, case-insensitively)."""
        folded = None if values is None else {v.casefold() for v in values}
        kept = [
            (n, v)
            for n, v in self._keep(("page",))
            if n != name or (folded is not None and v.casefold() not in folded)
        ]
        return self.url(_consistent(kept))

    def setting(self, name: str, value: str | None) -> str:
        """This page with ``name`` set to ``value`` (or removed); a new first page unless
        ``name`` is the page itself."""
        reset = () if name == "page" else ("page",)
        pairs = [(n, v) for n, v in self._keep(reset) if n != name]
        if value is not None:
            pairs.append((name, value))
        return self.url(pairs)

    def without(self, names: Iterable[str]) -> list[tuple[str, str]]:
        names = set(names)
        return [(n, v) for n, v in self.pairs if n not in names]

    def _keep(self, drop: Iterable[str]) -> list[tuple[str, str]]:
        return self.without(drop)


def _consistent(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` without a ``min_genes`` above the gene values left, or a ``gene_match``
    with none left: the API refuses both, so a link dropping genes must drop them too."""
    genes = sum(1 for n, _ in pairs if n == "gene")
    return [
        (n, v)
        for n, v in pairs
        if not (n == "min_genes" and v.strip().isdigit() and int(v) > genes)
        and not (n == "gene_match" and genes == 0)
    ]


@lru_cache(maxsize=4096)
def _encoded(name: str, value: str) -> str:
    # A page makes ~100 links from the same few pairs: encode each pair once.
    return urlencode([(name, value)])


def page_request(request: SearchRequest) -> SearchRequest:
    """The request a page sends the service: the same search, with every year for the
    histogram (other facets are cut back to ``facet_size`` by :func:`facet_views`)."""
    if "year" not in request.facets:
        return request
    return replace(request, facet_size=max(request.facet_size, YEAR_VALUES))


def facet_views(
    result: dict[str, Any], request: SearchRequest, state: PageState
) -> list[dict[str, Any]]:
    """The sidebar's facets other than year: values with counts and toggle links."""
    gene_filters = [g for g in understood(result).get("genes", []) if g.get("filter")]
    views = []
    for name, facet in result["facets"].items():
        if name == "year":
            continue
        values = facet["values"]
        if name == "ndex":  # a yes/no facet: "has a network" first, whatever the counts
            values = sorted(values, key=lambda v: v["value"] != "true")
        shown = [v for i, v in enumerate(values) if i < request.facet_size or v["selected"]]
        truncated = facet["truncated"] or len(values) > len(shown)
        views.append(
            {
                "name": name,
                "title": FACET_TITLES[name],
                "values": [_facet_value(name, v, state, gene_filters) for v in shown],
                "more_url": state.setting(
                    "facet_size", str(min(request.facet_size * MORE_FACTOR, models.MAX_FACET_SIZE))
                )
                if truncated and request.facet_size < models.MAX_FACET_SIZE
                else None,
                "fewer_url": state.setting("facet_size", None)
                if request.facet_size > models.DEFAULT_FACET_SIZE
                else None,
            }
        )
    return views


def _facet_value(
    name: str, value: dict[str, Any], state: PageState, gene_filters: list[dict[str, Any]]
) -> dict[str, Any]:
    text = str(value["value"])
    if value["selected"]:
        named = [text]
        if name == "gene":  # a filter typed as an alias selects the symbol it names
            folded = text.casefold()
            named += [
                g["value"] for g in gene_filters if folded in {s.casefold() for s in g["symbols"]}
            ]
        url = state.dropping(name, named)
    elif name == "ndex":  # yes or no: choosing one drops the other
        url = state.setting(name, text)
    else:
        url = state.adding(name, text)
    return {
        "value": text,
        "label": value.get("label") or text,
        "common": _common_name(value) if name == "organism" else None,
        "count": value["count"],
        "selected": value["selected"],
        "url": url,
    }


def _common_name(value: dict[str, Any]) -> str | None:
    """``"human"`` from the label ``"human (Homo sapiens)"``; None when there is none."""
    label, latin = value.get("label") or "", value["value"]
    suffix = f" ({latin})"
    if not label.endswith(suffix):
        return None
    common = label[: -len(suffix)]
    return common[:1].upper() + common[1:]


def organism_offers(result: dict[str, Any], state: PageState) -> list[dict[str, Any]]:
    """Organisms the query's words name, each with a link filtering by it (not shown for
    an organism the page already filters by)."""
    chosen = {v.casefold() for v in state.values("organism")}
    return [
        {
            "text": offer["text"],
            "label": offer["label"],
            "figures": offer["figures"],
            "url": state.adding("organism", offer["organism"]),
        }
        for offer in understood(result).get("organisms", ())
        if offer["organism"].casefold() not in chosen
    ]


def lookup_notes(result: dict[str, Any]) -> list[dict[str, Any]]:
    """What each identifier of the query named (a figure's figid or alias, a paper's
    PMCID or DOI, an NDEx network), with a link to the figure it names, if one."""
    notes = []
    for found in understood(result).get("lookups", ()):
        count, value = found["figures"], found["value"]
        what = {
            "figid": "the figure",
            "figid_alias": f"the {_plural(count, 'figure')} with PFOCR alias {value}",
            "pmcid": f"the {_plural(count, 'figure')} of paper {value}",
            "doi": f"the {_plural(count, 'figure')} of the paper with DOI {value}",
            "ndex": f"the {_plural(count, 'figure')} of NDEx network {value}",
        }[found["kind"]]
        single = found["kind"] in ("figid", "figid_alias") and count == 1
        url = "/figures/" + quote(value, safe="") if single else None
        notes.append({"text": found["text"], "what": what, "url": url})
    return notes


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{count:,} {noun}s"


def extra_facet_links(request: SearchRequest, state: PageState) -> list[dict[str, str]]:
    """Links adding the facets shown only on request (chemicals, annotations)."""
    links = []
    for name in ON_REQUEST_FACETS:
        if name not in request.facets:
            facets = ",".join((*request.facets, name))
            links.append({"title": FACET_TITLES[name], "url": state.setting("facets", facets)})
    return links


def year_view(result: dict[str, Any], request: SearchRequest, state: PageState) -> dict | None:
    """The year histogram (bars as SVG geometry) and the range form's values."""
    facet = result["facets"].get("year")
    if facet is None:
        return None
    counts = {int(v["value"]): v["count"] for v in facet["values"]}
    low, high = request.year_min, request.year_max
    others = state.without(("year_min", "year_max", "page"))
    filtered = low is not None or high is not None
    view: dict[str, Any] = {
        "bars": [],
        "low": low,
        "high": high,
        "first": min(counts) if counts else None,
        "last": max(counts) if counts else None,
        "hidden": others,
        "clear_url": state.url(others) if filtered else None,
    }
    if not counts:
        return view
    years = list(range(min(counts), max(counts) + 1))
    width, height, gap = 240, 56, 1
    step = width / len(years)
    peak = max(counts.values())
    for i, year in enumerate(years):
        count = counts.get(year, 0)
        bar = round(height * count / peak, 1) if count else 0
        view["bars"].append(
            {
                "year": year,
                "count": count,
                "x": round(i * step, 2),
                "width": round(max(step - gap, 0.5), 2),
                "y": round(height - bar, 1),
                "height": bar,
                "in_range": filtered
                and (low is None or year >= low)
                and (high is None or year <= high),
                "url": state.url([*others, ("year_min", str(year)), ("year_max", str(year))]),
            }
        )
    return view


def chips(result: dict[str, Any], request: SearchRequest, state: PageState) -> list[dict]:
    """The selected filters, each with the link that removes it."""
    out = []
    for name, values in request.filters.items():
        for value in values:
            out.append(
                {
                    "label": models.NDEX_LABELS[value]
                    if name == "ndex"
                    else f"{FACET_TITLES[name]}: {value}",
                    "url": state.dropping(name, [value]),
                }
            )
    if request.year_min is not None or request.year_max is not None:
        span = f"{request.year_min or '…'}–{request.year_max or '…'}"
        if request.year_min == request.year_max:
            span = str(request.year_min)
        out.append(
            {
                "label": f"Year: {span}",
                "url": PageState(
                    state.path, tuple(state.without(("year_min", "year_max", "page")))
                ).url(),
            }
        )
    if request.min_genes is not None or request.gene_match == "all":
        label = (
            "all genes" if request.gene_match == "all" else f"at least {request.min_genes} genes"
        )
        out.append(
            {
                "label": f"Match: {label}",
                "url": state.url(state.without(("gene_match", "min_genes", "page"))),
            }
        )
    return out


def clear_url(state: PageState) -> str:
    """This search with no filters at all (the text query kept)."""
    return state.url([(n, v) for n, v in state.pairs if n in ("q", "sort", "per_page")])


def sort_links(request: SearchRequest, state: PageState) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "url": state.setting("sort", None if value == "relevance" else value),
            "current": request.sort == value,
        }
        for value, label in SORT_CHOICES
    ]


def export_links(state: PageState, api_path: str) -> list[dict[str, str]]:
    """Links to every matching figure in each export format, at the API."""
    pairs = state.without((*PAGE_ONLY, "format"))
    return [
        {"label": label, "url": f"{api_path}?{urlencode([*pairs, ('format', fmt)])}"}
        for fmt, label in EXPORT_FORMATS
    ]


def pager(result: dict[str, Any], state: PageState) -> dict[str, Any] | None:
    """Previous/next and a window of page numbers, with gaps, or None for one page."""
    last = min(result["pages"], MAX_PAGE)
    current = result["page"]
    if last <= 1:
        return None
    shown = sorted(
        {1, last, *range(max(1, current - PAGER_WINDOW), min(last, current + PAGER_WINDOW) + 1)}
    )
    items: list[dict[str, Any]] = []
    previous = 0
    for number in shown:
        if number - previous > 1:
            items.append({"gap": True})
        items.append(
            {"number": number, "url": _page_url(state, number), "current": number == current}
        )
        previous = number
    return {
        "items": items,
        "previous": _page_url(state, current - 1) if current > 1 else None,
        "next": _page_url(state, current + 1) if current < last else None,
    }


def _page_url(state: PageState, number: int) -> str:
    return state.setting("page", None if number == 1 else str(number))


def cards(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result cards: a hit's fields, its genes (asked-for ones first) and links."""
    asked = {s.casefold() for g in understood(result).get("genes", []) for s in g["symbols"]}
    asked |= {g["symbol"].casefold() for g in result.get("genes", ()) if "figures" in g}
    return [card(hit, asked) for hit in result["hits"]]


def understood(result: dict[str, Any]) -> dict[str, Any]:
    """How the service read the search (a gene page keeps it under ``search_query``)."""
    query = result.get("query")
    return query if isinstance(query, dict) else result.get("search_query") or {}


def card(hit: dict[str, Any], asked: Collection[str] = ()) -> dict[str, Any]:
    """A result card; ``asked`` are the case-folded symbols searched for, shown first."""
    # sorted() is stable: the figure's own order otherwise
    genes = sorted(hit["genes"], key=lambda g: g["symbol"].casefold() not in asked)
    return {
        "figid": hit["figid"],
        "title": hit["title"] or hit["figid"],
        "paper_title": hit["paper_title"],
        "reference": hit["reference"],
        "year": hit["year"],
        "journal": hit["journal"],
        "organisms": [o.get("label") or o["name"] for o in hit["organisms"]],
        "snippet": Markup(hit.get("snippet") or ""),  # escaped by the service, <mark> added
        "genes": [gene_chip(g, asked) for g in genes[:CARD_GENES]],
        "more_genes": max(0, len(genes) - CARD_GENES),
        "links": hit["links"],
        "europepmc": EUROPE_PMC_ARTICLE.format(hit["pmcid"]) if hit.get("pmcid") else None,
        "missing": hit.get("missing") or [],
    }


def gene_chip(gene: dict[str, Any], asked: Iterable[str] = ()) -> dict[str, Any]:
    """A gene as a link to its page, with the word printed in the figure if different."""
    return {
        "symbol": gene["symbol"],
        "printed": gene.get("alias"),
        "url": gene_page(gene["symbol"]),
        "asked": gene["symbol"].casefold() in asked,
    }


def figures(count: int) -> str:
    """``"1 figure"``, ``"12,345 figures"``."""
    return f"{count:,} figure" + ("" if count == 1 else "s")


def gene_page(symbol: str) -> str:
    return "/genes/" + quote(symbol, safe="")


def drop_filter_hints(
    service: Any, request: SearchRequest, state: PageState
) -> list[dict[str, Any]]:
    """For a search with no results: how many figures dropping each filter would give."""
    hints = []
    for name in request.filters:
        others = {k: v for k, v in request.filters.items() if k != name}
        total = service.count(
            replace(
                request, filters=others, min_genes=None if name == "gene" else request.min_genes
            )
        )
        hints.append(
            {"label": _in_sentence(FACET_TITLES[name]), "total": total, "url": state.dropping(name)}
        )
    if request.year_min is not None or request.year_max is not None:
        total = service.count(replace(request, year_min=None, year_max=None))
        url = state.url(state.without(("year_min", "year_max", "page")))
        hints.append({"label": "year range", "total": total, "url": url})
    return [h for h in hints if h["total"]]


def _in_sentence(title: str) -> str:
    """A title inside a sentence: "Genes" -> "genes", but "NDEx network" stays."""
    return title if title[1:2].isupper() else title[:1].lower() + title[1:]


def did_you_mean(result: dict[str, Any], state: PageState) -> list[dict[str, Any]]:
    return [
        {"q": item["q"], "total": item["total"], "url": state.setting("q", item["q"])}
        for item in result.get("did_you_mean") or ()
    ]


# -- figure page ---------------------------------------------------------------------------


def gene_rows(figure: dict[str, Any], highlight: Iterable[str]) -> list[dict[str, Any]]:
    """The genes table of a figure page: printed words, matched names, symbol, Entrez."""
    wanted = {h.casefold() for h in highlight}
    rows = []
    for gene in figure["record"].get("genes") or ():
        names = {gene["symbol"], gene.get("entrez") or "", *gene.get("aliases", ())}
        rows.append(
            {
                "printed": gene.get("printed") or [],
                "matched": gene.get("aliases") or [],
                "symbol": gene["symbol"],
                "entrez": gene.get("entrez"),
                "ncbi": f"https://www.ncbi.nlm.nih.gov/gene/{gene['entrez']}"
                if gene.get("entrez")
                else None,
                "hgnc": HGNC_URL.format(quote(gene["symbol"], safe="")),
                "page": gene_page(gene["symbol"]),
                "highlighted": bool(wanted & {n.casefold() for n in names if n}),
            }
        )
    return rows


def terms(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chemicals or diseases with their MeSH links."""
    return [
        {
            "name": t["name"],
            "mesh_id": t.get("mesh_id"),
            "url": MESH_URL.format(t["mesh_id"]) if t.get("mesh_id") else None,
        }
        for t in items
    ]


def figure_links(figure: dict[str, Any]) -> list[dict[str, str]]:
    """Where else the figure and its article live."""
    links = figure["links"]
    candidates = [
        ("PubMed Central article", links.get("article")),
        (
            "Europe PMC article",
            EUROPE_PMC_ARTICLE.format(figure["pmcid"]) if figure.get("pmcid") else None,
        ),
        ("Figure at PubMed Central", links.get("pmc_figure")),
        ("DOI " + figure["doi"] if figure.get("doi") else "DOI", links.get("doi")),
        ("Figure on the PFOCR site", links.get("pfocr")),
        ("Network at NDEx", links.get("ndex")),
    ]
    return [{"label": label, "url": url} for label, url in candidates if url]


def json_ld(figure: dict[str, Any], page_url: str) -> Markup:
    """schema.org JSON-LD for a figure page, safe inside ``<script>``: every ``<``, ``>``
    and ``&`` is written as a JSON escape, so no record text can close the script or
    open a comment."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ImageObject",
        "@id": page_url,
        "url": page_url,
        "name": figure.get("title") or figure["figid"],
        "caption": figure.get("caption") or "",
        "contentUrl": figure["links"].get("image"),
        "keywords": [g["symbol"] for g in figure["genes"]],
        "about": [
            {
                "@type": "Gene",
                "name": g["symbol"],
                **({"identifier": f"ncbigene:{g['entrez']}"} if g.get("entrez") else {}),
            }
            for g in figure["genes"]
        ],
        "identifier": [n for n in (figure["figid"], figure.get("figid_alias")) if n],
        # The same figure elsewhere: the PFOCR site's page, and its network at NDEx.
        "sameAs": [u for u in (figure["links"].get("pfocr"), figure["links"].get("ndex")) if u],
        "license": "https://creativecommons.org/publicdomain/zero/1.0/",
        "isPartOf": {
            "@type": "ScholarlyArticle",
            "name": figure.get("paper_title"),
            "datePublished": str(figure["year"]) if figure.get("year") else None,
            "sameAs": figure["links"].get("doi"),
        },
    }
    text = json.dumps(data, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def genes_tsv(figure: dict[str, Any]) -> str:
    """The figure's genes, one a line: printed words, symbol, Entrez ID."""
    lines = ["printed\tsymbol\tentrez"]
    for gene in figure["record"].get("genes") or ():
        printed = "|".join(gene.get("printed") or ())
        lines.append(
            "\t".join(_tsv(x) for x in (printed, gene["symbol"], gene.get("entrez") or ""))
        )
    return "\n".join(lines) + "\n"


def _tsv(value: str) -> str:
    return " ".join(str(value).split())  # no tab or line break may survive inside a field


# -- gene page -----------------------------------------------------------------------------


def printed_names(result: dict[str, Any]) -> list[str]:
    """The names a gene page's gene is printed as in the figures shown, other than its
    symbol, most frequent first."""
    symbols = {g["symbol"] for g in result["genes"]}
    counts: dict[str, int] = {}
    for hit in result["hits"]:
        for gene in hit["genes"]:
            if gene["symbol"] in symbols:
                for alias in gene["aliases"]:
                    if alias.casefold() != gene["symbol"].casefold():
                        counts[alias] = counts.get(alias, 0) + 1
    return sorted(counts, key=lambda a: (-counts[a], a.casefold()))


def year_chart(by_year: list[dict[str, int]]) -> dict[str, Any] | None:
    """Figures per year as SVG bar geometry, every year from the first to the last."""
    if not by_year:
        return None
    counts = {item["year"]: item["count"] for item in by_year}
    years = list(range(min(counts), max(counts) + 1))
    width, height, left, bottom, top = 640, 160, 28, 20, 14
    step = (width - left) / len(years)
    peak = max(counts.values())
    bars = []
    for i, year in enumerate(years):
        count = counts.get(year, 0)
        bar = (height - bottom - top) * count / peak
        bars.append(
            {
                "year": year,
                "count": count,
                "x": round(left + i * step + 1, 2),
                "width": round(max(step - 2, 1), 2),
                "y": round(height - bottom - bar, 1),
                "height": round(bar, 1),
                "label_x": round(left + i * step + step / 2, 1),
                "show_label": len(years) <= 12 or i % max(1, len(years) // 8) == 0,
            }
        )
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "peak": peak,
        "axis_y": height - bottom,
        "left": left,
        "top": top,
        "summary": ", ".join(f"{y}: {c}" for y, c in sorted(counts.items())),
    }


def relaxed_view(result: dict[str, Any], state: PageState) -> dict[str, Any] | None:
    """What the page says when too few figures held every word: which words, how many
    held them all, and a link that requires every word (``match=all``)."""
    relaxed = understood(result).get("relaxed")
    if not relaxed:
        return None
    return {
        "words": relaxed["words"],
        "together": relaxed["together"],
        "at_least": relaxed["at_least"],
        "most_lacked": relaxed["dropped"][0]["word"] if relaxed["dropped"] else None,
        "require_all_url": state.setting("match", "all"),
    }


def words_list(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c" (each quoted)."""
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def results_context(
    result: dict[str, Any], request: SearchRequest, state: PageState, api_path: str
) -> dict[str, Any]:
    """Everything the results region (``_results.html``) shows for one search."""
    facets = facet_views(result, request, state)
    years = year_view(result, request, state)
    if result["total"] == 0:  # nothing to refine: keep only what can still be undone
        facets = [f for f in facets if f["values"]]
        years = years if years and (years["bars"] or years["clear_url"]) else None
    return {
        "result": result,
        "search_request": request,
        "understood": understood(result),
        "state": state,
        "cards": cards(result),
        "facets": facets,
        "years": years,
        "extra_facets": extra_facet_links(request, state) if result["total"] else [],
        "organism_offers": organism_offers(result, state),
        "lookup_notes": lookup_notes(result),
        "chips": chips(result, request, state),
        "clear_url": clear_url(state),
        "sorts": sort_links(request, state),
        "exports": export_links(state, api_path),
        "pager": pager(result, state),
        "did_you_mean": did_you_mean(result, state),
        "relaxed": relaxed_view(result, state),
        "loose_url": state.setting("match", None) if request.match == "all" else None,
    }


# -- enrichment page -----------------------------------------------------------------------

ENRICH_FACETS = ("organism", "disease")  # the library's facets the page offers, with counts
ENRICH_CHART_BARS = 10
ENRICH_FIELDS = (
    "genes",
    "q",
    "year_min",
    "year_max",
    "background",
    "background_size",
    "min_figure_genes",
    "correction",
    "per_page",
)
SIGNIFICANT = 0.05


def enrich_form(args: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """The form's fields as the user gave them, to fill it in again (gene lists one entry
    a line when given as a list)."""
    form = {}
    for name in ENRICH_FIELDS:
        values = [str(v) for v in args.get(name) or ()]
        form[name] = "\n".join(values) if name in ("genes", "background") else ",".join(values)
    form["correction"] = form["correction"] or "library"
    form["min_figure_genes"] = form["min_figure_genes"] or str(models.DEFAULT_MIN_FIGURE_GENES)
    return form


def library_facets(result: dict[str, Any], request: SearchRequest) -> list[dict[str, Any]]:
    """The library's facets as checkboxes: each value with its count and whether it is
    chosen (chosen values are listed even outside the top ones)."""
    views = []
    for name in ENRICH_FACETS:
        facet = result.get("facets", {}).get(name)
        if facet is None:
            continue
        views.append(
            {
                "name": name,
                "title": FACET_TITLES[name],
                "values": [
                    {
                        "value": str(v["value"]),
                        "label": _common_name(v) or v.get("label") or str(v["value"]),
                        "latin": str(v["value"]) if _common_name(v) else None,
                        "count": v["count"],
                        "checked": v["selected"],
                    }
                    for v in facet["values"]
                ],
            }
        )
    return views


def enrichment_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The results table: one row per figure, with the numbers as a reader wants them."""
    return [
        {
            "rank": row["rank"],
            "figid": row["figid"],
            "title": row["title"] or row["figid"],
            "paper_title": row["paper_title"],
            "year": row["year"],
            "organisms": [o.get("label") or o["name"] for o in row["organisms"]],
            "url": row["links"]["highlighted"],
            "image": row["links"]["image"],
            "overlap": f"{row['overlap']}/{row['figure_genes']}",
            "p": p_value_text(row["log10_p_value"]),
            "adjusted": p_value_text(row["log10_adjusted_p_value"]),
            "significant": row["log10_adjusted_p_value"] <= math.log10(SIGNIFICANT),
            "odds_ratio": f"{row['odds_ratio']:.3g}",
            "fold": f"{row['fold_enrichment']:.3g}",
            "genes": row["overlap_genes"],
        }
        for row in result["results"]
    ]


def p_value_text(log10_p: float) -> str:
    """A p-value in three significant digits, at any size ("0.0123", "4.56e-930")."""
    if log10_p > -300:
        return f"{10**log10_p:.3g}"
    exponent = math.floor(log10_p)
    mantissa = 10 ** (log10_p - exponent)
    if round(mantissa, 2) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.3g}e{exponent}"


def enrichment_chart(result: dict[str, Any]) -> dict[str, Any] | None:
    """The best figures of the first page as horizontal bars of -log10(adjusted p), SVG
    geometry drawn by the server; a dashed line marks adjusted p = 0.05."""
    rows = [r for r in result["results"] if r["rank"] <= ENRICH_CHART_BARS]
    if not rows:
        return None
    # Narrow enough to stay legible on a phone, where it is drawn at ~350 px.
    width, left, row_height, top = 460, 4, 40, 8
    span = width - left - 56
    values = [-r["log10_adjusted_p_value"] for r in rows]
    peak = max(max(values), -math.log10(SIGNIFICANT)) or 1.0
    bars = []
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = top + i * row_height
        length = span * value / peak
        bars.append(
            {
                "label": _shorten(f"{row['rank']}. {row['title'] or row['figid']}", 58),
                "url": row["links"]["highlighted"],
                "label_y": y + 12,
                "y": y + 18,
                "width": round(max(length, 1.0), 1),
                "value": f"{value:.3g}",
                "value_x": round(left + max(length, 1.0) + 6, 1),
                "significant": value >= -math.log10(SIGNIFICANT),
            }
        )
    height = top + len(rows) * row_height + 18
    return {
        "width": width,
        "height": height,
        "left": left,
        "bars": bars,
        "threshold_x": round(left + span * -math.log10(SIGNIFICANT) / peak, 1),
        "axis_y": height - 14,
        "summary": "; ".join(f"{b['label']}: {v:.3g}" for b, v in zip(bars, values, strict=True)),
    }


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def enrichment_pages(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Page buttons of the results (the form posts again with another page)."""
    last, current = min(result["pages"], MAX_PAGE), result["page"]
    if last <= 1:
        return []
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    return [{"number": n, "current": n == current} for n in shown]
