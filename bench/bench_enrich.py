"""Enrichment benchmark: POST /api/enrich in process and over HTTP, beside two references.

    python -m bench.bench_enrich --out bench/out/enrich-100k [--count 100000] [--runs 25]

The corpus: ``bench.synth`` records (the sample's shapes, years, organisms, captions) whose
genes are redrawn from a universe of ``--universe`` genes (13,700, as the real PFOCR's
human figures hold) with Zipf popularity (exponent ``ZIPF``): the synthetic corpus alone
has only the sample's 617 genes, which would overstate every overlap. The sample's real
genes take the most popular ranks (so their aliases still resolve); the others are
``SYNG<n>`` with Entrez IDs from 8,000,000. Each figure keeps its template's gene count.
The corpus and its index are built once under ``--out`` and reused.

Gene lists of 10, 300 and 3,000 genes are drawn uniformly from the universe (a new list
for every timed request, so no cache answers), over the whole index (``all``) and over
human figures since 2015 (``human 2015+``). For each request, in the same run and in
turn:

- ``ours``: ``SearchService.enrich`` (name resolution, the library, the statistics, the
  first page of 20 rows with their records), the result cache cleared first; libraries
  (the figures a search finds and their genes) stay cached per index generation, as
  they do when serving;
- ``vectorised``: a numpy/scipy reference over the same gene -> figures map (a
  figures x genes CSR matrix of the same facet arrays): overlap by a sparse product,
  ``hypergeom.sf`` for every figure with overlap, ``false_discovery_control`` over the
  library, a full sort. It is given the gene ordinals and the library's figures and
  genes, computed beforehand (no name resolution, no records);
- ``overlaps only``: the sparse product and the figures with overlap alone, the floor
  under any method (no statistics);
- ``scipy loop``: a plain Python loop over the library's figures (gene sets as Python
  sets) calling ``scipy.stats.fisher_exact`` for each one with overlap (a few runs only:
  it takes seconds);
- ``http``: the same request as ``ours`` over HTTP (waitress on 127.0.0.1), a JSON body;
- ``ours, names unread``: ``ours`` for another list, the memo of typed names emptied
  first (a few runs): what a list of names the server has not read yet costs.

Typed names are read once per index generation and kept (``resolve_gene``'s memo): over
a run the lists share most of their genes, as users' lists do, so ``ours`` mostly reads
them from memory; ``names unread`` shows the first reading. scipy's ``hypergeom.sf``
(Boost) costs tens of microseconds a figure, which is most of the vectorised
reference's time: ``overlaps only`` is the floor to compare with.

Printed: median, interquartile range and p95 in milliseconds, the figures with overlap,
and each one's ratio to the vectorised reference measured on the same lists. The machine
is shared: medians and ratios, not single times, are what to read.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.stats import false_discovery_control, fisher_exact, hypergeom

from bench import synth
from indexer import pipeline
from indexer.index.store import IndexStore
from server.search.genes import resolve
from server.search.models import EnrichRequest, SearchRequest, normalize
from server.search.service import SearchService, _Run
from server.web.serving import make_server, serve_in_thread, stop_in_thread

UNIVERSE = 13_700
ZIPF = 0.6  # gene popularity by rank: the most common gene is in ~10% of figures
FIRST_ENTREZ = 8_000_000
SIZES = (10, 300, 3000)
LIBRARIES = {
    "all": SearchRequest(facets=()),
    "human 2015+": SearchRequest(filters={"organism": ["Homo sapiens"]}, year_min=2015, facets=()),
}
LOOP_RUNS = 2
COLD_RUNS = 5
HTTP_TIMEOUT = 60


# -- the corpus ----------------------------------------------------------------------------------


def universe(real: list[str], size: int) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(symbol, Entrez ID) of every gene, most popular first, and the cumulative weights."""
    genes = [(s, e) for s, e in real]
    genes += [(f"SYNG{i}", str(FIRST_ENTREZ + i)) for i in range(size - len(genes))]
    weights = 1.0 / np.arange(1, len(genes) + 1) ** ZIPF
    return genes, np.cumsum(weights) / weights.sum()


