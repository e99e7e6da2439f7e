"""The search benchmark's peers, tantivy and SQLite FTS5, on disk, over our index's records.

Both are built once per index generation from the records stored in our index (read back
with the generation's reader, so all three engines hold exactly the same figures) into a
peers folder, and reused by later runs (their names carry the generation and
``PEER_FORMAT``). Each indexes, per figure:

- ``title``: figure and paper titles, weighted 2x at query time as ours weighs its title;
- ``text``: ``schema.searchable_text`` and every gene name (``peer_engines.peer_text``, as
  in the quality benchmark), English-stemmed (tantivy ``en_stem``; SQLite ``porter
  unicode61``), with positions (ours keeps them for phrases);
- the default facets' fields (organism, gene, disease, ndex) and the year, for filters and
  facet counts: tantivy fast ``raw`` text fields and an indexed fast integer field (years
  filtered by a range query); SQLite one ``(figure, value)`` table per facet, indexed both
  ways, and an indexed year column;
- the whole record as JSON (tantivy: a stored bytes field, compressed by tantivy's doc
  store; SQLite: a column), read for each hit of the page, as ours reads its records.

A request (:class:`SearchRequest`) is answered the way ours answers it: every word
required (tantivy's parser with ``conjunction_by_default``; FTS5's implicit AND of quoted
words), BM25 with titles 2x, ``gene:SYMBOL`` an exact gene, filters as exact values and a
year range, ``min_genes`` as "at least k of these genes" (tantivy: a boolean query's
``minimum_number_should_match``), no text sorted newest first, one page of 20 records,
and counts of the requested facets (tantivy: one ``aggregate`` call of terms
aggregations, timed apart from the search; SQLite: a GROUP BY per facet).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.peer_engines import TITLE_WEIGHT, load_tantivy, peer_text, query_words
from indexer.index import schema
from indexer.index.records import unpack
from indexer.record import Figure
from server.search.models import DEFAULT_FACETS, SearchRequest

PEER_FORMAT = 1  # bump when what the peers index changes: cached peers are rebuilt
FACETS = tuple(f for f in DEFAULT_FACETS if f != "year")  # value facets; year is a column
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class PeerFigure:
    """One figure as both peers index it."""

    title: str
    text: str
    year: int | None
    facets: dict[str, list[str]]
    record: str  # JSON


def peer_figures(reader: Any) -> Iterator[PeerFigure]:
    """Every live figure of our index, from its stored record."""
    live = np.flatnonzero(reader.live).tolist()
    for start in range(0, len(live), _BATCH):
        for record in map(unpack, reader.records(live[start : start + _BATCH])):
            figure = Figure.from_dict(record)
            title = " ".join(t for t in (figure.figtitle, figure.papertitle) if t)
            values = schema.facet_values(figure)
            yield PeerFigure(
                title=title,
                text=peer_text(figure),
                year=figure.year,
                facets={f: list(dict.fromkeys(values[f])) for f in FACETS},
                record=json.dumps(record, ensure_ascii=False),
            )


@dataclass
class PeerPaths:
    tantivy: Path
    sqlite: Path

    @classmethod
    def of(cls, folder: Path, version: str) -> PeerPaths:
        return cls(
            folder / f"tantivy-v{PEER_FORMAT}-{version}",
            folder / f"fts5-v{PEER_FORMAT}-{version}.sqlite",
        )


def ensure_peers(reader: Any, paths: PeerPaths) -> dict[str, str]:
    """Build the missing peers of ``reader``'s generation; what was done for each."""
    missing = {
        "tantivy": not (paths.tantivy / "meta.json").exists(),
        "sqlite": not paths.sqlite.exists(),
    }
    done = {name: "reused" for name, build in missing.items() if not build}
    if not any(missing.values()):
        return done
    paths.tantivy.parent.mkdir(parents=True, exist_ok=True)
    builders: list[Any] = []
    if missing["tantivy"]:
        builders.append(_TantivyBuilder(paths.tantivy))
    if missing["sqlite"]:
        builders.append(_SqliteBuilder(paths.sqlite))
    start = time.perf_counter()
    count = 0
    for figure in peer_figures(reader):
        for builder in builders:
            builder.add(figure)
        count += 1
    for builder in builders:
        builder.finish()
    seconds = time.perf_counter() - start
    for builder in builders:
        done[builder.name] = f"built from {count:,} records (both together: {seconds:.0f} s)"
    return done


# -- tantivy -----------------------------------------------------------------------------------


