"""The words behind the index's stems, so people are shown "muscle", never "muscl".

The text fields are stemmed, so the index itself only knows stems. While indexing,
every word of the stemmed text fields is counted (by the bulk writer, as it analyses the
text: ``indexer.index.writer``); the most frequent spelling of each stem is saved beside the
index (``vocabulary.json``), and the build derives from it the table that autocomplete and
"did you mean" read (``indexer.index.arrays.SpellingTable``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from whoosh.analysis.analyzers import STOP_WORDS

from indexer.analysis import stem_word


class Vocabulary:
    def __init__(self) -> None:
        # word as written -> occurrences (lower-cased once per distinct word, not per use)
        self.words: Counter[str] = Counter()

    def merge(self, other: Vocabulary) -> None:
        self.words.update(other.words)

    def surface(self) -> dict[str, str]:
        """Stem -> its most frequent spelling (ties: the shortest, then alphabetical)."""
        lowered: Counter[str] = Counter()
        for word, times in self.words.items():
            lowered[word.lower()] += times
        best: dict[str, tuple[int, int, str]] = {}
        for word, times in lowered.items():
            if word in STOP_WORDS:  # counted, but not indexed
                continue
            stem = stem_word(word)
            rank = (-times, len(word), word)
            if stem not in best or rank < best[stem]:
                best[stem] = rank
        return {stem: rank[2] for stem, rank in best.items()}

    @staticmethod
    def load_surface(path: Path) -> dict[str, str]:
        """The saved stem -> spelling map ({} for an index built before it existed)."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
