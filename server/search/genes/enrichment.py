"""Gene-set enrichment: which figures of a search best explain a gene list.

The library is the figures a search finds (any text, filters and years; none: every
figure), less those with fewer than ``min_figure_genes`` genes. Each figure's genes are a
gene set; the list is tested against each with the one-sided hypergeometric test
(:mod:`server.search.genes.stats`), and the figures are ranked by p-value, then by
overlap (more first), then by figid.

Everything is counted over the snapshot's gene facet arrays, through their public
interface (``doc_ptr``/``doc_vals``, ``values``, ``lookup``): once per index generation
they are turned into :class:`GeneSets` (each gene once per figure, figures by gene); the
overlap of a list with every figure is then one ``bincount`` over its genes' postings,
and the statistics are computed per distinct (overlap, figure size) pair, so no Python
loop runs per figure. Libraries (the figures, their sizes in the background, the
background) are kept per generation for the few most recent requests.

The background (the urn the list is drawn from), ``M`` genes:

- ``library`` (default): the distinct genes of the library's figures (as PFOCRummage);
- ``list``: the genes of a given list; the query and every figure are intersected with
  it (as Enrichr). Its entries that name no gene of the index still count in ``M``, and
  a query entry equal to one of them counts in ``n``: both are genes in no figure;
- ``size``: a number of genes (Enrichr's default is 20,000); every recognised gene of
  the query counts. It must hold the library's genes and the query's together.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import numpy as np

from server.search.genes import stats
from server.search.genes.resolve import GeneList, entry_key, read_gene_list
from server.search.hits import card
from server.search.lru import LRU
from server.search.models import DEFAULT_FACET_SIZE, EnrichRequest, InvalidParameter
from server.search.snapshot import Snapshot

LIBRARY_CACHE_SIZE = 8
# Reading only the postings of the list's genes pays below this share of all postings;
# past it, one pass over every posting is cheaper than gathering thousands of slices.
_GATHER_SHARE = 0.25
_RECORD_BATCH = 200


# -- the gene sets of one index generation -------------------------------------------------


@dataclass(frozen=True)
class GeneSets:
    """The figures' gene sets of one generation, each gene once per figure: the gene
    facet's tables, as the build wrote them (memory-mapped, shared by the workers).

    ``post_docs[post_ptr[g]:post_ptr[g + 1]]`` are the figures of gene ordinal ``g``
    (ascending); ``post_sizes`` is each gene's number of figures; ``sizes`` is
    each figure's number of distinct genes (a figure listing ``Akt1`` and ``AKT1`` holds
    that gene once)."""

    post_ptr: np.ndarray
    post_docs: np.ndarray
    post_sizes: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, snap: Snapshot) -> GeneSets:
        arrays = snap.facets["gene"]
        return cls(
            post_ptr=arrays.val_ptr,
            post_docs=arrays.val_docs,
            post_sizes=arrays.val_sizes,
            sizes=np.diff(arrays.doc_ptr).astype(np.int32),
        )

    def of_genes(self, gene_mask: np.ndarray) -> np.ndarray:
        """The entries of ``post_docs`` whose gene is in ``gene_mask``."""
        return np.repeat(gene_mask, self.post_sizes)

    def overlap(self, genes: np.ndarray, gene_mask: np.ndarray) -> np.ndarray:
        """For every figure, how many of ``genes`` (ordinals; ``gene_mask`` marks the
        same ones) it holds."""
        n_docs = len(self.sizes)
        starts, ends = self.post_ptr[genes], self.post_ptr[genes + 1]
        if int((ends - starts).sum()) < _GATHER_SHARE * len(self.post_docs):
            slices = [
                self.post_docs[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            ]
            carrying = np.concatenate(slices) if slices else self.post_docs[:0]
        else:
            carrying = self.post_docs[self.of_genes(gene_mask)]
        return np.bincount(carrying, minlength=n_docs)


_STATE: weakref.WeakKeyDictionary[Snapshot, _GenerationState] = weakref.WeakKeyDictionary()
_STATE_LOCK = threading.Lock()


class _GenerationState:
    """What enrichment keeps per index generation: its gene sets and recent libraries."""

    def __init__(self, snap: Snapshot) -> None:
        self.gene_sets = GeneSets.of(snap)
        self.libraries = LRU(LIBRARY_CACHE_SIZE)


def _state(snap: Snapshot) -> _GenerationState:
    with _STATE_LOCK:  # built once per generation, by the first request that needs it
        state = _STATE.get(snap)
        if state is None:
            state = _STATE[snap] = _GenerationState(snap)
        return state


# -- the library and its background ----------------------------------------------------------


@dataclass(frozen=True)
class Background:
    """The urn: ``size`` genes. ``genes`` marks the ordinals in it; ``others`` are its
    genes in no figure of the index (case-folded), for a background list."""

    kind: str  # "library", "list" or "size"
    size: int
    genes: np.ndarray
    others: frozenset[str] = frozenset()
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class Library:
    """The figures tested (``figures``, a mask), and each one's genes in the background
    (``figure_genes``, K)."""

    figures: np.ndarray
    size: int
    matched: int  # figures the search found
    too_small: int  # of those, left out for having fewer than min_figure_genes genes
    figure_genes: np.ndarray
    background: Background
    genes_present: np.ndarray  # the genes (a bool per ordinal) of the library's figures


def library(snap: Snapshot, matched: np.ndarray, req: EnrichRequest) -> Library:
    """The library of ``req`` over the figures its search ``matched`` (cached)."""
    state = _state(snap)
    figures = replace(req.library, facets=(), facet_size=DEFAULT_FACET_SIZE)  # not counted here
    key = (figures, req.min_figure_genes, req.background, req.background_size)
    cached = state.libraries.get(key)
    if cached is None:
        cached = _library(snap, state.gene_sets, matched, req)
        state.libraries.put(key, cached)
    return cached


def _library(snap: Snapshot, sets: GeneSets, matched: np.ndarray, req: EnrichRequest) -> Library:
    figures = matched & (sets.sizes >= req.min_figure_genes)
    size = int(np.count_nonzero(figures))
    in_library = snap.facets["gene"].count(figures, size) > 0  # genes of any library figure
    if req.background is not None:
        background = _listed_background(snap, req.background)
        kept = sets.of_genes(background.genes)
        figure_genes = np.bincount(sets.post_docs[kept], minlength=snap.n_docs)
    elif req.background_size is not None:
        everything = np.ones(len(in_library), dtype=bool)
        background = Background("size", int(req.background_size), everything)
        figure_genes = sets.sizes
    else:
        background = Background("library", int(np.count_nonzero(in_library)), in_library)
        figure_genes = sets.sizes
    matched_count = int(np.count_nonzero(matched))
    return Library(
        figures=figures,
        size=size,
        matched=matched_count,
        too_small=matched_count - size,
        figure_genes=figure_genes.astype(np.int64),
        background=background,
        genes_present=in_library,
    )


def _listed_background(snap: Snapshot, entries: tuple[str, ...]) -> Background:
    listed = read_gene_list(snap, entries)
    genes = np.zeros(len(snap.facets["gene"].values), dtype=bool)
    others = set(listed.unrecognised_keys)
    for folded, gene in listed.genes.items():
        if gene.ordinal is None:
            others.add(folded)
        else:
            genes[gene.ordinal] = True
    report = {
        "entries": listed.entries,
        "genes": len(listed.genes),
        "unrecognised": len(listed.unrecognised_keys),
        "duplicates": len(listed.duplicates),
    }
    size = int(np.count_nonzero(genes)) + len(others)
    return Background("list", size, genes, frozenset(others), report)


# -- the query in the background -------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """The list's genes in the background: their ordinals (``ordinals``, ``mask``) and
    how many more count without being in any figure (``others``)."""

    ordinals: np.ndarray
    mask: np.ndarray
    others: int
    outside: list[dict[str, Any]]
    counted_unrecognised: list[str]

    @property
    def size(self) -> int:
        return len(self.ordinals) + self.others


def place_query(listed: GeneList, lib: Library, n_genes: int) -> Query:
    """Which genes of ``listed`` are in the background of ``lib``; the rest are reported
    as outside it."""
    background = lib.background
    genes = list(listed.genes.items())
    ordinals = np.fromiter(
        (-1 if g.ordinal is None else g.ordinal for _, g in genes), dtype=np.int64, count=len(genes)
    )
    inside = (ordinals >= 0) & background.genes[np.maximum(ordinals, 0)]
    others, outside = 0, []
    for i in np.flatnonzero(~inside).tolist():  # usually few: genes in no figure
        folded, gene = genes[i]
        if background.kind == "size" or folded in background.others:
            others += 1  # a gene in the urn that no figure of the library holds
        else:
            outside.append({"symbol": gene.symbol, "entrez": gene.entrez})
    counted = []
    if background.kind == "list":
        counted = [e for e in listed.unrecognised if entry_key(e) in background.others]
        others += len({entry_key(e) for e in counted})
    mask = np.zeros(n_genes, dtype=bool)
    mask[ordinals[inside]] = True
    return Query(ordinals[inside], mask, others, outside, counted)


def check_background_size(lib: Library, query: Query) -> None:
    """A background size must hold every gene the test can see: the library's and the
    query's together (else the 2x2 table has a negative cell)."""
    background = lib.background
    if background.kind != "size":
        return
    outside_library = query.others + int(np.count_nonzero(~lib.genes_present[query.ordinals]))
    needed = int(np.count_nonzero(lib.genes_present)) + outside_library
    if background.size < needed:
        raise InvalidParameter(
            "background_size",
            f"background_size ({background.size:,}) is smaller than the {needed:,} genes of "
            "the library's figures and the list together; give at least that many",
        )