class _TantivyBuilder:
    name = "tantivy"

    def __init__(self, path: Path) -> None:
        self.tantivy = load_tantivy()
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        builder = self.tantivy.SchemaBuilder()
        builder.add_text_field("title", tokenizer_name="en_stem", index_option="freq")
        builder.add_text_field("text", tokenizer_name="en_stem", index_option="position")
        for facet in FACETS:
            builder.add_text_field(facet, tokenizer_name="raw", fast=True, index_option="basic")
        builder.add_integer_field("year", indexed=True, fast=True)
        builder.add_bytes_field("record", stored=True)
        self.index = self.tantivy.Index(builder.build(), path=str(self.tmp))
        self.writer = self.index.writer(heap_size=200_000_000, num_threads=2)

    def add(self, figure: PeerFigure) -> None:
        fields: dict[str, Any] = {"title": figure.title, "text": figure.text}
        fields.update({f: v for f, v in figure.facets.items() if v})
        if figure.year is not None:
            fields["year"] = figure.year
        fields["record"] = figure.record.encode("utf-8")
        self.writer.add_document(self.tantivy.Document(**fields))

    def finish(self) -> None:
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.writer = None
        self.index = None
        self.tmp.rename(self.path)


class TantivyPeer:
    """One tantivy index on disk, searched in this process."""

    def __init__(self, path: Path) -> None:
        self.tantivy = load_tantivy()
        self.index = self.tantivy.Index.open(str(path))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self.segments = self.searcher.num_segments
        self.version = self.tantivy.__version__.split(",")[0]

    def query(self, req: SearchRequest) -> tuple[Any, bool]:
        """The query of ``req`` and whether it is scored (else: newest first)."""
        t, query = self.tantivy, self.tantivy.Query
        musts, scored = [], False
        if req.q.startswith("gene:"):
            musts.append(query.term_query(self.schema, "gene", req.q[5:], index_option="basic"))
            scored = True
        elif req.q:
            words = " ".join(query_words(req.q))
            musts.append(
                self.index.parse_query(
                    words,
                    ["title", "text"],
                    field_boosts={"title": TITLE_WEIGHT},
                    conjunction_by_default=True,
                )
            )
            scored = True
        for name, values in req.filters.items():
            if name == "gene" and req.min_genes:
                terms = [
                    (t.Occur.Should, query.term_query(self.schema, name, v, index_option="basic"))
                    for v in values
                ]
                filter_ = query.boolean_query(terms, minimum_number_should_match=req.min_genes)
            else:
                filter_ = query.term_set_query(self.schema, name, list(values))
            musts.append(query.const_score_query(filter_, 0.0) if scored else filter_)
        if req.year_min is not None or req.year_max is not None:
            years = query.range_query(
                self.schema, "year", t.FieldType.Integer, req.year_min, req.year_max
            )
            musts.append(query.const_score_query(years, 0.0) if scored else years)
        if not musts:
            return query.all_query(), False
        if len(musts) == 1:
            return musts[0], scored
        return query.boolean_query([(t.Occur.Must, m) for m in musts]), scored

    def search(self, req: SearchRequest) -> tuple[dict[str, Any], Any]:
        """Total and the page's records (the query, for :meth:`facets`)."""
        query, scored = self.query(req)
        offset = (req.page - 1) * req.per_page
        if scored:
            found = self.searcher.search(query, req.per_page, count=True, offset=offset)
        else:
            found = self.searcher.search(
                query, req.per_page, count=True, order_by_field="year", offset=offset
            )
        doc = self.searcher.doc
        hits = [json.loads(doc(address).get_first("record")) for _, address in found.hits]
        return {"total": found.count, "hits": hits}, query

    def facets(self, query: Any, req: SearchRequest) -> dict[str, Any]:
        aggs = {
            name: {"terms": {"field": name, "size": req.facet_size + 1}}
            for name in req.facets
            if name in (*FACETS, "year")
        }
        return self.searcher.aggregate(query, aggs) if aggs else {}


# -- SQLite FTS5 -------------------------------------------------------------------------------


