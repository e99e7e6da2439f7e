"""The first k of many, ties kept: what every sort of the service reads before sorting."""

from __future__ import annotations

import numpy as np
import pytest

from server.search.ranks import smallest_with_ties


@pytest.mark.parametrize("k", [0, 1, 3, 20, 99, 100, 150])
def test_the_k_smallest_and_every_tie_of_the_kth(k: int) -> None:
    keys = np.random.default_rng(k).integers(0, 12, size=100)  # many ties
    kept = smallest_with_ties(keys, k)
    assert kept.tolist() == sorted(kept.tolist())
    if k >= len(keys):
        assert kept.tolist() == list(range(len(keys)))
        return
    if k == 0:
        assert kept.tolist() == []
        return
    kth = np.sort(keys)[k - 1]
    assert kept.tolist() == [i for i, key in enumerate(keys.tolist()) if key <= kth]
    # a stable sort of those alone starts as the stable sort of all
    whole = np.argsort(keys, kind="stable")[:k]
    assert kept[np.argsort(keys[kept], kind="stable")][:k].tolist() == whole.tolist()
