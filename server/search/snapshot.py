"""One index generation as the search service uses it: the generation's reader and its
facet tables as :class:`server.search.facets.FacetArrays`."""

from __future__ import annotations

from pathlib import Path

from indexer.index import schema
from indexer.index.reader import MISSING_YEAR, GenerationReader
from server.search.facets import FacetArrays

__all__ = ["MISSING_YEAR", "Snapshot"]


class Snapshot(GenerationReader):
    """Immutable once built; a new generation gets a new snapshot."""

    def __init__(self, generation: Path) -> None:
        super().__init__(generation)
        with self.closed_on_error():
            documents = self.arrays.documents
            self.figid_rank = documents.figid_rank  # the last tie-breaker of every sort
            # The order of searches without free text (nothing to score): by year, newest
            # or oldest first, missing years last, then by figid.
            self.newest_first = documents.newest_first
            self.oldest_first = documents.oldest_first
            self.facets = {
                facet: FacetArrays(facet, self.arrays.facets[facet])
                for facet in schema.FACET_FIELDS
            }
