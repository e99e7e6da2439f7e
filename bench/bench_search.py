"""Search benchmark: the search service against SQLite FTS5, query class by query class.

    python -m bench.bench_search --corpus bench/out/corpus-100000-s0 \\
        --index bench/out/search-index-100000 [--runs 30] [--json out.json]

The index (an ``index_data/`` folder) is built from the corpus with
``indexer.pipeline.build`` if it has none; the SQLite baseline is built once beside it
(``fts5.sqlite``) from the same clean records (read back from the index's stored records,
so both hold exactly the same data): one FTS5 table over title and text with the porter
tokenizer, so words match as stemmed as ours (bm25 weights 2:1 like ours), one table of figures (year, stored record JSON) and one ``(figure, value)``
table per facet, indexed both ways.

Query classes (each asks for four facets: organism, year, gene, disease, and the first
page of 20 hits with their records):

- ``common``: one word that matches over a third of the corpus;
- ``rare``: one word in 5 to 50 figures;
- ``gene``: ``gene:SYMBOL`` for a frequent gene;
- ``gene_org_year``: a gene filter + an organism filter + a year range;
- ``browse``: empty query, every facet;
- ``min_genes``: ten frequent genes, at least three of them (``min_genes=3``).

Each class runs several distinct queries ``--runs`` times in total, in the same process
and the same run for both engines, each request timed on ours then on SQLite in turn.
Our result cache is cleared before every timed query (what is measured is the work, not
the cache); term postings read from disk stay cached, as SQLite's pages do. ``first`` is
the first execution of each distinct query in this process (no postings cached for it
yet). ``cached`` is a repeated identical request
answered from the result cache. Latencies are server-side, in milliseconds, loopback
only: no HTTP, no network.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer import pipeline
from indexer.index import schema
from indexer.index.store import IndexStore
from server.search.models import FACET_NAMES, SearchRequest
from server.search.service import SearchService
from server.search.snapshot import Snapshot

FACETS4 = ("organism", "year", "gene", "disease")
FACET_TABLES = tuple(schema.FACET_FIELDS)  # every facet but year, in both engines
PER_PAGE = 20
CLASSES = ("common", "rare", "gene", "gene_org_year", "browse", "min_genes")


# -- SQLite FTS5 baseline ---------------------------------------------------------------------


def build_sqlite(snap: Snapshot, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.executescript(
        """
        CREATE TABLE figure (id INTEGER PRIMARY KEY, figid TEXT, year INTEGER, record TEXT);
        CREATE VIRTUAL TABLE fts USING fts5(title, text, content='', tokenize='porter unicode61');
        """
    )
    for facet in FACET_TABLES:
        db.execute(f"CREATE TABLE f_{facet} (fig INTEGER, value TEXT)")
    batch = 2000
    for start in range(0, snap.n_docs, batch):
        docs = [d for d in range(start, min(start + batch, snap.n_docs)) if snap.live[d]]
        records = snap.records(docs)
        rows, fts, facets = [], [], {f: [] for f in FACET_TABLES}
        for doc, rec in zip(docs, records, strict=True):
            from indexer.record import Figure

            figure = Figure.from_dict(rec)
            rows.append((doc, figure.figid, figure.year, json.dumps(rec)))
            title = " ".join(t for t in (figure.figtitle, figure.papertitle) if t)
            genes = " ".join(g.symbol for g in figure.genes)
            fts.append((doc, title, schema.searchable_text(figure) + "\n" + genes))
            for facet, values in schema.facet_values(figure).items():
                facets[facet].extend((doc, v) for v in values)
        db.executemany("INSERT INTO figure VALUES (?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO fts (rowid, title, text) VALUES (?, ?, ?)", fts)
        for facet, values in facets.items():
            db.executemany(f"INSERT INTO f_{facet} VALUES (?, ?)", values)
    for facet in FACET_TABLES:
        db.execute(f"CREATE INDEX f_{facet}_vf ON f_{facet} (value, fig)")
        db.execute(f"CREATE INDEX f_{facet}_fv ON f_{facet} (fig, value)")
    db.execute("CREATE INDEX figure_year ON figure (year)")
    db.execute("INSERT INTO fts (fts) VALUES ('optimize')")
    db.commit()
    db.execute("ANALYZE")
    db.close()
    tmp.rename(path)


class Sqlite:
    """The same request answered with FTS5 MATCH + joins + GROUP BY facet counts."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA cache_size = -400000")
        self.db.execute("PRAGMA temp_store = MEMORY")

    def search(self, req: SearchRequest) -> dict[str, Any]:
        db = self.db
        db.execute("DROP TABLE IF EXISTS temp.m")
        where, params = [], []
        if req.q.startswith("gene:"):
            where.append("f.id IN (SELECT fig FROM f_gene WHERE value = ?)")
            params.append(req.q[5:])
            source = "figure f"
            rank = "0"
        elif req.q:
            source = "fts JOIN figure f ON f.id = fts.rowid"
            where.append("fts MATCH ?")
            params.append(f'"{req.q}"')
            rank = "bm25(fts, 2.0, 1.0)"
        else:
            source, rank = "figure f", "0"
        for name, values in req.filters.items():
            marks = ",".join("?" * len(values))
            need = req.min_genes if (name == "gene" and req.min_genes) else 1
            where.append(
                f"f.id IN (SELECT fig FROM f_{name} WHERE value IN ({marks}) "
                f"GROUP BY fig HAVING count(*) >= {need})"
            )
            params.extend(values)
        if req.year_min is not None:
            where.append("f.year >= ?")
            params.append(req.year_min)
        if req.year_max is not None:
            where.append("f.year <= ?")
            params.append(req.year_max)
        db.execute("CREATE TEMP TABLE m (id INTEGER PRIMARY KEY, rank REAL, year INTEGER)")
        sql = f"INSERT INTO m SELECT f.id, {rank}, f.year FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        db.execute(sql, params)
        total = db.execute("SELECT count(*) FROM m").fetchone()[0]
        order = "m.rank, m.id" if rank != "0" else "m.year DESC, m.id"
        page = db.execute(
            f"SELECT figure.record FROM m JOIN figure ON figure.id = m.id ORDER BY {order} "
            f"LIMIT {PER_PAGE}"
        ).fetchall()
        hits = [json.loads(r[0]) for r in page]
        facets = {}
        for facet in req.facets:
            if facet == "year":
                sql = "SELECT year, count(*) c FROM m WHERE year IS NOT NULL GROUP BY year"
            else:
                # CROSS JOIN: walk the matched set, probe the (fig, value) index
                sql = f"SELECT value, count(*) c FROM m CROSS JOIN f_{facet} ON fig = m.id GROUP BY value"
            facets[facet] = db.execute(
                f"{sql} ORDER BY c DESC LIMIT {req.facet_size + 1}"
            ).fetchall()
        return {"total": total, "hits": hits, "facets": facets}


