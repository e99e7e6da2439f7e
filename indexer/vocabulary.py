"""The words behind the index's stems, so people are shown "muscle", never "muscl".

The text fields are stemmed, so the index itself only knows stems. While indexing,
every word of a figure's searchable text is counted under its stem (by the bulk writer
as it analyses the text, or by :meth:`Vocabulary.count`); the most frequent spelling of
each stem is saved beside the index for autocomplete and "did you mean".
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from whoosh.support.charset import accent_map

from indexer.analysis import WORD_PATTERN, stem_word
from indexer.record import Figure
from indexer.schema import searchable_text

_find_words = re.compile(WORD_PATTERN).findall


class Vocabulary:
    def __init__(self) -> None:
        self.spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def count(self, figure: Figure) -> None:
        text = searchable_text(figure)
        words = Counter(word.lower() for word in _find_words(text.translate(accent_map)))
        for word, times in words.items():
            self.spellings[stem_word(word)][word] += times

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
