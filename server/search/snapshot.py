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
        self.docnum_by_figid = {f: i for i, f in enumerate(self.figids) if self.live[i]}
        # Each document's place in figid order: the last tie-breaker of every sort.
        self.figid_rank = np.empty(self.n_docs, dtype=np.int32)
        self.figid_rank[sorted(range(self.n_docs), key=self.figids.__getitem__)] = np.arange(
            self.n_docs, dtype=np.int32
        )
        self.facets = {
            facet: FacetArrays(facet, self.facet_values(facet), self.live)
            for facet in schema.FACET_FIELDS
        }
        self.suggest_index: Any = None  # built on first use by server.search.suggest
