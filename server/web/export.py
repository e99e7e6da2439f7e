"""Streaming exports of every figure a search matches: JSON, CSV, TSV and GMT.

An export is capped at ``PFOCR_EXPORT_MAX`` figures (``EXPORT_MAX`` by default). The cap
is checked against the total before the first byte is sent, so a query past it gets a
clear error instead of a silently truncated file.

- ``json``: one array of the same hit objects ``/api/search`` returns.
- ``csv`` / ``tsv``: one row per figure, with the columns of ``COLUMNS``; several values in
  one cell (genes, organisms...) are joined with ``|``; cells are quoted when needed.
- ``gmt``: one gene set per figure with at least one gene:
  ``figid<TAB>description<TAB>symbol<TAB>symbol...`` (GSEA's gene matrix format). The set
  is named by the figid; the description is the PFOCR alias, the name Enrichr's and
  PFOCRummage's PFOCR gene sets use, then the title (``PMC7513516__F1 Domain
  structure...``). Our search and figure URLs take either name, so a set leads back to
  its figure from either kind of tool.

CSV, TSV and GMT files get opened in spreadsheets, which run a cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return as a formula (a record titled
``=HYPERLINK(...)`` could leak data). Such a cell gets a leading single quote, as OWASP
advises, checked on the cell's final text. GMT too: HGNC symbols start with a letter or a
digit, so real gene symbols stay exact for enrichment tools.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from server.search.genes import stats
from server.web.errors import ApiError

EXPORT_MAX = 10_000
MULTI_SEPARATOR = "|"
# First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection");
# the full-width forms because some spreadsheets read those as formulas too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

# Column name -> how to read it from a hit (see ``SearchService.search``).
COLUMNS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "figid": lambda hit: hit.get("figid"),
    "figid_alias": lambda hit: hit.get("figid_alias"),
    "title": lambda hit: hit.get("title"),
    "paper_title": lambda hit: hit.get("paper_title"),
    "reference": lambda hit: hit.get("reference"),
    "year": lambda hit: hit.get("year"),
    "journal": lambda hit: hit.get("journal"),
    "pmcid": lambda hit: hit.get("pmcid"),
    "doi": lambda hit: hit.get("doi"),
    "organisms": lambda hit: _join(_name(o) for o in hit.get("organisms") or ()),
    "genes": lambda hit: _join(g.get("symbol") for g in hit.get("genes") or ()),
    # Aligned with "genes": a gene without an Entrez ID leaves an empty slot.
    "entrez": lambda hit: _join(g.get("entrez") or "" for g in hit.get("genes") or ()),
    "diseases": lambda hit: _join(_name(t) for t in hit.get("diseases") or ()),
    "chemicals": lambda hit: _join(_name(t) for t in hit.get("chemicals") or ()),
    "article_url": lambda hit: _link(hit, "article"),
    "figure_url": lambda hit: _link(hit, "pmc_figure"),
    "image_url": lambda hit: _link(hit, "image"),
    "ndex_url": lambda hit: _link(hit, "ndex"),
}

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "gmt": "text/tab-separated-values; charset=utf-8",
}


def check_size(total: int, cap: int) -> None:
    """Refuse an export past the cap before anything is streamed."""
    if total > cap:
        raise ApiError(
            400,
            "export_too_large",
            f"this search matches {total:,} figures; an export is limited to {cap:,}: "
            "narrow it with filters or a year range, or page through /api/search "
            "with page and per_page",
            parameter="format",
        )


def holds_snippets(fmt: str) -> bool:
    """Whether an export in ``fmt`` writes the hits' snippets (JSON's whole hits do; the
    columns of CSV and TSV and GMT's gene sets do not)."""
    return fmt == "json"


