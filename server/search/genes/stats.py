"""The statistics of gene-set enrichment: vectorised, and in log space where doubles fail.

For one figure: ``a`` genes of the query in the figure, ``n`` query genes in the
background, ``K`` figure genes in the background, ``M`` genes in the background; and
``b = n - a``, ``c = K - a``, ``d = M - n - K + a`` (the 2x2 table).

- p-value: ``P(X >= a)`` for ``X`` hypergeometric (``M`` genes, ``K`` of them the
  figure's, ``n`` drawn): Fisher's exact test, one-sided (greater). The tail is summed
  in log space (the first term from ``betaln``, the next ones by the ratio of successive
  terms, added with ``logaddexp``), so a p-value of 1e-900 is still positive and
  ordered; it agrees with exact integer arithmetic to ~1e-10 relative. (scipy's
  ``hypergeom.sf``, Boost's, is exact but costs 30-300 us per value at these sizes and
  underflows below 1e-308; ``hypergeom.logsf`` loops in Python.)
- Benjamini-Hochberg adjusted p-values, in log space.
- Enrichr's odds ratio ``a*d / max(b*c, 1)``, fold enrichment ``(a/n) / (K/M)``, and
  Enrichr's combined score ``-ln(p) * odds ratio``.

A p-value depends only on ``(a, K)`` once ``n`` and ``M`` are fixed: it is computed once
per distinct pair, however many figures share it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln

LOG10 = math.log(10.0)
_BLOCK = 32  # figure sizes whose tails are summed in one array operation
_RATIO, _MORE = 0.25, 34  # 0.25 ** 34 < 1e-20: past that, terms are below a double's notice


def log_p_values(a: np.ndarray, K: np.ndarray, n: int, M: int) -> np.ndarray:
    """Natural log of ``P(X >= a)`` for each pair of ``a`` and ``K`` (``a >= 1``).

    Each distinct figure size ``K`` gets its terms ``log P(X = k)`` from the smallest
    ``a`` asked with it on: the first from ``betaln``, the next ones by the ratio of
    successive terms, and only as far as they matter (:func:`_last_term`). A reversed
    running ``logaddexp`` then sums them from the far end (the smallest first), which
    gives every tail of that size at once, in log space at any size. Sizes are done in
    blocks of similar widths: one array operation per block, never a loop per figure."""
    a = np.asarray(a, dtype=np.int64)
    K = np.asarray(K, dtype=np.int64)
    if not a.size:
        return np.zeros(0)
    span = int(a.max()) + 1
    pairs, inverse = distinct(K * span + a)  # sorted by size, then overlap
    pair_k, pair_a = np.divmod(pairs, span)
    starts = np.flatnonzero(np.concatenate(([True], pair_k[1:] != pair_k[:-1])))
    ends = np.append(starts[1:], len(pairs)) - 1
    sizes, lows = pair_k[starts], pair_a[starts]  # each size and its smallest overlap
    highs = _last_term(pair_a[ends], sizes, n, M)
    segment = np.repeat(np.arange(len(starts)), ends - starts + 1)
    log_p = np.empty(len(pairs))
    by_width = np.argsort(highs - lows, kind="stable")
    for block in np.array_split(by_width, -(-len(by_width) // _BLOCK)):
        tails = _tails(sizes[block], lows[block], highs[block], n, M)
        local = np.full(len(starts), -1)
        local[block] = np.arange(len(block))
        rows = np.flatnonzero(local[segment] >= 0)
        log_p[rows] = tails[local[segment[rows]], pair_a[rows] - lows[segment[rows]]]
    np.minimum(log_p, 0.0, out=log_p)  # never above 1
    return log_p[inverse]


def _last_term(a: np.ndarray, K: np.ndarray, n: int, M: int) -> np.ndarray:
    """The last ``k`` whose term can matter to ``P(X >= a)``: past the first ``k >= a``
    where a term is at most ``_RATIO`` times the one before (the ratio only falls from
    there on), ``_MORE`` more terms shrink what is left below 1e-20 of the tail."""
    K = K.astype(np.float64)
    c = M - K - n + 1.0
    # (K-k)(n-k) <= q (k+1)(c+k)  <=>  (1-q) k^2 - (K + n + q(c+1)) k + (Kn - qc) <= 0
    q = _RATIO
    b = K + n + q * (c + 1.0)
    root = (b - np.sqrt(np.maximum(b * b - 4.0 * (1.0 - q) * (K * n - q * c), 0.0))) / (
        2.0 * (1.0 - q)
    )
    first = np.maximum(a, np.ceil(root)).astype(np.int64)
    return np.minimum(first + _MORE, np.minimum(K.astype(np.int64), n))


def _tails(sizes: np.ndarray, lows: np.ndarray, highs: np.ndarray, n: int, M: int) -> np.ndarray:
    """``tails[i, j] = log P(X >= lows[i] + j)`` for figures of ``sizes[i]`` genes, summed
    over the terms up to ``highs[i]``."""
    width = int((highs - lows).max()) + 1
    k = lows[:, None] + np.arange(width)[None, :]
    inside = k <= highs[:, None]
    k = np.minimum(k, highs[:, None]).astype(np.float64)
    size = sizes[:, None].astype(np.float64)
    with np.errstate(divide="ignore"):  # the ratio past the last possible k is 0
        ratio = np.log((size - k) * (n - k)) - np.log((k + 1.0) * (M - size - n + k + 1.0))
    terms = np.empty_like(k)
    terms[:, 0] = log_pmf(lows.astype(np.float64), sizes, n, M)
    np.cumsum(ratio[:, :-1], axis=1, out=terms[:, 1:])
    terms[:, 1:] += terms[:, :1]
    terms[~inside] = -np.inf
    return np.logaddexp.accumulate(terms[:, ::-1], axis=1)[:, ::-1]


def log_pmf(k: np.ndarray, K: int, n: int, M: int) -> np.ndarray:
    """``log P(X = k)``: C(K, k) C(M - K, n - k) / C(M, n), each as a log from betaln."""
    return _log_comb(K, k) + _log_comb(M - K, n - k) - _log_comb(M, n)


def _log_comb(total: float | np.ndarray, chosen: float | np.ndarray) -> np.ndarray:
    total = np.asarray(total, dtype=np.float64)
    chosen = np.asarray(chosen, dtype=np.float64)
    return -np.log1p(total) - betaln(total - chosen + 1.0, chosen + 1.0)


def log_adjusted(log_p: np.ndarray, counts: np.ndarray, m: int) -> np.ndarray:
    """Log Benjamini-Hochberg adjusted p-values of distinct p-values in ascending order,
    ``counts[i]`` hypotheses sharing the i-th; ``m`` hypotheses in all (those not given
    have p = 1, so they adjust to 1 and lower no one's value)."""
    if not len(log_p):
        return np.zeros(0)
    last_rank = np.cumsum(counts, dtype=np.float64)
    scaled = math.log(m) - np.log(last_rank) + log_p
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    return np.minimum(adjusted, 0.0)


def odds_ratio(a: np.ndarray, K: np.ndarray, n: int, M: int) -> np.ndarray:
    """Enrichr's odds ratio ``a*d / max(b*c, 1)``: finite even when ``b*c`` is 0."""
    a = np.asarray(a, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    b, c, d = n - a, K - a, M - n - K + a
    return a * d / np.maximum(b * c, 1.0)


def fold_enrichment(a: np.ndarray, K: np.ndarray, n: int, M: int) -> np.ndarray:
    """How many times more of the query is in the figure than chance puts there."""
    return (np.asarray(a, dtype=np.float64) / n) / (np.asarray(K, dtype=np.float64) / M)


def combined_score(log_p: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """Enrichr's combined score, ``-ln(p) * odds ratio``."""
    return -log_p * odds


def distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ``keys`` (non-negative ints) and each key's index among them:
    ``np.unique(keys, return_inverse=True)``, by counting when the keys are few."""
    if len(keys) and int(keys.max()) < 8 * len(keys) + 4096:
        present = np.zeros(int(keys.max()) + 1, dtype=bool)
        present[keys] = True
        values = np.flatnonzero(present)
        slot = np.zeros(len(present), dtype=np.int64)
        slot[values] = np.arange(len(values))
        return values, slot[keys]
    values, inverse = np.unique(keys, return_inverse=True)
    return values, inverse.reshape(-1)


def p_text(log_p: float, digits: int = 6) -> str:
    """A p-value as text with ``digits`` significant digits, at any size ("1.5e-903")."""
    if log_p >= math.log(1e-300):
        return f"{math.exp(log_p):.{digits}g}"
    log10 = log_p / LOG10
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f}".rstrip("0").rstrip(".") + f"e{exponent}"
