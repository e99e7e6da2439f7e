"""Ranking metrics over graded judgments, as ``bench.bench_quality`` reports them.

``ranked`` is an engine's answer, best first (figure ids, no repeats); ``grades`` maps each
judged figure to its grade (2: about what the query asks, 1: partly or closely related);
every figure not in ``grades`` is 0. Gains are the grades themselves (linear gains), ranks
are discounted by log2(rank + 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

NDCG_DEPTH = 10
MRR_DEPTH = 100  # the first grade-2 figure further down than this counts as not found
PRECISION_DEPTH = 5
RECALL_DEPTH = 10


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: the gain at rank r (from 1) divided by log2(r + 1)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg(ranked: Sequence[str], grades: Mapping[str, int], depth: int = NDCG_DEPTH) -> float:
    """DCG of the first ``depth`` answers over the DCG of the best possible order of every
    judged figure (the ideal may hold more relevant figures than the engine returned)."""
    ideal = dcg(sorted(grades.values(), reverse=True)[:depth])
    if ideal == 0:
        return 0.0
    return dcg([grades.get(figid, 0) for figid in ranked[:depth]]) / ideal


def reciprocal_rank(
    ranked: Sequence[str], grades: Mapping[str, int], depth: int = MRR_DEPTH
) -> float:
    """1 / rank of the first grade-2 figure in the first ``depth`` answers, else 0 (a grade-1
    figure does not count: this is how soon the user sees what they asked for)."""
    for rank, figid in enumerate(ranked[:depth], start=1):
        if grades.get(figid, 0) >= 2:
            return 1.0 / rank
    return 0.0


def precision(
    ranked: Sequence[str], grades: Mapping[str, int], depth: int = PRECISION_DEPTH
) -> float:
    """Share of the first ``depth`` places holding a figure of grade 1 or 2; a place left
    empty (fewer answers than ``depth``) counts as not relevant."""
    return sum(grades.get(figid, 0) >= 1 for figid in ranked[:depth]) / depth


def recall(ranked: Sequence[str], grades: Mapping[str, int], depth: int = RECALL_DEPTH) -> float:
    """Share of the figures of grade 1 or 2 found in the first ``depth`` answers."""
    relevant = {figid for figid, grade in grades.items() if grade >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:depth])) / len(relevant)


METRICS = ("ndcg@10", "mrr", "p@5", "recall@10", "no_hit")


def scores(ranked: Sequence[str], grades: Mapping[str, int]) -> dict[str, float]:
    """Every metric of one answer (``no_hit`` is 1 for an empty answer: summed, not averaged)."""
    return {
        "ndcg@10": ndcg(ranked, grades),
        "mrr": reciprocal_rank(ranked, grades),
        "p@5": precision(ranked, grades),
        "recall@10": recall(ranked, grades),
        "no_hit": float(not ranked),
    }


def summarize(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Means of the metrics over queries, and the count of queries with no hit at all."""
    n = len(rows)
    summary = {m: sum(r[m] for r in rows) / n for m in METRICS if m != "no_hit"}
    summary["no_hit"] = sum(r["no_hit"] for r in rows)
    summary["n"] = n
    return summary
