"""The gene page: the figures of one typed gene, their years and organisms, and the genes
most often drawn beside it. The service caches the answer; this module computes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from indexer.organisms import describe
from server.search.genes.resolve import resolve_gene
from server.search.hits import gene_dict
from server.search.models import NotFound
from server.search.snapshot import MISSING_YEAR, Snapshot

COOCCURRING = 20

# Runs the page's search over the figures in a mask: (result dict, the run), as
# ``SearchService._search`` does.
Search = Callable[[np.ndarray], tuple[dict[str, Any], Any]]


def gene_page(snap: Snapshot, text: str, search: Search) -> tuple[dict[str, Any], Any]:
    """The gene page of ``text`` (see :meth:`SearchService.gene` for its keys) and the
    search run behind it. Raises ``NotFound`` when ``text`` names no gene."""
    matches = sorted(
        resolve_gene(snap, text), key=lambda m: -snap.lexicon.symbol_figures.get(m.symbol, 0)
    )
    if not matches:
        raise NotFound(
            "gene",
            f"no gene {text!r}: not an HGNC symbol, Entrez ID or printed alias in the index",
        )
    genes = snap.facets["gene"]
    ordinals = [o for m in matches if (o := genes.lookup(m.symbol)) is not None]
    result, run = search(genes.mask(ordinals, snap.n_docs))
    within = run.matched
    counts = run.counts("gene").copy()
    counts[ordinals] = 0
    top, _ = genes.top(counts, COOCCURRING)
    first = matches[0]
    result.update(
        symbol=first.symbol,
        entrez=first.entrez,
        matched_by=first.matched_by,
        ambiguous=len(matches) > 1,
        url=gene_dict(first.symbol, first.entrez)["url"],
        genes=[
            {
                **gene_dict(m.symbol, m.entrez),
                "figures": int(genes.totals[o]) if o is not None else 0,
            }
            for m in matches
            for o in [genes.lookup(m.symbol)]
        ],
        by_year=_year_counts(snap, within),
        by_organism=_organism_counts(snap, run.counts("organism")),
        cooccurring=[{**_gene_link(snap, genes.values[o]), "figures": int(counts[o])} for o in top],
    )
    result["search_query"] = result.pop("query")
    result["query"] = text
    return result, run


def _gene_link(snap: Snapshot, symbol: str) -> dict[str, Any]:
    entrez = snap.lexicon.entrez(symbol)
    return {"symbol": symbol, "entrez": entrez, "url": gene_dict(symbol, entrez)["url"]}


def _year_counts(snap: Snapshot, mask: np.ndarray) -> list[dict[str, int]]:
    years = snap.years[mask]
    counts = np.bincount(years[years != MISSING_YEAR])
    return [{"year": int(y), "count": int(counts[y])} for y in np.flatnonzero(counts)]


def _organism_counts(snap: Snapshot, counts: np.ndarray) -> list[dict[str, Any]]:
    arrays = snap.facets["organism"]
    top, _ = arrays.top(counts, len(arrays.values))
    items = []
    for o in top:
        organism = describe(arrays.values[o])
        items.append(
            {
                "value": arrays.values[o],
                "label": organism.label,
                "count": int(counts[o]),
                "selected": False,
                "taxon_id": organism.taxon_id,
            }
        )
    return items
