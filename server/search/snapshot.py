"""One index generation as the search service uses it: the stored data plus the in-memory
structures built from it once (facet arrays, figid lookup, the autocomplete index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.index import schema
from indexer.index.reader import MISSING_YEAR, GenerationReader
from server.search.facets import FacetArrays

__all__ = ["MISSING_YEAR", "Snapshot"]


class Snapshot(GenerationReader):
    """Immutable once built; a new generation gets a new snapshot."""

    def __init__(self, generation: Path) -> None:
        super().__init__(generation)
        self.docnum_by_figid = {f: i for i, f in enumerate(self.figids) if self.live[i]}
        self.facets = {
            facet: FacetArrays(facet, self.facet_values(facet), self.live)
            for facet in schema.FACET_FIELDS
        }
        self.suggest_index: Any = None  # built on first use by server.search.suggest