def real_genes() -> list[tuple[str, str]]:
    """The sample's genes with their Entrez IDs, most figures first."""
    counts: dict[tuple[str, str], int] = {}
    for path in sorted(synth.SAMPLE_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8").split("\n---", 1)[0].removeprefix("---\n")
        record = synth.yaml.load(text, Loader=synth._Yaml)
        for gene in record.get("genes") or []:
            key = (str(gene.get("hgnc_symbol")), str(gene.get("entrez")))
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k[0]))


class Redraw:
    """Gives a synthetic record genes drawn from the universe, keeping its gene count."""

    def __init__(self, seed: int, size: int) -> None:
        self.genes, self.cum = universe(real_genes(), size)
        self.real = {s for s, _ in self.genes[:617]}
        self.rng = np.random.default_rng(seed)

    def draw(self, k: int) -> list[tuple[str, str]]:
        chosen: dict[int, None] = {}
        while len(chosen) < k:
            for i in np.searchsorted(self.cum, self.rng.random(k - len(chosen) + 2)).tolist():
                chosen.setdefault(min(i, len(self.genes) - 1), None)
        return [self.genes[i] for i in list(chosen)[:k]]

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        jsonld = record.get("schema-jsonld") or {}
        keywords = jsonld.get("keywords") if isinstance(jsonld, dict) else None
        if record.get("genes"):
            old = list(dict.fromkeys(str(g.get("hgnc_symbol")) for g in record["genes"]))
            new = self.draw(len(old))
            record["genes"] = [
                {"word": s, "symbol": s, "source": "hgnc_symbol", "hgnc_symbol": s, "entrez": e}
                for s, e in new
            ]
            replaced = set(old)
        elif isinstance(keywords, list):
            old = [k for k in keywords if k in self.real]
            new = self.draw(len(old))
            replaced = set(old)
        else:
            return record
        if isinstance(keywords, list):
            kept = [k for k in keywords if k not in replaced]
            jsonld["keywords"] = [s for s, _ in new] + kept
        return record


def build_corpus(folder: Path, count: int, seed: int, size: int) -> None:
    marker = folder / "corpus.json"
    wanted = {"count": count, "seed": seed, "universe": size, "zipf": ZIPF}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    print(f"writing {count:,} records with a universe of {size:,} genes under {folder}")
    redraw = Redraw(seed, size)
    for index, record in enumerate(synth.records(count, seed)):
        sub = folder / f"{index // synth.FILES_PER_FOLDER:04d}"
        if index % synth.FILES_PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{record['figid']}.md").write_text(
            synth.to_front_matter(redraw(record)), encoding="utf-8"
        )
    marker.write_text(json.dumps(wanted))


def build_index(corpus: Path, root: Path) -> None:
    if IndexStore(root).current() is not None:
        return
    print(f"building the index in {root}")
    start = time.perf_counter()
    report = pipeline.build([corpus], root, progress=False)
    print(f"  {report.summary()} in {time.perf_counter() - start:.0f} s")


# -- the references ------------------------------------------------------------------------------