# -- workload ---------------------------------------------------------------------------------


def workload(snap: Snapshot, rng: random.Random, per_class: int) -> dict[str, list[SearchRequest]]:
    n = snap.documents
    common, rare = [], []
    for term, df in snap.iter_terms(schema.TEXT):
        if not term.isalpha() or len(term) < 4:
            continue
        if df > n / 3:
            common.append((df, term))
        elif 5 <= df <= 50:
            rare.append(term)
    common = [t for _, t in sorted(common, reverse=True)[:per_class]]
    rare = rng.sample(rare, min(per_class, len(rare)))
    genes = snap.facets["gene"]
    frequent = [genes.values[o] for o in np.argsort(-genes.totals)[:200]]
    organisms = snap.facets["organism"]
    top_org = [organisms.values[o] for o in np.argsort(-organisms.totals)[:3]]

    def req(**kwargs: Any) -> SearchRequest:
        return SearchRequest(per_page=PER_PAGE, facets=FACETS4, **kwargs)

    classes: dict[str, list[SearchRequest]] = {
        "common": [req(q=t) for t in common],
        "rare": [req(q=t) for t in rare],
        "gene": [req(q=f"gene:{g}") for g in rng.sample(frequent[:100], per_class)],
        "gene_org_year": [
            req(
                filters={"gene": [g], "organism": [rng.choice(top_org)]},
                year_min=(y := rng.randint(2000, 2015)),
                year_max=y + rng.randint(3, 10),
            )
            for g in rng.sample(frequent[:100], per_class)
        ],
        "browse": [
            SearchRequest(per_page=PER_PAGE, facets=FACET_NAMES, page=p)
            for p in range(1, per_class + 1)
        ],
        "min_genes": [
            req(filters={"gene": rng.sample(frequent, 10)}, min_genes=3) for _ in range(per_class)
        ],
    }
    return classes


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True, help="index root (built if empty)")
    parser.add_argument("--runs", type=int, default=30, help="timed queries per class")
    parser.add_argument("--distinct", type=int, default=10, help="distinct queries per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    store = IndexStore(args.index)
    if store.current() is None:
        print(f"building the index of {args.corpus} into {args.index} ...", flush=True)
        seconds = timed(lambda: pipeline.build([args.corpus], args.index)) / 1000
        print(f"  built in {seconds:.0f} s")
    service = SearchService(args.index)
    load_ms = timed(service.refresh)
    snap = service._snapshot()
    sqlite_path = args.index / "fts5.sqlite"
    if not sqlite_path.exists():
        print(f"building the SQLite FTS5 baseline {sqlite_path} ...", flush=True)
        seconds = timed(lambda: build_sqlite(snap, sqlite_path)) / 1000
        print(f"  built in {seconds:.0f} s")
    sqlite = Sqlite(sqlite_path)
    rng = random.Random(args.seed)
    classes = workload(snap, rng, args.distinct)
    print(
        f"\n{snap.documents} figures, index generation {snap.version}, loaded in {load_ms:.0f} ms"
    )

    def ours(request: SearchRequest) -> Callable[[], Any]:
        def run() -> Any:
            service._results.data.clear()  # measure the work, not the result cache
            service._matches.data.clear()
            return service.search(request)

        return run

    results: dict[str, Any] = {"documents": snap.documents, "classes": {}}
    header = f"{'class':14} {'matches':>8} | {'ours med':>8} {'p95':>7} {'first':>7} | {'fts5 med':>8} {'p95':>7} | {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, requests in classes.items():
        first = [timed(ours(r)) for r in requests]
        for r in requests:
            sqlite.search(r)  # warm SQLite's page cache alike
        plan = [requests[i % len(requests)] for i in range(args.runs)]
        mine, theirs = [], []
        for r in plan:  # interleaved: a slow spell of the shared machine slows both alike
            mine.append(timed(ours(r)))
            theirs.append(timed(lambda r=r: sqlite.search(r)))
        matches = statistics.median(service.search(r)["total"] for r in requests)
        check = [(service.search(r)["total"], sqlite.search(r)["total"]) for r in requests[:3]]
        a, b, f = summary(mine), summary(theirs), summary(first)
        ratio = b["median"] / a["median"]
        print(
            f"{name:14} {matches:>8.0f} | {a['median']:8.1f} {a['p95']:7.1f} {f['median']:7.1f} | "
            f"{b['median']:8.1f} {b['p95']:7.1f} | {ratio:5.1f}x"
        )
        results["classes"][name] = {
            "ours": a, "first": f, "fts5": b, "ratio": ratio, "median_matches": matches,
            "totals_ours_vs_fts5": check,
        }  # fmt: skip
    cached = []
    for requests in classes.values():
        service.search(requests[0])
        cached += [timed(lambda r=requests[0]: service.search(r)) for _ in range(20)]
    results["cached"] = summary(cached)
    print(f"\nrepeated (cached) query: median {results['cached']['median']:.3f} ms, "
          f"p95 {results['cached']['p95']:.3f} ms")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
