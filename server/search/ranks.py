"""The first few of many, without sorting them all: every sort of this service (results,
facet values, similar figures) needs only its first ``k``, and their ties, in order."""

from __future__ import annotations

import numpy as np


def smallest_with_ties(keys: np.ndarray, k: int) -> np.ndarray:
    """Where the ``k`` smallest of ``keys`` are, with every key tied with the ``k``-th
    (so a sort of those alone by further keys orders the first ``k`` as a whole sort
    would), ascending positions; every position when there are no more than ``k``."""
    if k >= len(keys):
        return np.arange(len(keys))
    if k <= 0:
        return np.arange(0)
    kth = np.partition(keys, k - 1)[k - 1]
    return np.flatnonzero(keys <= kth)