def render(fmt: str, hits: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The chunks of an export of ``hits`` in format ``fmt``."""
    renderers = {"json": json_chunks, "csv": csv_chunks, "tsv": tsv_chunks, "gmt": gmt_chunks}
    return renderers[fmt](hits)


# Enrichment exports: Enrichr's column names, so its users' scripts read ours; the term is
# the figid, and the overlap is "a/K" as in Enrichr.
ENRICHMENT_COLUMNS = (
    "Term",
    "Title",
    "Overlap",
    "P-value",
    "Adjusted P-value",
    "Odds Ratio",
    "Fold Enrichment",
    "Combined Score",
    "Genes",
)


def render_enrichment(fmt: str, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The chunks of an enrichment export (``tsv`` or ``gmt``) of ranked ``rows``."""
    return {"tsv": enrichment_tsv_chunks, "gmt": enrichment_gmt_chunks}[fmt](rows)


def enrichment_filename(fmt: str) -> str:
    return f"pfocr-enrichment.{fmt}"


def enrichment_tsv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One line per figure sharing a gene with the list, best first. p-values keep every
    digit a double holds; smaller ones are written from their logarithm ("1.2e-930")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect=csv.excel_tab)
    writer.writerow(ENRICHMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                spreadsheet_safe(_cell(row["figid"])),
                spreadsheet_safe(_gmt_field(row["title"] or "")),
                f"{row['overlap']}/{row['figure_genes']}",
                p_text(row["p_value"], row["log10_p_value"]),
                p_text(row["adjusted_p_value"], row["log10_adjusted_p_value"]),
                repr(row["odds_ratio"]),
                repr(row["fold_enrichment"]),
                repr(row["combined_score"]),
                ";".join(spreadsheet_safe(g) for g in row["overlap_genes"]),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if rest := buffer.getvalue():  # the header alone, when nothing overlaps
        yield rest


def enrichment_gmt_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The gene sets of the ranked figures (each one's genes in the background), best
    first, as GMT: figid, title, symbols."""
    for row in rows:
        fields = [row["figid"], row["title"] or "", *row["genes"]]
        yield "\t".join(spreadsheet_safe(_gmt_field(f)) for f in fields) + "\n"


def p_text(p_value: float, log10_p_value: float) -> str:
    """A p-value as text: the double's shortest exact form, or, below what a double holds
    well, ten digits from its logarithm."""
    if p_value >= 1e-300:
        return repr(p_value)
    return stats.p_text(log10_p_value * stats.LOG10, digits=10)


def filename(fmt: str) -> str:
    return f"pfocr-figures.{fmt}"


def json_chunks(hits: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for index, hit in enumerate(hits):
        yield ("," if index else "") + json.dumps(hit, ensure_ascii=False)
    yield "]\n"


def csv_chunks(hits: Iterable[dict[str, Any]]) -> Iterator[str]:
    return _delimited(hits, csv.excel)


def tsv_chunks(hits: Iterable[dict[str, Any]]) -> Iterator[str]:
    return _delimited(hits, csv.excel_tab)


def gmt_chunks(hits: Iterable[dict[str, Any]]) -> Iterator[str]:
    for hit in hits:
        symbols = [g["symbol"] for g in hit.get("genes") or () if g.get("symbol")]
        if symbols:  # an empty gene set is useless to enrichment tools, and some reject it
            fields = [hit.get("figid") or "", gmt_description(hit), *symbols]
            yield "\t".join(spreadsheet_safe(_gmt_field(f)) for f in fields) + "\n"


def gmt_description(hit: dict[str, Any]) -> str:
    """A gene set's description: the figure's PFOCR alias, then its title."""
    return " ".join(text for text in (hit.get("figid_alias"), hit.get("title")) if text)


def _delimited(hits: Iterable[dict[str, Any]], dialect: type[csv.Dialect]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect=dialect)
    writer.writerow(COLUMNS)
    for hit in hits:
        writer.writerow([spreadsheet_safe(_cell(read(hit))) for read in COLUMNS.values()])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if rest := buffer.getvalue():  # the header alone, when nothing matched
        yield rest


def spreadsheet_safe(cell: str) -> str:
    """``cell``, with a leading single quote if a spreadsheet would run it as a formula."""
    # Leading spaces too: a spreadsheet may trim them on import.
    return f"'{cell}" if cell.lstrip(" ").startswith(FORMULA_STARTS) else cell


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _join(values: Iterable[Any]) -> str:
    return MULTI_SEPARATOR.join("" if v is None else str(v) for v in values)


def _link(hit: dict[str, Any], name: str) -> str | None:
    return (hit.get("links") or {}).get(name)


def _name(term: Any) -> Any:
    return term.get("name") if isinstance(term, dict) else term


def _gmt_field(value: str) -> str:
    # GMT has no quoting: a tab or line break inside a field would break the line.
    return " ".join(str(value).split())
