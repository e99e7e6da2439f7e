"""One index generation as the search service uses it: the stored data plus the in-memory
structures built from it once (facet arrays, figid lookup, the autocomplete index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from indexer.index import schema
from indexer.index.reader import MISSING_YEAR, GenerationReader
from server.search.facets import FacetArrays

__all__ = ["MISSING_YEAR", "Snapshot"]


class Snapshot(GenerationReader):
    """Immutable once built; a new generation gets a new snapshot."""

    def __init__(self, generation: Path) -> None:
        super().__init__(generation)
        self.suggest_index: Any = None  # built on first use by server.search.suggest
        with self.closed_on_error():
            self.docnum_by_figid = {f: i for i, f in enumerate(self.figids) if self.live[i]}
            self.figid_rank = _figid_rank(self.figids)
            # The order of searches without free text (nothing to score): by year, newest
            # or oldest first, missing years last, then by figid.
            self.newest_first = np.lexsort((self.figid_rank, -self.years))
            known = np.where(self.years == MISSING_YEAR, 10_000, self.years)
            self.oldest_first = np.lexsort((self.figid_rank, known))
            self.facets = {
                facet: FacetArrays(facet, self.facet_values(facet), self.live)
                for facet in schema.FACET_FIELDS
            }


def _figid_rank(figids: list[str]) -> np.ndarray:
    """Each document's place in figid order: the last tie-breaker of every sort."""
    rank = np.empty(len(figids), dtype=np.int32)
    rank[sorted(range(len(figids)), key=figids.__getitem__)] = np.arange(len(figids))
    return rank