class Reference:
    """The same statistics, computed the obvious ways over the same gene -> figures map."""

    def __init__(self, service: SearchService) -> None:
        snap = service._snapshot()
        genes = snap.facets["gene"]
        data = np.ones(len(genes.doc_vals), dtype=np.int32)
        matrix = sparse.csr_matrix(
            (data, genes.doc_vals, genes.doc_ptr), shape=(snap.n_docs, len(genes.values))
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1  # a gene once per figure, as enrichment counts it
        self.matrix = matrix
        self.sizes = np.asarray(matrix.sum(axis=1)).ravel()
        self.snap = snap
        self.lookup = genes.lookup
        self.rows = [set(matrix.indices[matrix.indptr[d] : matrix.indptr[d + 1]].tolist())
                     for d in range(snap.n_docs)]  # fmt: skip

    def library(self, service: SearchService, request: SearchRequest) -> dict[str, Any]:
        """The figures the search finds (as the service finds them) with 3 genes or more,
        and their genes: computed once per library, outside the timed calls, as the
        service keeps its libraries."""
        matched = _Run(service, self.snap, normalize(request), None).matched
        figures = matched & (self.sizes >= 3)
        genes = np.asarray(self.matrix[figures].sum(axis=0)).ravel() > 0
        return {"figures": figures, "genes": genes, "M": int(genes.sum()), "m": int(figures.sum())}

    def ordinals(self, genes: list[str]) -> np.ndarray:
        return np.asarray(sorted({o for g in genes if (o := self.lookup(g)) is not None}))

    def overlaps(self, library: dict[str, Any], ordinals: np.ndarray) -> tuple[np.ndarray, ...]:
        """The floor of any method: the list's overlap with every figure of the library."""
        query = np.zeros(self.matrix.shape[1])
        query[ordinals[library["genes"][ordinals]]] = 1
        overlap = self.matrix @ query
        docs = np.flatnonzero((overlap > 0) & library["figures"])
        return query, overlap, docs

    def vectorised(self, library: dict[str, Any], ordinals: np.ndarray) -> int:
        query, overlap, docs = self.overlaps(library, ordinals)
        n, M, m = int(query.sum()), library["M"], library["m"]
        a, K = overlap[docs], self.sizes[docs]
        p = hypergeom.sf(a - 1, M, K, n)
        adjusted = false_discovery_control(np.concatenate([p, np.ones(m - len(p))]))[: len(p)]
        b, c, d = n - a, K - a, M - n - K + a
        odds = a * d / np.maximum(b * c, 1)
        fold = (a / n) / (K / M)
        order = np.lexsort((-a, p))
        _ = adjusted[order], odds[order], fold[order], -np.log(p[order]) * odds[order]
        return len(docs)

    def scipy_loop(self, library: dict[str, Any], ordinals: np.ndarray) -> int:
        docs = np.flatnonzero(library["figures"]).tolist()
        background = set().union(*(self.rows[d] for d in docs))
        query = set(ordinals.tolist()) & background
        n, M = len(query), len(background)
        found = []
        for d in docs:
            genes = self.rows[d]
            a = len(query & genes)
            if a:
                K = len(genes)
                table = [[a, n - a], [K - a, M - n - K + a]]
                found.append(fisher_exact(table, alternative="greater").pvalue)
        return len(found)


# -- timing ------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return (time.perf_counter() - start) * 1000, value


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    q = (
        statistics.quantiles(ordered, n=20, method="inclusive")
        if len(ordered) > 1
        else ordered * 19
    )
    return {
        "median": statistics.median(ordered),
        "p25": statistics.quantiles(ordered, n=4, method="inclusive")[0]
        if len(ordered) > 1
        else ordered[0],
        "p75": statistics.quantiles(ordered, n=4, method="inclusive")[2]
        if len(ordered) > 1
        else ordered[0],
        "p95": q[18],
        "runs": len(ordered),
    }


def post(port: int, body: dict[str, Any]) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    payload = json.dumps(body).encode()
    start = time.perf_counter()
    try:
        connection.request("POST", "/api/enrich", payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        return (time.perf_counter() - start) * 1000
    finally:
        connection.close()


def lists(genes: list[str], size: int, seed: int) -> Iterator[list[str]]:
    rng = random.Random(seed)
    while True:
        yield rng.sample(genes, size)


def run(root: Path, runs: int, seed: int) -> dict[str, Any]:
    service = SearchService(root)
    print("loading the index and the references")
    service.enrich(EnrichRequest(genes=("TP53",)))  # gene sets built once per generation
    reference = Reference(service)
    genes = list(service._snapshot().facets["gene"].values)
    print(f"  {service._snapshot().documents:,} figures, {len(genes):,} distinct genes")
    server = make_server(root, port=0)
    thread = serve_in_thread(server)
    port = server.effective_port
    results: dict[str, Any] = {}
    try:
        post(port, {"genes": ["TP53"]})  # loaded before anything is timed
        for name, library in LIBRARIES.items():
            mask = reference.library(service, library)
            service.enrich(EnrichRequest(genes=("TP53",), library=library))  # library cached
            post(port, {"genes": ["TP53"], **_library_body(library)})
            for size in SIZES:
                key = f"{name} / {size}"
                results[key] = measure(service, reference, port, mask, library, size, runs, seed)
                report_line(key, results[key])
    finally:
        stop_in_thread(server, thread)
        service.close()
    return results


def measure(
    service: SearchService,
    reference: Reference,
    port: int,
    mask: np.ndarray,
    library: SearchRequest,
    size: int,
    runs: int,
    seed: int,
) -> dict[str, Any]:
    genes = list(service._snapshot().facets["gene"].values)
    draws = lists(genes, size, seed + size)
    times: dict[str, list[float]] = {
        "ours": [],
        "ours, names unread": [],
        "vectorised": [],
        "overlaps only": [],
        "scipy loop": [],
        "http": [],
    }
    ratios: list[float] = []
    totals = []
    for i in range(runs):
        chosen = next(draws)
        request = EnrichRequest(genes=tuple(chosen), library=library)
        service._results.data.clear()  # measure the work, not the result cache
        ours, answer = timed(lambda r=request: service.enrich(r))
        ordinals = reference.ordinals(chosen)
        vectorised, total = timed(lambda o=ordinals: reference.vectorised(mask, o))
        assert total == answer["total"], (total, answer["total"])
        times["ours"].append(ours)
        times["vectorised"].append(vectorised)
        times["overlaps only"].append(timed(lambda o=ordinals: reference.overlaps(mask, o))[0])
        ratios.append(ours / vectorised)
        totals.append(total)
        if i < COLD_RUNS:  # another list, its names not yet read in this generation
            cold = EnrichRequest(genes=tuple(next(draws)), library=library)
            service._results.data.clear()
            resolve._MEMOS.clear()
            times["ours, names unread"].append(timed(lambda r=cold: service.enrich(r))[0])
        if i < LOOP_RUNS:
            loop, found = timed(lambda o=ordinals: reference.scipy_loop(mask, o))
            assert found == total, (found, total)
            times["scipy loop"].append(loop)
        times["http"].append(post(port, {"genes": chosen, **_library_body(library)}))
    return {
        **{name: stats(values) for name, values in times.items()},
        "ratio": stats(ratios),
        "figures": int(statistics.median(totals)),
    }


def _library_body(library: SearchRequest) -> dict[str, Any]:
    body: dict[str, Any] = {k: list(v) for k, v in library.filters.items()}
    if library.year_min is not None:
        body["year_min"] = library.year_min
    return body


def report_line(key: str, result: dict[str, Any]) -> None:
    def cell(name: str) -> str:
        s = result[name]
        return f"{s['median']:8.1f} ({s['p25']:.1f}-{s['p75']:.1f}, p95 {s['p95']:.1f})"

    print(
        f"{key:20} {result['figures']:>8,} | ours {cell('ours')} | vectorised "
        f"{cell('vectorised')} | ours/vectorised {result['ratio']['median']:.2f} "
        f"({result['ratio']['p25']:.2f}-{result['ratio']['p75']:.2f}) | scipy loop "
        f"{result['scipy loop']['median']:8.0f} | overlaps only {cell('overlaps only')} "
        f"| names unread {cell('ours, names unread')} "
        f"| http {cell('http')}",
        flush=True,
    )


def table(results: dict[str, Any]) -> str:
    lines = [
        "| library / genes | figures with overlap | ours in process, median (IQR) p95 ms "
        "| vectorised reference | ours / reference (IQR) | scipy loop | overlaps only "
        "| over HTTP | ours, names unread |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in results.items():

        def cell(s: dict[str, float]) -> str:
            return f"{s['median']:.1f} ({s['p25']:.1f}-{s['p75']:.1f}) {s['p95']:.1f}"

        lines.append(
            f"| {key} | {r['figures']:,} | {cell(r['ours'])} | {cell(r['vectorised'])} | "
            f"{r['ratio']['median']:.2f} ({r['ratio']['p25']:.2f}-{r['ratio']['p75']:.2f}) | "
            f"{r['scipy loop']['median']:,.0f} | {cell(r['overlaps only'])} | {cell(r['http'])} "
            f"| {cell(r['ours, names unread'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the corpus and index")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--universe", type=int, default=UNIVERSE)
    parser.add_argument("--runs", type=int, default=25, help="timed requests per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    args = parser.parse_args(argv)
    corpus, root = args.out / "corpus", args.out / "index"
    build_corpus(corpus, args.count, args.seed, args.universe)
    build_index(corpus, root)
    with open("/proc/loadavg") as fh:
        print(f"load average at start: {fh.read().split()[:3]}")
    results = run(root, args.runs, args.seed)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
