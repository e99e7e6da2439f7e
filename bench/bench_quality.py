"""Search quality benchmark: our search beside tantivy and SQLite FTS5 on judged queries.

    python -m bench.bench_quality [--index DIR] [--json out.json] [--misses]

Needs the ``bench`` extra for tantivy (``pip install -e '.[bench]'``). In one run it builds
an index of the bundled sample (``sample_data/pfocr``) in a temporary folder (unless
``--index`` names one already built from it) and indexes the same records in tantivy and
SQLite FTS5 (see ``bench/peer_engines.py``: same fields, titles 2x, English stemming, every
typed word OR-ed, plain BM25). Every query of ``bench/judged_queries.json`` runs on all three.

The graded queries (under ``"graded"``: grades 2 and 1 by reading the records) are scored
per kind and overall, for each engine (``bench/ranking_metrics.py``):

- ``nDCG@10``: graded gains (the grades), log2 discount, ideal DCG from every judged grade;
- ``MRR``: reciprocal rank of the first grade-2 figure (0 if none in the first 100);
- ``P@5``: share of the first five places holding a figure of grade 1 or 2;
- ``R@10``: share of the figures of grade 1 or 2 found in the first ten;
- ``no hit``: number of queries answered with no figure at all.

Then: our overall nDCG@10 over the better peer's; the kinds where ours is more than 0.02
below the better peer; the five queries where ours trails the better peer most; the
queries no engine answers well. The known-item queries (under ``"queries"``, each relevant
figure taken as grade 2) get the same three-engine table, and the known-item table of
ours alone (``rank1``, ``top3``, ``mrr``, ``recall``, ``p@10``, which
``tests/test_quality.py`` holds every kind above). The figures last measured, and how the
judgments were made: ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bench import ranking_metrics as rm
from bench.peer_engines import Fts5Engine, TantivyEngine, load_tantivy, peer_documents
from indexer import pipeline
from server.search.models import InvalidParameter, SearchRequest
from server.search.service import SearchService

ROOT = Path(__file__).resolve().parent.parent
JUDGED = ROOT / "bench" / "judged_queries.json"
SAMPLE = ROOT / "sample_data" / "pfocr"
RANKED = 100  # hits looked at for the rank of the first relevant one
METRICS = ("rank1", "top3", "mrr", "recall", "p@10")
ENGINES = ("ours", "tantivy", "sqlite")
GRADED_KINDS = (
    "topic",
    "gene",
    "greek",
    "disease_organism",
    "metabolic_chemical",
    "question",
    "spelling",
)
KIND_GAP = 0.02  # issue 14: no kind more than this below the better peer
TRAILING = 5


class Engine(Protocol):
    name: str
    version: str

    def search(self, text: str, limit: int) -> list[str]: ...


# -- the judged queries ---------------------------------------------------------------------


def judged_queries(path: Path = JUDGED) -> list[dict[str, Any]]:
    """The known-item queries: ``[{"kind", "q", "relevant": [figid]}]``, as judged."""
    return json.loads(path.read_text(encoding="utf-8"))["queries"]


def graded_queries(path: Path = JUDGED) -> list[dict[str, Any]]:
    """The graded queries: ``[{"kind", "q", "class"?, "grades": {figid: 2 or 1}}]``."""
    return json.loads(path.read_text(encoding="utf-8"))["graded"]


def as_graded(query: dict[str, Any]) -> dict[str, Any]:
    """A known-item query with each relevant figure as grade 2."""
    return {"kind": query["kind"], "q": query["q"], "grades": dict.fromkeys(query["relevant"], 2)}


# -- the known-item table of ours alone (tests/test_quality.py) -----------------------------


def query_scores(service: SearchService, query: dict[str, Any]) -> dict[str, float]:
    """The known-item metrics of one judged query."""
    relevant = set(query["relevant"])
    ranked = [
        h["figid"] for h in service.search(SearchRequest(q=query["q"], per_page=RANKED))["hits"]
    ]
    found = {h["figid"] for h in service.iter_hits(SearchRequest(q=query["q"]), 100_000)}
    first = next((i for i, figid in enumerate(ranked) if figid in relevant), None)
    top10 = ranked[:10]
    return {
        "rank1": float(first == 0),
        "top3": float(first is not None and first < 3),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "recall": len(found & relevant) / len(relevant),
        "p@10": sum(f in relevant for f in top10) / len(top10) if top10 else 0.0,
    }


def evaluate(service: SearchService, queries: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean metrics per query kind, and over all queries under ``"all"`` (with ``"n"``)."""
    by_kind: dict[str, list[dict[str, float]]] = defaultdict(list)
    for query in queries:
        scores = query_scores(service, query)
        by_kind[query["kind"]].append(scores)
        by_kind["all"].append(scores)
    return {
        kind: {"n": len(rows), **{m: sum(r[m] for r in rows) / len(rows) for m in METRICS}}
        for kind, rows in by_kind.items()
    }


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [f"{'kind':<16} {'n':>4} " + " ".join(f"{m:>7}" for m in METRICS)]
    for kind in [*sorted(k for k in results if k != "all"), "all"]:
        row = results[kind]
        lines.append(f"{kind:<16} {row['n']:>4} " + " ".join(f"{row[m]:>7.3f}" for m in METRICS))
    return "\n".join(lines)