class _SqliteBuilder:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        for leftover in (self.tmp, self.tmp.with_name(self.tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)  # of a build stopped midway
        self.db = sqlite3.connect(self.tmp)
        self.db.executescript(
            """
            CREATE TABLE figure (id INTEGER PRIMARY KEY, year INTEGER, record TEXT);
            CREATE VIRTUAL TABLE fts USING fts5(title, text, content='',
                                                tokenize='porter unicode61');
            """
        )
        for facet in FACETS:
            self.db.execute(f"CREATE TABLE f_{facet} (fig INTEGER, value TEXT)")
        self.rows: list[PeerFigure] = []
        self.count = 0

    def add(self, figure: PeerFigure) -> None:
        self.rows.append(figure)
        if len(self.rows) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        ids = range(self.count, self.count + len(self.rows))
        db, rows = self.db, self.rows
        db.executemany(
            "INSERT INTO figure VALUES (?, ?, ?)",
            [(i, f.year, f.record) for i, f in zip(ids, rows, strict=True)],
        )
        db.executemany(
            "INSERT INTO fts (rowid, title, text) VALUES (?, ?, ?)",
            [(i, f.title, f.text) for i, f in zip(ids, rows, strict=True)],
        )
        for facet in FACETS:
            db.executemany(
                f"INSERT INTO f_{facet} VALUES (?, ?)",
                [(i, v) for i, f in zip(ids, rows, strict=True) for v in f.facets[facet]],
            )
        self.count += len(rows)
        self.rows = []

    def finish(self) -> None:
        self._flush()
        db = self.db
        for facet in FACETS:
            db.execute(f"CREATE INDEX f_{facet}_vf ON f_{facet} (value, fig)")
            db.execute(f"CREATE INDEX f_{facet}_fv ON f_{facet} (fig, value)")
        db.execute("CREATE INDEX figure_year ON figure (year)")
        db.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        db.commit()
        db.execute("ANALYZE")
        db.execute("VACUUM")
        db.close()
        self.tmp.rename(self.path)


class SqlitePeer:
    """The same request answered with FTS5 MATCH, joins and GROUP BY facet counts."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.db.execute("PRAGMA cache_size = -400000")  # 400 MB: the whole file at 100k
        self.db.execute("PRAGMA temp_store = MEMORY")
        self.version = f"SQLite {sqlite3.sqlite_version} FTS5"

    def search(self, req: SearchRequest) -> dict[str, Any]:
        db = self.db
        db.execute("DROP TABLE IF EXISTS temp.m")
        where: list[str] = []
        params: list[Any] = []
        source, rank = "figure f", "0"
        if req.q.startswith("gene:"):
            where.append("f.id IN (SELECT fig FROM f_gene WHERE value = ?)")
            params.append(req.q[5:])
        elif req.q:
            source = "fts JOIN figure f ON f.id = fts.rowid"
            where.append("fts MATCH ?")
            # each word a quoted string (never an operator); words side by side: all required
            params.append(" ".join(f'"{w}"' for w in query_words(req.q)))
            rank = f"bm25(fts, {TITLE_WEIGHT}, 1.0)"
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
        offset = (req.page - 1) * req.per_page
        page = db.execute(
            f"SELECT figure.record FROM m JOIN figure ON figure.id = m.id ORDER BY {order} "
            f"LIMIT {req.per_page} OFFSET {offset}"
        ).fetchall()
        hits = [json.loads(r[0]) for r in page]
        facets = {}
        for facet in req.facets:
            if facet == "year":
                sql = "SELECT year, count(*) c FROM m WHERE year IS NOT NULL GROUP BY year"
            elif facet in FACETS:
                # CROSS JOIN: walk the matched set, probe the (fig, value) index
                sql = f"SELECT value, count(*) c FROM m CROSS JOIN f_{facet} ON fig = m.id GROUP BY value"
            else:
                continue
            facets[facet] = db.execute(
                f"{sql} ORDER BY c DESC LIMIT {req.facet_size + 1}"
            ).fetchall()
        return {"total": total, "hits": hits, "facets": facets}


# -- sizes ---------------------------------------------------------------------------------------

TANTIVY_PARTS = {
    ".idx": "postings: documents and term frequencies (.idx)",
    ".pos": "positions (.pos)",
    ".term": "term dictionaries (.term)",
    ".store": "stored records, compressed (.store)",
    ".fast": "fast fields: facets, year (.fast)",
    ".fieldnorm": "field lengths (.fieldnorm)",
}


def tantivy_sizes(path: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for file in path.rglob("*"):
        if file.is_file():
            part = TANTIVY_PARTS.get(file.suffix, "other (meta.json, deletes, locks)")
            sizes[part] = sizes.get(part, 0) + file.stat().st_size
    return sizes


def sqlite_sizes(path: Path) -> dict[str, int]:
    """Bytes per part of the database file, from the ``dbstat`` table (the whole file if
    this SQLite lacks it)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error:
        return {"whole file (no dbstat in this SQLite)": path.stat().st_size}
    finally:
        db.close()
    sizes: dict[str, int] = {}
    for name, size in rows:
        if name.startswith("fts"):
            part = "FTS5 index (fts_*)"
        elif name == "figure":
            part = "records JSON and years (figure table)"
        elif name.startswith("f_") or name.startswith("sqlite_autoindex_f_"):
            part = "facet tables and their indexes (f_*)"
        elif name == "figure_year":
            part = "year index"
        else:
            part = "other (schema, statistics)"
        sizes[part] = sizes.get(part, 0) + size
    return sizes
