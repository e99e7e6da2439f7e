"""The words behind the index's stems, so people are shown "muscle", never "muscl".

The text fields are stemmed, so the index itself only knows stems. While indexing,
every word of the stemmed text fields is counted under its stem (by the bulk writer, as
it analyses the text: ``indexer.segments``); the most frequent spelling of each stem is
saved beside the index for autocomplete and "did you mean".
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path


class Vocabulary:
    def __init__(self) -> None:
        self.spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def merge(self, other: Vocabulary) -> None:
        for stem, words in other.spellings.items():
            self.spellings[stem].update(words)

    def surface(self) -> dict[str, str]:
        """Stem -> its most frequent spelling (ties: the shortest, then alphabetical)."""
        return {
            stem: min(words.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]
            for stem, words in self.spellings.items()
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.surface(), ensure_ascii=False), encoding="utf-8")

    @staticmethod
    def load_surface(path: Path) -> dict[str, str]:
        """The saved stem -> spelling map ({} for an index built before it existed)."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
