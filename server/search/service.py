"""The search service: queries, filters, facets, gene lookup and autocomplete, no HTTP.

One :class:`SearchService` serves one ``index_data/`` folder, routing each call over the
:class:`server.search.snapshot.Snapshot` it gets from
:class:`server.search.generations.Generations` (which loads, holds, swaps and pins the
generations, and says when the service is degraded). Calls inside
:meth:`SearchService.consistent` all read one generation. Results are cached, keyed by
index version and the normalised request, so a repeated query costs a dictionary
lookup. Costly queries take turns through a :mod:`server.search.gate`.

Every bad parameter raises :class:`server.search.models.InvalidParameter`; an unknown
figure or gene raises :class:`server.search.models.NotFound`; with nothing to serve, calls
raise an ``indexer.index.store.IndexError_`` (``NoIndex``, ``IncompatibleIndex`` or
:class:`server.search.generations.IndexUnavailable`). Returned dicts are shared with the
cache: add keys to the top level if you must, never mutate nested values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from indexer import analysis
from indexer.language import american_spelling
from indexer.nomenclature import GeneNomenclature
from indexer.organisms import describe
from indexer.record import PMC_IMAGE_URL
from server.search import lookups, models
from server.search import query as q
from server.search.budget import Budget
from server.search.filters import facet_ordinals, year_mask
from server.search.gate import CostlyGate, ThreadGate
from server.search.generations import Generations, IndexUnavailable
from server.search.genes import enrichment
from server.search.genes.page import gene_page
from server.search.genes.resolve import read_gene_list, resolve_gene
from server.search.hits import figure_dict, hit, snippet
from server.search.lru import LRU
from server.search.matching import Evaluator, Explained
from server.search.models import (
    MAX_ENRICH_GENES,
    Busy,
    EnrichRequest,
    InvalidParameter,
    NotFound,
    SearchRequest,
    normalize,
    normalize_enrichment,
    whole_number,
)
from server.search.ranks import smallest_with_ties
from server.search.scoring import Match
from server.search.snapshot import MISSING_YEAR, Snapshot
from server.search.suggest import complete, corrections, has_unknown_words

log = logging.getLogger(__name__)
__all__ = ["IndexUnavailable", "SearchService"]

# Cached answers are bounded by the figures they list (their memory is mostly hits:
# a page of 20 is about 60 KB of Python objects): 32 pages of 20, or 6 of 100. Each
# worker keeps its own, and long-lived answers scattered among a request's short-lived
# objects keep the allocator's arenas from being returned: 512 answers held 49 MB. Under
# bench_load's mix, 128 pages of 20 answered 12% of lookups and cost a worker 11 MB more
# than 32 pages, which answer 10% (the queries asked again are the recent ones).
RESULT_CACHE_FIGURES = 32 * 21
# Matches hold arrays over every document once read (a mask and scores: 0.5 MB at 100k
# figures). The cache has room for this many: 3 MB at 100k figures, 30 MB at a million
# (so that a match of a larger index still fits). It serves a user turning pages or
# facets of the query just asked. Under bench_load's mix, the 8 MB this cache was allowed
# before answered 42% of lookups, 3 MB 36-37%, for 5 MB less in each worker (alternated,
# w2: USS 62-63 MB against 67-68).
MATCH_CACHE_DENSE = 6
_DENSE_UNITS = 1000  # what a match over every document weighs
# The word memos (stems, Greek folding, gene name keys, a typed word's gene names:
# ``indexer.analysis.word_memo``) are sized for a build: a server forgets them, after a
# request, once they hold this many words (about 12 MB; the web app's teardown calls
# bound_word_memos, so gene lists count too). A never-seen query adds about a dozen (its
# words' stems, and their prefixes' for the cuts of a word written apart): filled to
# their build sizes, three of them held 115 MB.
WORD_MEMO_ENTRIES = 50_000
DEFAULT_SUGGEST, MAX_SUGGEST = 10, 50
MAX_SIMILAR = 100
PRIVATE_META = frozenset({"sources"})  # paths on the server: not for /api/status
_RECORD_BATCH = 100
# Threads share one GIL: costly queries run one at a time so that two of them do not each
# take twice as long, nor starve cheap requests; one that cannot start soon is turned away.
# (Several processes share a ProcessGate instead: see server.web.serving.)
COSTLY_AT_ONCE = 1
COSTLY_WAIT_SECONDS = 2.0
COSTLY_LIST_ENTRIES = 6000  # an enrichment reading more entries takes the costly turn
BUSY_RETRY_SECONDS = 2  # what a turned-away client is told to wait
HINT_WAIT_SECONDS = 0.2  # did-you-mean waits less: it is only a hint
# Fewer figures than a page holding every word of a query: show those holding the most.
RELAXED_BELOW = models.DEFAULT_PER_PAGE


def bound_word_memos() -> None:
    """Forget the word memos' words once they hold :data:`WORD_MEMO_ENTRIES`: for a
    process serving requests, after each (a search's words, a gene list's names)."""
    if analysis.word_memo_entries() > WORD_MEMO_ENTRIES:
        analysis.clear_word_memos()


class SearchService:
    def __init__(
        self,
        index_root: str | Path,
        image_url: str = PMC_IMAGE_URL,
        costly_gate: CostlyGate | None = None,
    ) -> None:
        """Serve the index in ``index_root``; ``image_url`` is the template of every hit's
        ``links.image``, with ``{pmcid}`` and ``{filename}`` (Europe PMC by default).
        ``costly_gate`` shares the costly queries' turns (by default among this process's
        threads only; ``server.search.gate.ProcessGate`` shares them between processes)."""
        self.image_url = check_image_url(image_url)
        self.generations = Generations(index_root, prepare=_warm)
        self.store = self.generations.store
        self._results = LRU(RESULT_CACHE_FIGURES, weigh=_answer_weight)
        self._matches = LRU(MATCH_CACHE_DENSE * _DENSE_UNITS, weigh=_match_weight)
        self._costly = costly_gate or ThreadGate(COSTLY_AT_ONCE)

    # -- index generations ----------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        return self.generations.snapshot()

    def consistent(self) -> AbstractContextManager[None]:
        """Every call inside reads the same index generation (one web request, say)."""
        return self.generations.consistent()

    def refresh(self) -> str:
        """Load the current generation now if it changed; return its version."""
        return self.generations.refresh().version

    def close(self) -> None:
        """Close the index files (the service reopens them if used again)."""
        self.generations.close()

    def cache_counts(self) -> dict[str, tuple[int, int, int]]:
        """Each cache's hits, misses and entries in this process so far: ``answers``
        (whole answers) and ``matches`` (a query's matched figures, which its other pages,
        sorts and facets reuse)."""
        caches = {"answers": self._results, "matches": self._matches}
        return {name: (c.hits, c.misses, len(c.data)) for name, c in caches.items()}

    @property
    def version(self) -> str:
        """Id of the index generation in use (changes when a new build is published)."""
        return self._snapshot().version

    # -- search ---------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """Search figures. Returns::

            {"version": str, "total": int, "page": int, "per_page": int, "pages": int,
             "sort": str,
             "query": {"q": str, "understood": str, "genes": [{"value", "symbols"}],
                       "ignored": [str], "notes": [str], "filters": {name: [str]},
                       "organisms": [{"text", "organism", "label", "figures"}],
                       "lookups": [{"text", "kind", "value", "figures"}],
                       "year_min", "year_max", "gene_match", "min_genes"},
             "hits": [hit],
             "facets": {name: {"name": str, "values": [{"value", "label", "count",
                        "selected", ...}], "truncated": bool}},
             "did_you_mean": [{"q": str, "total": int}]}

        A hit is ``{"figid", "figid_alias", "title", "paper_title", "reference", "year",
        "journal", "pmcid", "doi", "ndex", "organisms": [{"name", "label", "taxon_id",
        "taxonomy_url"}], "genes": [{"symbol", "entrez", "alias", "aliases", "url"}],
        "diseases": [{"name", "mesh_id"}], "chemicals": [...], "snippet": html, "score":
        float|None, "links": {"article", "image", "pmc_figure", "page", "doi", "pfocr",
        "ndex"}}``. Gene facet values also carry ``entrez``; organism values ``taxon_id``.
        ``query.lookups`` are the identifiers the query named (figid, alias, PMCID, DOI,
        NDEx UUID: ``server.search.lookups``); a query of nothing but those lists their
        figures first.
        """
        snap = self._snapshot()
        req = normalize(request)
        key = (snap.version, "search", req)  # a normalised request is its own cache key
        cached = self._results.get(key)
        if cached is not None:
            return dict(cached)
        result, run = self._search(snap, req)
        if not run.hint_skipped:  # a later asking gets the hint
            self._results.put(key, result)
        return dict(result)

    def _search(
        self, snap: Snapshot, req: SearchRequest, extra: np.ndarray | None = None
    ) -> tuple[dict[str, Any], _Run]:
        run = _Run(self, snap, req, extra)
        start = (req.page - 1) * req.per_page
        docs = run.ordered(start + req.per_page)[start:]
        hint_notes: list[str] = []
        did_you_mean = run.did_you_mean(hint_notes) if run.total == 0 else []
        query = run.understood()
        query["notes"] = [*query["notes"], *hint_notes]  # a new list: the match is cached
        result = {
            "version": snap.version,
            "total": run.total,
            "page": req.page,
            "per_page": req.per_page,
            "pages": -(-run.total // req.per_page),
            "sort": req.sort,
            "query": query,
            "hits": run.hits(docs),
            "facets": run.facets(),
            "did_you_mean": did_you_mean,
        }
        return result, run

    def iter_hits(
        self, request: SearchRequest, limit: int, snippets: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every matching figure in sort order, at most ``limit``, ignoring page/per_page;
        each is the same hit dict as in :meth:`search`, its snippet empty unless
        ``snippets`` (up to a third of a CSV export's time, for a column it has not).
        Records are read in batches."""
        snap = self._snapshot()
        req = replace(normalize(request), page=1, per_page=1, facets=())
        run = _Run(self, snap, req, None)
        docs = run.ordered(max(0, limit))
        for i in range(0, len(docs), _RECORD_BATCH):
            yield from run.hits(docs[i : i + _RECORD_BATCH], snippets)

    def count(self, request: SearchRequest) -> int:
        """Number of figures matching ``request`` (cheap: no hits, no facets)."""
        snap = self._snapshot()
        req = replace(normalize(request), page=1, per_page=1, facets=())
        return _Run(self, snap, req, None).total

    def _match(
        self, snap: Snapshot, text: str, loose: bool
    ) -> tuple[q.Node | None, Match | None, Explained]:
        key = (snap.version, text, loose)
        cached = self._matches.get(key)
        if cached is None:
            parsed = q.parse_query(text)
            budget = Budget()
            budget.check(parsed.tree, snap)
            evaluator = Evaluator(snap, budget, loose=loose)
            evaluator.explained.notes.extend(parsed.notes)
            with self._turn(budget.costly):
                match = evaluator.evaluate_query(parsed.tree)
            match = lookups.rank_first(parsed.tree, match, evaluator.explained.lookups)
            cached = (parsed.tree, match, evaluator.explained)
            self._matches.put(key, cached)
        return cached

    @contextmanager
    def _turn(
        self,
        costly: bool,
        parameter: str = "q",
        narrow: str = "fewer common words, phrases or prefixes",
    ) -> Iterator[None]:
        """Wait for the costly-query slot if the request is ``costly``; if it does not
        come soon, :class:`Busy` on ``parameter``, advising to ``narrow`` it."""
        if not costly:
            yield
            return
        if not self._costly.acquire(COSTLY_WAIT_SECONDS):
            raise Busy(
                parameter,
                "the server is busy with other costly queries: retry in a few seconds, or "
                f"narrow this one ({narrow})",
                retry_after=BUSY_RETRY_SECONDS,
            )
        try:
            yield
        finally:
            self._costly.release()

    # -- figures and genes ----------------------------------------------------------------

    def figure(self, figid: str) -> dict[str, Any]:
        """One figure: the hit dict (without score; ``snippet`` is the escaped caption) plus
        ``caption``, ``number``, ``figtype``, ``publisher``, ``keywords``, ``annotations``,
        ``gene_keywords``, ``pathway_score``, ``organisms_source`` and ``record`` (the whole
        clean record). Raises ``NotFound`` for an unknown figid."""
        figid = models.text("figid", figid)
        snap = self._snapshot()
        docnum = snap.docnum_of(figid)
        if docnum is None:
            raise NotFound("figure", f"no figure with figid {figid!r}")
        return figure_dict(snap.records([docnum])[0], self.image_url)

    def figures_named(self, name: str) -> list[dict[str, Any]]:
        """The figures ``name`` names (``server.search.lookups.figure_docs``): the one whose
        figid it is, else those whose figid or PFOCR alias it is in any case; hit dicts
        (no score, no snippet) in figid order, none for an unknown name."""
        name = models.text("figid", name)
        snap = self._snapshot()
        docs = lookups.figure_docs(snap, name).tolist()
        out = []
        for record in snap.records(docs):
            item = hit(record, "", None, self.image_url)
            del item["score"]
            out.append(item)
        return out

    def similar_figures(self, figid: str, limit: int = 10) -> list[dict[str, Any]]:
        """The figures sharing the most genes with ``figid``, most similar first: hit dicts
        (empty snippet, no score) plus ``jaccard`` (shared genes over the genes of either
        figure) and ``shared`` (the shared symbols, sorted). Raises ``NotFound`` for an
        unknown figid, ``InvalidParameter`` for a ``limit`` outside 1..MAX_SIMILAR."""
        limit = whole_number("limit", limit, 1, MAX_SIMILAR)
        snap = self._snapshot()
        docnum = snap.docnum_of(figid)
        if docnum is None:
            raise NotFound("figure", f"no figure with figid {figid!r}")
        key = (snap.version, "similar", figid, limit)
        cached = self._results.get(key)
        if cached is None:
            cached = self._similar(snap, docnum, limit)
            self._results.put(key, cached)
        return list(cached)

    def _similar(self, snap: Snapshot, docnum: int, limit: int) -> list[dict[str, Any]]:
        genes = snap.facets["gene"]
        own = np.unique(genes.doc_vals[genes.doc_ptr[docnum] : genes.doc_ptr[docnum + 1]])
        if not own.size:
            return []
        # Shared genes per document: a document lists each gene once, so counting it once
        # per gene of this figure it carries counts the genes they share.
        carrying = np.concatenate([genes.docs(o) for o in own.tolist()])
        shared = np.bincount(carrying, minlength=snap.n_docs)
        shared[docnum] = 0
        shared[~snap.live] = 0
        candidates = np.flatnonzero(shared)
        if not candidates.size:
            return []
        # A document lists each of its genes once, so its entry count is its gene count.
        sizes = genes.doc_ptr[candidates + 1] - genes.doc_ptr[candidates]
        jaccard = shared[candidates] / (sizes + own.size - shared[candidates])
        order = _most_similar(candidates, shared[candidates], jaccard, limit)
        chosen = candidates[order]
        own_set = set(own.tolist())
        out = []
        for doc, score, record in zip(
            chosen.tolist(), jaccard[order].tolist(), snap.records(chosen.tolist()), strict=True
        ):
            common = own_set & set(
                genes.doc_vals[genes.doc_ptr[doc] : genes.doc_ptr[doc + 1]].tolist()
            )
            item = hit(record, "", None, self.image_url)
            del item["score"]
            item["jaccard"] = round(score, 4)
            item["shared"] = sorted(genes.values[o] for o in common)
            out.append(item)
        return out

    def gene(self, text: str, request: SearchRequest) -> dict[str, Any]:
        """Figures of one gene typed as HGNC symbol, Entrez ID or printed alias. Returns::

            {"version", "query": text, "symbol", "entrez", "matched_by": "symbol"|"entrez"|
             "alias", "ambiguous": bool, "url": NCBI Gene URL,
             "genes": [{"symbol", "entrez", "alias", "aliases", "url", "figures"}],
             "total", "page", "per_page", "pages", "hits": [hit], "facets": {...},
             "by_year": [{"year", "count"}], "by_organism": [{"value", "label",
             "taxon_id", "count"}], "cooccurring": [{"symbol", "entrez", "url", "figures"}]}

        An alias naming several genes is ``ambiguous``: ``genes`` lists them all (most
        figures first, the first one is ``symbol``) and the figures are those of any of
        them. ``request`` filters, sorts and pages the figures as in :meth:`search`.
        Raises ``NotFound`` when nothing in the lexicon or index matches ``text``.
        """
        text = models.text("text", text).strip()
        snap = self._snapshot()
        req = normalize(request)
        key = (snap.version, "gene", text.casefold(), req)
        cached = self._results.get(key)
        if cached is not None:
            return dict(cached)
        result, run = gene_page(snap, text, lambda mask: self._search(snap, req, extra=mask))
        if not run.hint_skipped:
            self._results.put(key, result)
        return dict(result)

    # -- enrichment -------------------------------------------------------------------------

    def enrich(self, request: EnrichRequest) -> dict[str, Any]:
        """Gene-set enrichment: the figures a search finds, ranked by how well each one's
        genes explain a gene list (see :mod:`server.search.genes.enrichment`). Returns::

            {"version", "library_size", "background_size", "query_size", "total",
             "correction", "hypotheses", "background": "library"|"list"|"size",
             "min_figure_genes", "library": {"matched", "too_small", "figures",
             "background_list", "search": <a search's query>}, "notes": [str],
             "query": {"entries", "recognised", "genes", "resolved", "unrecognised",
                       "ambiguous", "duplicates", "outside_background"},
             "page", "per_page", "pages", "results": [row], "facets": {...}}

        A row: the figure's card fields (``figid``, ``title``, ``paper_title``, ``year``,
        ``organisms``, ``links``...), ``rank``, ``overlap``, ``figure_genes``,
        ``overlap_genes``, ``p_value``, ``log10_p_value``, ``adjusted_p_value``,
        ``log10_adjusted_p_value``, ``odds_ratio``, ``fold_enrichment``,
        ``combined_score``. Facets are those of the search, as :meth:`search` counts them.
        """
        snap = self._snapshot()
        req = normalize_enrichment(request)
        key = (snap.version, "enrich", req)
        cached = self._results.get(key)
        if cached is None:
            run = _Run(self, snap, req.library, None)
            with self._enrichment_turn(req):
                found = enrichment.enrich(snap, run.matched, req)
            start = (req.page - 1) * req.per_page
            cached = {"version": snap.version, **found.summary()}
            cached["library"]["search"] = run.understood()
            cached.update(
                page=req.page,
                per_page=req.per_page,
                pages=-(-found.scores.total // req.per_page),
                results=found.rows(start, start + req.per_page, self.image_url),
                facets=run.facets(),
            )
            self._results.put(key, cached)
        return dict(cached)

    def iter_enrichment(
        self, request: EnrichRequest, limit: int
    ) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
        """The top level of :meth:`enrich` (no rows, no facets) and an iterator over every
        row in rank order, at most ``limit``, ignoring page and per_page (for exports)."""
        snap = self._snapshot()
        req = normalize_enrichment(request)
        run = _Run(self, snap, replace(req.library, facets=()), None)
        with self._enrichment_turn(req):
            found = enrichment.enrich(snap, run.matched, req)
        summary = {"version": snap.version, **found.summary()}
        return summary, found.iter_rows(max(0, limit), self.image_url)

    def _enrichment_turn(self, req: EnrichRequest) -> AbstractContextManager[None]:
        """Long lists (a background of thousands of genes is read gene by gene) take the
        costly-query turn, so that they do not slow every other request at once."""
        entries = len(req.genes) + len(req.background or ())
        parameter = "background" if req.background else "genes"
        return self._turn(entries > COSTLY_LIST_ENTRIES, parameter, "a shorter list")

    def resolve_genes(self, genes: Any) -> dict[str, Any]:
        """How each entry of a gene list reads, as enrichment reads it: ``{"version",
        "entries", "recognised", "genes", "resolved", "unrecognised", "ambiguous",
        "duplicates"}``. ``genes`` is text or texts, split as :class:`EnrichRequest`'s."""
        entries = models.gene_entries("genes", models.frozen_values(genes), MAX_ENRICH_GENES)
        snap = self._snapshot()
        return {"version": snap.version, **read_gene_list(snap, entries).report()}

    def enrichment_example(self) -> dict[str, Any] | None:
        """A real figure's genes, as an example list: ``{"figid", "title", "genes"}``
        (symbols in the figure's order), or None for an index without genes."""
        snap = self._snapshot()
        key = (snap.version, "enrichment example")
        cached = self._results.get(key)
        if cached is None:
            cached = enrichment.example(snap)
            self._results.put(key, cached)
        return None if cached is None else dict(cached)

    # -- autocomplete and status ----------------------------------------------------------

    def suggest(
        self, prefix: str, limit: models.Whole | None = DEFAULT_SUGGEST
    ) -> list[dict[str, Any]]:
        """Names starting with ``prefix`` (case-insensitive), most figures first:
        ``[{"text", "kind": "gene"|"alias"|"organism"|"disease"|"word", "figures", ...}]``;
        genes also carry ``entrez``, aliases ``symbols``. Title words are index stems."""
        prefix = models.query_text("q", prefix)
        limit = models.whole_number("limit", limit, 1, MAX_SUGGEST, DEFAULT_SUGGEST)
        return complete(self._snapshot(), prefix, limit)

    def status(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "version", "generation" (its folder name),
        "documents", "lexicon_size",
        "lexicon_aliases", "schema_version", "built_at", "load_error", "meta": <meta.json
        as written by the indexer, less server paths>}``. ``degraded``: the generation
        ``current`` points at could not be loaded (``load_error`` says which and why,
        ``{"generation", "reason", "since"}``) and an older one is served."""
        snap = self._snapshot()
        # Where the index and its sources live on the server is nobody else's business.
        meta = {key: value for key, value in snap.meta.items() if key not in PRIVATE_META}
        load_error = self.load_error()
        return {
            "status": "degraded" if load_error else "ok",
            "version": snap.version,
            "generation": snap.path.name,
            "documents": snap.documents,
            "lexicon_size": len(snap.lexicon),
            "lexicon_aliases": len(snap.lexicon.alias_symbols),
            "schema_version": snap.meta.get("schema_version"),
            "built_at": snap.meta.get("built_at"),
            "load_error": load_error,
            "meta": meta,
        }

    def health(self) -> dict[str, Any]:
        """``{"status": "ok"|"degraded", "index_version", "load_error"}`` (as in
        :meth:`status`); raises like every call when nothing can be served."""
        version = self._snapshot().version
        load_error = self.load_error()
        return {
            "status": "degraded" if load_error else "ok",
            "index_version": version,
            "load_error": load_error,
        }

    def load_error(self) -> dict[str, Any] | None:
        """Why the current generation is not the one served, or None when it is."""
        return self.generations.load_error()


def _answer_weight(answer: dict[str, Any] | list[Any] | None) -> int:
    """What a cached answer weighs: one, plus one per figure it lists (hits, enrichment
    rows or similar figures)."""
    if answer is None:
        return 1
    listed = answer if isinstance(answer, list) else answer.get("hits", answer.get("results"))
    return 1 + len(listed or ())


def _match_weight(cached: tuple[Any, Match | None, Any]) -> int:
    """What a cached (tree, match, explained) weighs: its match's arrays, in thousandths
    (``_DENSE_UNITS``) of a match's over every document (at least 1)."""
    match = cached[1]
    if match is None:
        return 1
    dense = max(1, match.n * (Match.MASK_BYTES + Match.SCORE_BYTES))
    return max(1, math.ceil(_DENSE_UNITS * match.nbytes / dense))


def first_matched(order: np.ndarray, matched: np.ndarray, total: int, limit: int) -> np.ndarray:
    """The first ``limit`` documents of ``order`` that are ``matched`` (``total`` of them).

    Reads ``order`` in growing chunks, the first as long as the matches spread evenly
    would need: browsing reads a few hundred documents, not the whole index to sort it,
    and matches bunched at the end cost at most two passes."""
    need = min(limit, total)
    if need <= 0:
        return order[:0]
    step = len(order) * need // total + 256
    found, count, start = [], 0, 0
    while count < need and start < len(order):
        chunk = order[start : start + step]
        found.append(chunk[matched[chunk]])
        count += len(found[-1])
        start, step = start + step, step * 2
    return np.concatenate(found)[:need]


class _Run:
    """One request evaluated over one snapshot: masks per filter, the matched set."""

    def __init__(
        self, service: SearchService, snap: Snapshot, req: SearchRequest, extra: np.ndarray | None
    ) -> None:
        self.service, self.snap, self.req = service, snap, req
        self.tree, match, self.explained = service._match(snap, req.q, req.match == "best")
        self.match = match
        self.scored = match is not None and match.is_scored
        self.loose = None if match is None else match.loose
        base = snap.live if match is None else snap.live & match.mask
        if extra is not None:
            base = base & extra
        self.gene_filters: list[dict[str, Any]] = []
        self.hint_skipped = False  # did-you-mean skipped for load: the answer is not cached
        self.selected: dict[str, set[int]] = {}
        self.filters: dict[str, np.ndarray] = {}
        for name, values in req.filters.items():
            self.filters[name] = self._filter_mask(name, values)
        if req.year_min is not None or req.year_max is not None:
            self.filters["year"] = year_mask(snap, req.year_min, req.year_max)
        matched = base
        for mask in self.filters.values():
            matched = matched & mask
        self.level = 0  # the fewest free words a figure shown holds
        if self.loose is not None:  # figures holding as many words as a page needs
            self.level = self.loose.level(matched, RELAXED_BELOW)
            enough = self.loose.held >= self.level
            base, matched = base & enough, matched & enough
        self.base = base
        self.matched = matched
        self.total = int(np.count_nonzero(matched))
        self._matched_docs: np.ndarray | None = None
        self._counted: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # facet -> mask, counts

    @property
    def matched_docs(self) -> np.ndarray:
        """The matched documents' numbers, found once: ordering reads them, and each
        facet counted after it."""
        if self._matched_docs is None:
            self._matched_docs = np.flatnonzero(self.matched)
        return self._matched_docs

    def _found(self, mask: np.ndarray) -> np.ndarray | None:
        """The numbers of the documents of ``mask`` if ordering found them already (the
        matched set's), else None: counting through them beats testing the whole mask."""
        return self._matched_docs if mask is self.matched else None

    @property
    def relaxed(self) -> bool:
        """Whether figures lacking some free words are shown (too few held them all)."""
        return self.loose is not None and self.level < len(self.loose.words)

    def _filter_mask(self, name: str, values: list[str]) -> np.ndarray:
        snap, arrays = self.snap, self.snap.facets[name]
        if name != "gene":
            ordinals = {o for v in values for o in facet_ordinals(arrays, name, v)}
            self.selected[name] = ordinals
            return arrays.mask(ordinals, snap.n_docs)
        per_value = np.zeros(snap.n_docs, dtype=np.int32)
        chosen: set[int] = set()
        for value in values:
            symbols = [m.symbol for m in resolve_gene(snap, value)]
            ordinals = {o for s in symbols if (o := arrays.lookup(s)) is not None}
            self.gene_filters.append(
                {"value": value, "symbols": sorted({arrays.values[o] for o in ordinals})}
            )
            chosen |= ordinals
            per_value += arrays.mask(ordinals, snap.n_docs)
        self.selected[name] = chosen
        need = len(values) if self.req.gene_match == "all" else (self.req.min_genes or 1)
        return per_value >= need

    def ordered(self, limit: int) -> np.ndarray:
        """Document numbers of the first ``limit`` matches in sort order.

        Ties are broken by a key of the records, never by document number, which differs
        between builds of the same records: relevance is score, then year (newest first),
        then figid; year sorts are year, then score, then figid. Without scores (no free
        text) every sort is the snapshot's order of years and figids."""
        if not self.scored:  # nothing scored: the snapshot's own order of years
            order = self.snap.oldest_first if self.req.sort == "year" else self.snap.newest_first
            return first_matched(order, self.matched, self.total, limit)
        if not self.relaxed:
            return self._ordered(self.matched, limit)
        # Figures holding more of the words first, whatever the sort; the sort within.
        found = []
        held = self.loose.held  # type: ignore[union-attr]
        for level in range(len(self.loose.words), self.level - 1, -1):  # type: ignore[union-attr]
            if limit <= 0:
                break
            found.append(self._ordered(self.matched & (held == level), limit))
            limit -= len(found[-1])
        return np.concatenate(found)

    def _ordered(self, matched: np.ndarray, limit: int) -> np.ndarray:
        """The first ``limit`` of the scored documents ``matched``, in sort order."""
        docs = self.matched_docs if matched is self.matched else np.flatnonzero(matched)
        if limit <= 0 or not len(docs):
            return docs[:0]
        years = self.snap.years[docs]
        by_relevance = self.req.sort == "relevance"
        if self.req.sort == "year":
            primary = np.where(years == MISSING_YEAR, 10_000, years)
        elif by_relevance:
            primary = -self._scores_at(docs)
        else:
            primary = -years  # a missing year (0) comes last
        keep = smallest_with_ties(primary, limit)  # only those need sorting
        docs, primary, years = docs[keep], primary[keep], years[keep]
        secondary = -years if by_relevance else -self._scores_at(docs)
        order = np.lexsort((self.snap.figid_rank[docs], secondary, primary))
        return docs[order][:limit]

    def hits(self, docs: np.ndarray, snippets: bool = True) -> list[dict[str, Any]]:
        records = self.snap.records(docs.tolist())
        stems, prefixes = self.explained.stems, self.explained.prefixes
        scores = self._scores_at(docs).tolist() if self.scored else [None] * len(docs)
        out = []
        for docnum, record, score in zip(docs.tolist(), records, scores, strict=True):
            text = record.get("caption") or record.get("figtitle")
            shown = snippet(text, stems, prefixes) if snippets else ""
            item = hit(record, shown, score, self.service.image_url)
            item["missing"] = self._missing(docnum)
            out.append(item)
        return out

    def _scores_at(self, docs: np.ndarray) -> np.ndarray:
        assert self.match is not None
        return self.match.scores_at(docs)

    def _missing(self, docnum: int) -> list[str]:
        """The free words a figure shown lacks (none unless ``relaxed``)."""
        if not self.relaxed:
            return []
        loose = self.loose
        assert loose is not None
        return [w for w, held in zip(loose.words, loose.masks, strict=True) if not held[docnum]]

    def relaxation(self) -> dict[str, Any] | None:
        """What was relaxed, when too few figures held every free word: the words, the
        figures holding them all (with the filters), the fewest a figure shown holds, and
        the words figures shown lack (``{"word", "figures"}``, most often lacked first)."""
        if not self.relaxed:
            return None
        loose = self.loose
        assert loose is not None
        shown = self.matched
        lacking = [
            {"word": word, "figures": int(np.count_nonzero(shown & ~held))}
            for word, held in zip(loose.words, loose.masks, strict=True)
        ]
        return {
            "words": list(loose.words),
            "together": int(np.count_nonzero(shown & (loose.held >= len(loose.words)))),
            "at_least": self.level,
            "dropped": sorted((d for d in lacking if d["figures"]), key=lambda d: -d["figures"]),
        }

    def understood(self) -> dict[str, Any]:
        req, explained = self.req, self.explained
        return {
            "q": req.q,
            "understood": "" if self.tree is None else str(self.tree),
            "genes": explained.genes + [dict(g, filter=True) for g in self.gene_filters],
            "ignored": explained.ignored,
            "notes": explained.notes,
            "organisms": explained.organisms,
            "lookups": [found.as_dict() for found in explained.lookups],
            "filters": {k: list(v) for k, v in req.filters.items()},
            "year_min": req.year_min,
            "year_max": req.year_max,
            "gene_match": req.gene_match,
            "min_genes": req.min_genes,
            "match": req.match,
            "relaxed": self.relaxation(),
        }

    def _without(self, own: str) -> tuple[np.ndarray, int | None]:
        """The matched set with every filter but ``own`` applied."""
        if own not in self.filters:
            return self.matched, self.total
        mask = self.base
        for name, filter_mask in self.filters.items():
            if name != own:
                mask = mask & filter_mask
        return mask, None

    def facets(self) -> dict[str, Any]:
        out = {}
        size = self.req.facet_size
        for name in self.req.facets:
            mask, matched = self._without(name)
            if name == "year":
                out[name] = _year_facet(self.snap, mask, size, self.req, self._found(mask))
                continue
            arrays = self.snap.facets[name]
            counts = self.counts(name, mask, matched)
            top, truncated = arrays.top(counts, size)
            selected = self.selected.get(name, set())
            shown = top + sorted(selected - set(top), key=lambda o: arrays.values[o].casefold())
            out[name] = {
                "name": name,
                "values": [
                    _facet_value(name, arrays.values[o], int(counts[o]), o in selected, self.snap)
                    for o in shown
                ],
                "truncated": truncated,
            }
        return out

    def counts(
        self, name: str, mask: np.ndarray | None = None, matched: int | None = None
    ) -> np.ndarray:
        """Documents of ``mask`` (the matched set by default) per value of the facet
        ``name``, counted once per mask: a gene page reads the counts its facets made.
        Read-only (the generation's own totals when nothing is filtered)."""
        if mask is None:
            mask, matched = self.matched, self.total
        known = self._counted.get(name)
        if known is not None and known[0] is mask:
            return known[1]
        arrays = self.snap.facets[name]
        if mask is self.snap.live:
            counts = arrays.totals
        else:
            counts = arrays.count(mask, matched, self._found(mask))
        counts.flags.writeable = False
        self._counted[name] = (mask, counts)
        return counts

    def did_you_mean(self, notes: list[str]) -> list[dict[str, Any]]:
        """The query with its unknown words corrected, if that finds figures; a hint, so
        its limits (how many words it looks up) go to ``notes``, never to an error.

        Looking words up is costly (about 0.1 s a word at 100k figures): it takes the
        costly-query turn, and is skipped, with a note, when that is not free soon."""
        if not has_unknown_words(self.snap, self.tree):
            return []
        if not self.service._costly.acquire(HINT_WAIT_SECONDS):
            return self._skip_hint(notes)
        try:
            fixed = corrections(self.snap, self.req.q, self.tree, notes)
        finally:
            self.service._costly.release()
        if fixed is None:
            return []
        try:
            total = self.service.count(replace(self.req, q=fixed))
        except InvalidParameter:  # the corrected words cost more than the query's budget
            return []
        except Busy:  # a hint is never worth turning the search itself away
            return self._skip_hint(notes)
        return [{"q": fixed, "total": total}] if total else []

    def _skip_hint(self, notes: list[str]) -> list[dict[str, Any]]:
        """No did-you-mean this time (the costly turn is taken); the answer is not kept."""
        notes.append("did you mean: not looked up, the server is busy; ask again later")
        self.hint_skipped = True
        return []


def _most_similar(
    candidates: np.ndarray, shared: np.ndarray, jaccard: np.ndarray, limit: int
) -> np.ndarray:
    """Where the ``limit`` most similar candidates are: highest Jaccard, then most genes
    shared, then lowest document number. Only those at or above the ``limit``-th Jaccard
    are sorted (a figure of common genes shares one with tens of thousands)."""
    keep = smallest_with_ties(-jaccard, limit)
    return keep[np.lexsort((candidates[keep], -shared[keep], -jaccard[keep]))[:limit]]


def load_shared_data() -> None:
    """Load what every generation shares (the NCBI gene nomenclature, the spelling
    pairs), once per process: in a server's master before it forks its workers, so they
    share its pages, and otherwise before the first query needs it."""
    GeneNomenclature.load()
    american_spelling("haem")


def _warm(snap: Snapshot) -> None:
    """What the first requests would otherwise pay for: the shared word data and the
    stored records' reader."""
    load_shared_data()
    live = np.flatnonzero(snap.live[:1_000])
    if live.size:
        snap.records([int(live[0])])


def _facet_value(
    name: str, value: str, count: int, selected: bool, snap: Snapshot | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value, "label": value, "count": count, "selected": selected}
    if name == "gene" and snap is not None:
        item["entrez"] = snap.lexicon.entrez(value)
    elif name == "organism":
        organism = describe(value)
        item.update(label=organism.label, taxon_id=organism.taxon_id)
    elif name == "ndex":
        item["label"] = models.NDEX_LABELS.get(value, value)
    return item


def check_image_url(template: str) -> str:
    """``template`` if it names both ``{pmcid}`` and ``{filename}`` and nothing else."""
    try:
        template.format(pmcid="PMC1", filename="f.jpg")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"image URL template {template!r} is not valid: use {{pmcid}} and {{filename}} "
            f"only ({exc!r})"
        ) from None
    if "{pmcid}" not in template or "{filename}" not in template:
        raise ValueError(
            f"image URL template {template!r} must contain both {{pmcid}} and {{filename}}"
        )
    return template


def _year_facet(
    snap: Snapshot, mask: np.ndarray, size: int, req: SearchRequest, docs: np.ndarray | None
) -> dict[str, Any]:
    """The year facet of the documents of ``mask`` (``docs``, their numbers, if known:
    reading those years is cheaper than testing the whole mask, 0.3 against 15 us for a
    rare query's few figures at 100k)."""
    years = snap.years[mask] if docs is None else snap.years[docs]
    counts = np.bincount(years[years != MISSING_YEAR])
    present = np.flatnonzero(counts)
    ranked = sorted(present.tolist(), key=lambda y: (-counts[y], -y))
    low = req.year_min if req.year_min is not None else -1
    high = req.year_max if req.year_max is not None else 100_000
    filtered = req.year_min is not None or req.year_max is not None

    def value(y: int) -> dict[str, Any]:
        return {
            "value": y,
            "label": str(y),
            "count": int(counts[y]),
            "selected": filtered and low <= y <= high,
        }

    return {
        "name": "year",
        "values": [value(y) for y in ranked[:size]],
        "truncated": len(ranked) > size,
    }