# -- scores -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """The figures sharing a gene with the list, with their statistics.

    Rows are figures (``docs``, unordered); p-values and adjusted p-values are held per
    distinct (overlap, size) pair, ranked: ``group`` is each row's pair's rank, and
    ``group_counts[r]`` the number of rows of the r-th ranked pair."""

    docs: np.ndarray
    overlap: np.ndarray
    figure_genes: np.ndarray
    group: np.ndarray
    group_counts: np.ndarray
    group_log_p: np.ndarray
    group_log_adjusted: np.ndarray
    query_size: int
    background_size: int
    hypotheses: int

    @property
    def total(self) -> int:
        return len(self.docs)

    def ranked(self, figid_rank: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Row indexes of ranks ``start`` to ``stop`` (all by default), best first: by
        p-value, then overlap (more first), then figid."""
        stop = self.total if stop is None else min(stop, self.total)
        if start >= stop:
            return np.zeros(0, dtype=np.int64)
        ends = np.cumsum(self.group_counts)
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, stop - 1, side="right"))
        rows = np.flatnonzero((self.group >= first) & (self.group <= last))
        rows = rows[np.lexsort((figid_rank[self.docs[rows]], self.group[rows]))]
        skipped = int(ends[first - 1]) if first else 0
        return rows[start - skipped : stop - skipped]

    def columns(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The statistics of ``rows``: overlap, figure_genes, log_p, log_adjusted,
        odds_ratio, fold_enrichment, combined_score."""
        a, K = self.overlap[rows], self.figure_genes[rows]
        n, M = self.query_size, self.background_size
        log_p = self.group_log_p[self.group[rows]]
        odds = stats.odds_ratio(a, K, n, M)
        return {
            "overlap": a,
            "figure_genes": K,
            "log_p": log_p,
            "log_adjusted": self.group_log_adjusted[self.group[rows]],
            "odds_ratio": odds,
            "fold_enrichment": stats.fold_enrichment(a, K, n, M),
            "combined_score": stats.combined_score(log_p, odds),
        }


def score(sets: GeneSets, lib: Library, query: Query, correction: str) -> Scores:
    """Test the list against every figure of the library that shares a gene with it."""
    n, M = query.size, lib.background.size
    if len(query.ordinals):
        per_doc = sets.overlap(query.ordinals, query.mask)
        docs = np.flatnonzero((per_doc > 0) & lib.figures)
    else:
        per_doc, docs = None, np.zeros(0, dtype=np.int64)
    if not len(docs):
        whole, real = np.zeros(0, dtype=np.int64), np.zeros(0)
        hypotheses = lib.size if correction == "library" else 0
        return Scores(docs, whole, whole, whole, whole, real, real, n, M, hypotheses)
    a = per_doc[docs].astype(np.int64)
    K = lib.figure_genes[docs]
    width = int(K.max()) + 1
    pairs, inverse = stats.distinct(a * width + K)
    pair_a, pair_k = pairs // width, pairs % width
    pair_log_p = stats.log_p_values(pair_a, pair_k, n, M)
    order = np.lexsort((-pair_a, pair_log_p))  # by p, then overlap (more first)
    rank = np.empty(len(pairs), dtype=np.int64)
    rank[order] = np.arange(len(pairs))
    counts = np.bincount(inverse, minlength=len(pairs))[order]
    hypotheses = lib.size if correction == "library" else len(docs)
    log_p = pair_log_p[order]
    return Scores(
        docs=docs,
        overlap=a,
        figure_genes=K,
        group=rank[inverse],
        group_counts=counts,
        group_log_p=log_p,
        group_log_adjusted=stats.log_adjusted(log_p, counts, hypotheses),
        query_size=n,
        background_size=M,
        hypotheses=hypotheses,
    )


# -- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrichment:
    """One enrichment computed: its library, the list as read and placed, the scores."""

    snap: Snapshot
    library: Library
    listed: GeneList
    query: Query
    scores: Scores
    correction: str
    min_figure_genes: int

    def rows(self, start: int, stop: int | None, image_url: str) -> list[dict[str, Any]]:
        """The result rows of ranks ``start`` to ``stop``, with the figures' card fields."""
        rows = self.scores.ranked(self.snap.figid_rank, start, stop)
        return list(self._rows(rows, start, image_url))

    def iter_rows(self, limit: int, image_url: str) -> Iterator[dict[str, Any]]:
        """Every result row in rank order, at most ``limit``, records read in batches;
        each row also holds ``genes``, the figure's genes in the background."""
        rows = self.scores.ranked(self.snap.figid_rank, 0, limit)
        for i in range(0, len(rows), _RECORD_BATCH):
            yield from self._rows(rows[i : i + _RECORD_BATCH], i, image_url, with_genes=True)

    def _rows(
        self, rows: np.ndarray, first_rank: int, image_url: str, *, with_genes: bool = False
    ) -> Iterator[dict[str, Any]]:
        docs = self.scores.docs[rows]
        columns = self.scores.columns(rows)
        records = self.snap.records(docs.tolist())
        genes = self.snap.facets["gene"]
        in_background = self.library.background.genes
        for i, (doc, record) in enumerate(zip(docs.tolist(), records, strict=True)):
            own = genes.doc_vals[genes.doc_ptr[doc] : genes.doc_ptr[doc + 1]]
            shared = sorted({genes.values[o] for o in own[self.query.mask[own]].tolist()})
            row = card(record, image_url)
            row["links"]["highlighted"] = (
                f"{row['links']['page']}?genes={quote(','.join(shared), safe=',')}"
            )
            log_p = float(columns["log_p"][i])
            log_adjusted = float(columns["log_adjusted"][i])
            row.update(
                rank=first_rank + i + 1,
                overlap=int(columns["overlap"][i]),
                figure_genes=int(columns["figure_genes"][i]),
                overlap_genes=shared,
                p_value=math.exp(log_p),
                log10_p_value=log_p / stats.LOG10,
                adjusted_p_value=math.exp(log_adjusted),
                log10_adjusted_p_value=log_adjusted / stats.LOG10,
                odds_ratio=float(columns["odds_ratio"][i]),
                fold_enrichment=float(columns["fold_enrichment"][i]),
                combined_score=float(columns["combined_score"][i]),
            )
            if with_genes:
                kept = own[in_background[own]].tolist()
                row["genes"] = [genes.values[o] for o in dict.fromkeys(kept)]
            yield row

    def summary(self) -> dict[str, Any]:
        """The top level of the answer, without pages of results."""
        lib, scores = self.library, self.scores
        query = self.listed.report()
        query["outside_background"] = self.query.outside
        if self.query.counted_unrecognised:
            query["unrecognised_in_background"] = self.query.counted_unrecognised
        return {
            "library_size": lib.size,
            "background_size": lib.background.size,
            "query_size": scores.query_size,
            "total": scores.total,
            "correction": self.correction,
            "hypotheses": scores.hypotheses,
            "background": lib.background.kind,
            "min_figure_genes": self.min_figure_genes,
            "library": {
                "matched": lib.matched,
                "too_small": lib.too_small,
                "figures": lib.size,
                "background_list": lib.background.report,
            },
            "notes": self.notes(),
            "query": query,
        }

    def notes(self) -> list[str]:
        lib, notes = self.library, []
        if lib.too_small:
            notes.append(
                f"{_figures(lib.too_small)} of the search have fewer than "
                f"{self.min_figure_genes} genes and are left out of the library"
            )
        if not lib.size:
            notes.append("the library is empty: no figure to test the list against")
        if not self.scores.query_size:
            notes.append("no gene of the list is in the background: nothing to test")
        if self.query.outside:
            notes.append(
                f"{_count(len(self.query.outside), 'gene')} of the list "
                f"{'is' if len(self.query.outside) == 1 else 'are'} outside the background "
                "and left out"
            )
        if self.listed.ambiguous:
            notes.append(
                f"{_count(len(self.listed.ambiguous), 'name')} of the list "
                f"name{'s' if len(self.listed.ambiguous) == 1 else ''} several genes: each "
                "stands for all of them, as PFOCR reads such a name in figures"
            )
        return notes


def enrich(snap: Snapshot, matched: np.ndarray, req: EnrichRequest) -> Enrichment:
    """Test ``req``'s gene list against the library its search ``matched``."""
    lib = library(snap, matched, req)
    listed = read_gene_list(snap, req.genes)
    query = place_query(listed, lib, len(snap.facets["gene"].values))
    check_background_size(lib, query)
    scores = score(_state(snap).gene_sets, lib, query, req.correction)
    return Enrichment(snap, lib, listed, query, scores, req.correction, int(req.min_figure_genes))


EXAMPLE_GENES = (12, 40)  # an example list: the genes of a real figure of this many


def example(snap: Snapshot) -> dict[str, Any] | None:
    """An example list, the genes of a real figure: ``{"figid", "title", "genes"}``."""
    doc = example_figure(snap)
    if doc is None:
        return None
    record = snap.records([doc])[0]
    genes = list(dict.fromkeys(symbol for symbol, *_ in record["genes"]))
    return {"figid": record["figid"], "title": record.get("figtitle"), "genes": genes}


def example_figure(snap: Snapshot) -> int | None:
    """A figure whose genes make a good example list: the one with the most genes within
    ``EXAMPLE_GENES`` (ties: first by figid), so the example is a rich pathway figure."""
    sizes = _state(snap).gene_sets.sizes
    low, high = EXAMPLE_GENES
    fits = np.flatnonzero(snap.live & (sizes >= low) & (sizes <= high))
    if not len(fits):
        fits = np.flatnonzero(snap.live & (sizes > 0))
    if not len(fits):
        return None
    return int(fits[np.lexsort((snap.figid_rank[fits], -sizes[fits]))[0]])


def _figures(count: int) -> str:
    return _count(count, "figure")


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