# -- three engines on graded judgments ------------------------------------------------------


class OurEngine:
    """The search service as a ranked list of figure ids (no facets asked for)."""

    name = "ours"

    def __init__(self, service: SearchService) -> None:
        self.service = service
        self.version = f"SearchService over index {service.version}"
        self.errors: dict[str, str] = {}

    def search(self, text: str, limit: int) -> list[str]:
        request = SearchRequest(q=text, per_page=limit, facets=())
        try:
            return [hit["figid"] for hit in self.service.search(request)["hits"]]
        except InvalidParameter as exc:  # a refused query is an empty page to its user
            self.errors[text] = exc.message
            return []


def run_queries(engines: Sequence[Engine], queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each query with, per engine, its metrics and its first ten figure ids."""
    rows = []
    for query in queries:
        row = {key: query[key] for key in ("kind", "q", "class") if key in query}
        row["judged"] = len(query["grades"])
        for engine in engines:
            ranked = engine.search(query["q"], RANKED)
            row[engine.name] = {**rm.scores(ranked, query["grades"]), "top10": ranked[:10]}
        rows.append(row)
    return rows


def by_kind(rows: list[dict[str, Any]], kinds: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{kind or "all": {engine: summary}}``, kinds in the given order, then ``"all"``."""
    groups = {kind: [r for r in rows if r["kind"] == kind] for kind in kinds}
    groups["all"] = rows
    return {
        kind: {engine: rm.summarize([r[engine] for r in group]) for engine in ENGINES}
        for kind, group in groups.items()
        if group
    }


COLUMNS = (("ndcg@10", "nDCG@10"), ("mrr", "MRR"), ("p@5", "P@5"), ("recall@10", "R@10"))


def comparison_table(title: str, summary: dict[str, dict[str, Any]]) -> str:
    """One row per kind and overall; for each metric, ours / tantivy / sqlite."""
    names = [name for _, name in COLUMNS] + ["no hit"]
    group = " ".join(f"{e[:6]:>6}" for e in ENGINES)  # 20 characters, as a row's cell
    lines = [
        f"{title:<18} {'':>3} |" + "|".join(f" {name:<20} " for name in names),
        f"{'kind':<18} {'n':>3} |" + "|".join(f" {group} " for _ in names),
    ]
    for kind, engines in summary.items():
        cells = [" ".join(f"{engines[e][m]:>6.3f}" for e in ENGINES) for m, _ in COLUMNS]
        cells.append(" ".join(f"{int(engines[e]['no_hit']):>6d}" for e in ENGINES))
        n = engines["ours"]["n"]
        lines.append(f"{kind:<18} {n:>3} |" + "|".join(f" {c} " for c in cells))
    return "\n".join(line.rstrip() for line in lines)


def better_peer(engines: dict[str, Any], metric: str = "ndcg@10") -> str:
    return max(("tantivy", "sqlite"), key=lambda e: engines[e][metric])


def findings(rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The overall ratio, the kinds below the better peer, the queries trailing most and
    the queries where no engine puts a relevant figure in the first ten."""
    overall = summary["all"]
    peer = better_peer(overall)
    best = overall[peer]["ndcg@10"]
    ratio = overall["ours"]["ndcg@10"] / best if best else 0.0
    kinds_below = {
        kind: round(engines["ours"]["ndcg@10"] - engines[better_peer(engines)]["ndcg@10"], 3)
        for kind, engines in summary.items()
        if kind != "all"
        and engines["ours"]["ndcg@10"] < engines[better_peer(engines)]["ndcg@10"] - KIND_GAP
    }

    def gap(row: dict[str, Any]) -> float:
        return row["ours"]["ndcg@10"] - max(row[e]["ndcg@10"] for e in ("tantivy", "sqlite"))

    trailing = sorted((r for r in rows if gap(r) < 0), key=gap)[:TRAILING]
    unanswered = [r for r in rows if all(r[e]["recall@10"] == 0 for e in ENGINES)]
    return {
        "better_peer": peer,
        "ndcg_ratio": ratio,
        "kinds_below_better_peer": kinds_below,
        "trailing": [_brief(r) for r in trailing],
        "no_engine_answers": [_brief(r) for r in unanswered],
    }


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {"q": row["q"], "kind": row["kind"], **{e: row[e]["ndcg@10"] for e in ENGINES}}


def findings_text(found: dict[str, Any], summary: dict[str, dict[str, Any]]) -> str:
    overall, peer = summary["all"], found["better_peer"]
    lines = [
        f"overall nDCG@10, ours / better peer ({peer}): {overall['ours']['ndcg@10']:.3f} / "
        f"{overall[peer]['ndcg@10']:.3f} = {found['ndcg_ratio']:.2f}x  (issue 14 target: >= 1.10x)",
        f"kinds more than {KIND_GAP} below the better peer: "
        + (
            ", ".join(f"{k} ({v:+.3f})" for k, v in found["kinds_below_better_peer"].items())
            or "none"
        ),
        "",
        "queries where ours trails the better peer most (nDCG@10):",
        f"  {'query':<48} {'kind':<18} {'ours':>6} {'tantiv':>6} {'sqlite':>6}",
    ]
    lines += [_brief_line(b) for b in found["trailing"]] or ["  (none)"]
    lines += ["", "queries where no engine has a relevant figure in its first ten:"]
    lines += [_brief_line(b) for b in found["no_engine_answers"]] or ["  (none)"]
    return "\n".join(lines)


def _brief_line(b: dict[str, Any]) -> str:
    q = b["q"] if len(b["q"]) <= 48 else b["q"][:45] + "..."
    return f"  {q:<48} {b['kind']:<18} " + " ".join(f"{b[e]:>6.3f}" for e in ENGINES)


# -- main -----------------------------------------------------------------------------------


def build_engines(service: SearchService) -> list[Engine]:
    documents = peer_documents(SAMPLE)
    return [OurEngine(service), TantivyEngine(documents), Fts5Engine(documents)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="an index root built from the sample")
    parser.add_argument("--json", type=Path, help="also write every figure and query here")
    parser.add_argument("--misses", action="store_true", help="list known items not at rank 1")
    args = parser.parse_args(argv)
    load_tantivy()  # before the index is built: a missing peer says how to install it at once
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.index
        if root is None:
            root = Path(tmp) / "index"
            pipeline.build([SAMPLE], root, workers=1)
        service = SearchService(root)
        try:
            report = measure(service, print, misses=args.misses)
        finally:
            service.close()
    print(f"\n(ran in {time.perf_counter() - started:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")


def measure(
    service: SearchService, say: Callable[[str], None], *, misses: bool = False
) -> dict[str, Any]:
    """Run every judged query on the three engines, print the tables, return everything."""
    engines = build_engines(service)
    say("engines: " + "; ".join(f"{e.name} = {e.version}" for e in engines) + "\n")
    graded = run_queries(engines, graded_queries())
    graded_summary = by_kind(graded, GRADED_KINDS)
    found = findings(graded, graded_summary)
    say(comparison_table("graded queries", graded_summary))
    say("")
    say(findings_text(found, graded_summary))

    known = judged_queries()
    known_rows = run_queries(engines, [as_graded(q) for q in known])
    known_kinds = sorted({q["kind"] for q in known})
    known_summary = by_kind(known_rows, known_kinds)
    say("\n" + comparison_table("known items", known_summary))
    known_table = evaluate(service, known)
    say("\nknown items, ours alone (as tests/test_quality.py holds them):")
    say(table(known_table))
    if misses:
        for query in known:
            scores = query_scores(service, query)
            if scores["rank1"] < 1 or scores["recall"] < 1:
                say(f"{query['kind']} {query['q']!r} {scores}")
    errors = engines[0].errors
    if errors:
        say("\nqueries ours refused: " + "; ".join(f"{q!r}: {m}" for q, m in errors.items()))
    return {
        "engines": {e.name: e.version for e in engines},
        "graded": {"by_kind": graded_summary, "findings": found, "queries": graded},
        "known_items": {"by_kind": known_summary, "queries": known_rows},
        "known_item_table": known_table,
        "refused_by_ours": errors,
    }


if __name__ == "__main__":
    main()
