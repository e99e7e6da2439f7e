"""Filters over one index generation as document masks: years and facet values."""

from __future__ import annotations

import numpy as np

from indexer.organisms import latin_of_common_name
from server.search.facets import FacetArrays
from server.search.snapshot import MISSING_YEAR, Snapshot


def year_mask(snap: Snapshot, low: int | None, high: int | None) -> np.ndarray:
    """Documents with a year between ``low`` and ``high`` (either open: None)."""
    mask = snap.years != MISSING_YEAR
    if low is not None:
        mask &= snap.years >= low
    if high is not None:
        mask &= snap.years <= high
    return mask


def facet_ordinals(
    arrays: FacetArrays, facet: str, value: str, *, prefix: bool = False
) -> list[int]:
    """Ordinals of ``facet`` values that ``value`` names: exact (any case), an organism's
    common name, else every value holding all its words ("cancer": "breast cancer")."""
    folded = value.strip().casefold()
    if prefix:
        return [o for o, v in enumerate(arrays.values) if v.casefold().startswith(folded)]
    ordinal = arrays.lookup(folded)
    if ordinal is not None:
        return [ordinal]
    if facet == "organism":
        latin = latin_of_common_name(folded)
        if latin is not None and arrays.lookup(latin) is not None:
            return [arrays.lookup(latin)]
    return arrays.containing_words(folded)


def facet_mask(
    snap: Snapshot, facet: str, values: list[str], *, prefix: bool = False
) -> np.ndarray:
    """Documents with any of ``values`` in ``facet``."""
    arrays = snap.facets[facet]
    ordinals: list[int] = []
    for value in values:
        ordinals.extend(facet_ordinals(arrays, facet, value, prefix=prefix))
    return arrays.mask(ordinals, snap.n_docs)
