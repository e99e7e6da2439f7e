"""The statistics of gene-set enrichment: vectorised, and in log space where doubles fail.

For one figure: ``a`` genes of the query in the figure, ``n`` query genes in the
background, ``K`` figure genes in the background, ``M`` genes in the background; and
``b = n - a``, ``c = K - a``, ``d = M - n - K + a`` (the 2x2 table).

- p-value: ``P(X >= a)`` for ``X`` hypergeometric (``M`` genes, ``K`` of them the
  figure's, ``n`` drawn): Fisher's exact test, one-sided (greater). scipy's (Boost's)
  survival function gives it where a double holds it with room to spare; below
  ``TINY`` the tail is summed in log space (``logsumexp`` of log-pmf terms from
  ``betaln``), so a p-value of 1e-900 is still positive, exact and ordered.
- Benjamini-Hochberg adjusted p-values, in log space.
- Enrichr's odds ratio ``a*d / max(b*c, 1)``, fold enrichment ``(a/n) / (K/M)``, and
  Enrichr's combined score ``-ln(p) * odds ratio``.

A p-value depends only on ``(a, K)`` once ``n`` and ``M`` are fixed: it is computed once
per distinct pair, however many figures share it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln, logsumexp
from scipy.stats import hypergeom

TINY = 1e-250  # below this, the survival function is summed in log space
LOG10 = math.log(10.0)


def log_p_values(a: np.ndarray, K: np.ndarray, n: int, M: int) -> np.ndarray:
    """Natural log of ``P(X >= a)`` for each pair of ``a`` and ``K`` (``a >= 1``)."""
    a = np.asarray(a, dtype=np.int64)
    K = np.asarray(K, dtype=np.int64)
    if not a.size:
        return np.zeros(0)
    width = int(K.max()) + 1
    pairs, inverse = distinct(a * width + K)
    pair_a, pair_k = pairs // width, pairs % width
    sf = hypergeom.sf(pair_a - 1, M, pair_k, n)
    log_p = np.log(np.maximum(sf, TINY))
    for i in np.flatnonzero(sf < TINY).tolist():
        log_p[i] = log_tail(int(pair_a[i]), int(pair_k[i]), n, M)
    np.minimum(log_p, 0.0, out=log_p)  # never above 1
    return log_p[inverse]


def log_tail(a: int, K: int, n: int, M: int) -> float:
    """``log P(X >= a)`` summed term by term in log space (for tails past a double)."""
    k = np.arange(a, min(K, n) + 1, dtype=np.float64)
    if not k.size:
        return -math.inf
    return float(logsumexp(log_pmf(k, K, n, M)))


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
