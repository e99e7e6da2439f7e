"""Search quality benchmark: the judged queries of ``bench/judged_queries.json``, by kind.

    python -m bench.bench_quality [--index DIR] [--json out.json]

Builds an index of the bundled sample (``sample_data/pfocr``) in a temporary folder
unless ``--index`` names one already built from it, runs every judged query through the
search service and prints, per query kind and over all queries:

- ``rank1``: share of queries whose first hit is relevant;
- ``top3``: share with a relevant hit among the first three;
- ``mrr``: mean reciprocal rank of the first relevant hit (0 if none in the first 100);
- ``recall``: share of the relevant figures found at all (every match counted);
- ``p@10``: share of the first ten hits (or fewer, if fewer match) that are relevant.

``tests/test_quality.py`` keeps every kind a little under the figures reached.

Last measured (2026-12-01), before the spelling work (commit 27f7d6f) and after it:

    before                n   rank1    top3     mrr  recall    p@10
    caption_phrase       12   0.917   1.000   0.944   1.000   0.979
    entrez               10   0.000   0.000   0.000   0.000   0.000
    gene_symbol          15   1.000   1.000   1.000   1.000   0.907
    greek                20   0.800   0.800   0.800   0.338   0.800
    organism              9   0.111   0.222   0.167   0.040   0.133
    organism_common       7   1.000   1.000   1.000   0.190   1.000
    paper_title          12   1.000   1.000   1.000   1.000   1.000
    printed_alias         8   0.375   0.625   0.500   0.490   0.375
    quoted_title         11   0.818   1.000   0.909   1.000   0.864
    symbol_not_stem       8   0.875   1.000   0.917   0.958   0.694
    title                30   1.000   1.000   1.000   1.000   1.000
    all                 142   0.782   0.831   0.804   0.704   0.772

    after                 n   rank1    top3     mrr  recall    p@10
    caption_phrase       12   0.917   1.000   0.944   1.000   0.979
    entrez               10   1.000   1.000   1.000   1.000   1.000
    gene_symbol          15   1.000   1.000   1.000   1.000   0.907
    greek                20   1.000   1.000   1.000   0.882   1.000
    organism              9   0.667   1.000   0.815   1.000   0.922
    organism_common       7   1.000   1.000   1.000   0.981   1.000
    paper_title          12   1.000   1.000   1.000   1.000   1.000
    printed_alias         8   0.875   1.000   0.938   1.000   0.963
    quoted_title         11   1.000   1.000   1.000   1.000   0.909
    symbol_not_stem       8   0.875   1.000   0.938   0.977   0.910
    title                30   1.000   1.000   1.000   1.000   1.000
    all                 142   0.958   1.000   0.977   0.981   0.969

What is left: a compact spelling finds a name printed in parts ("NFkB": "NF-κB") only
where the lexicon knows it printed so, and a name printed compact ("TNFa") is not found
by a query in parts in captions; a caption's "Ras" in a figure without a Ras gene is
indexed as "ra"; organism queries rank figures that name the organism in their text
above figures only labelled with it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from indexer import pipeline
from server.search.models import SearchRequest
from server.search.service import SearchService

ROOT = Path(__file__).resolve().parent.parent
JUDGED = ROOT / "bench" / "judged_queries.json"
SAMPLE = ROOT / "sample_data" / "pfocr"
RANKED = 100  # hits looked at for the rank of the first relevant one
METRICS = ("rank1", "top3", "mrr", "recall", "p@10")


def judged_queries(path: Path = JUDGED) -> list[dict[str, Any]]:
    """``[{"kind", "q", "relevant": [figid]}]``, as judged."""
    return json.loads(path.read_text(encoding="utf-8"))["queries"]


def query_scores(service: SearchService, query: dict[str, Any]) -> dict[str, float]:
    """The metrics of one judged query."""
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="an index root built from the sample")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--misses", action="store_true", help="list queries not at rank 1")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.index
        if root is None:
            root = Path(tmp) / "index"
            pipeline.build([SAMPLE], root, workers=1)
        service = SearchService(root)
        queries = judged_queries()
        results = evaluate(service, queries)
        print(table(results))
        if args.misses:
            for query in queries:
                scores = query_scores(service, query)
                if scores["rank1"] < 1 or scores["recall"] < 1:
                    print(query["kind"], repr(query["q"]), scores)
        service.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
