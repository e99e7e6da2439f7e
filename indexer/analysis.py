"""The English text analyzer of the index, fused into one pass for indexing speed.

It produces the same tokens as Whoosh's chain ``RegexTokenizer | LowercaseFilter |
StopFilter(minsize=1) | StemFilter`` with accents folded, but as one generator instead
of five: analysis was 40% of the time of adding a document. Objects of this class are
pickled into the index's table of contents, so the class must keep its name and module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from whoosh.analysis import Composable, Token
from whoosh.analysis.analyzers import STOP_WORDS
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map

# Whoosh's default pattern without its "*": OCR marks such as "AR*" index as "ar".
WORD_PATTERN = r"\w+(?:\.?\w+)*"


@lru_cache(maxsize=200_000)
def stem_word(word: str) -> str:
    """The stem of a lower-cased, accent-folded word (cached: words repeat a lot)."""
    return stem(word)


class EnglishAnalyzer(Composable):
    is_morph = True  # it stems: Whoosh's query parser must know for prefix and wildcard terms

    def __init__(self) -> None:
        self.expression = re.compile(WORD_PATTERN)
        self.stoplist = frozenset(STOP_WORDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnglishAnalyzer)

    def __hash__(self) -> int:
        return hash(EnglishAnalyzer)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        no_morph: bool = False,
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        if not tokenize:
            matches: Any = [_WholeValue(value)]
        elif chars:  # fold per word so character offsets stay those of ``value``
            matches = self.expression.finditer(value)
        else:
            matches = self.expression.finditer(value.translate(accent_map))
        stoplist = self.stoplist
        # As Whoosh's StopFilter renumbers: the first kept word keeps its place, later
        # kept words follow it without gaps; stopped words keep their own place.
        pos = None
        for index, match in enumerate(matches, start=start_pos):
            original = match.group(0)
            word = original.lower()
            if chars:
                word = word.translate(accent_map)
            stopped = word in stoplist
            if stopped and removestops:
                continue
            token.stopped = stopped
            token.text = word if stopped or no_morph else stem_word(word)
            if keeporiginal:
                token.original = original
            if positions:
                if stopped:
                    token.pos = index
                else:
                    pos = index if pos is None else pos + 1
                    token.pos = pos
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token

    def positions(self, value: str, words: dict[str, int] | None = None) -> dict[str, list[int]]:
        """Stem -> positions in ``value``: what indexing needs, without Token objects.

        With ``words``, also count there each (lower-cased) word, in the same pass.
        """
        found: dict[str, list[int]] = {}
        stoplist = self.stoplist
        pos = None
        for index, word in enumerate(self.expression.findall(value.translate(accent_map))):
            word = word.lower()
            if word in stoplist:
                continue
            pos = index if pos is None else pos + 1
            stem = stem_word(word)
            if stem in found:
                found[stem].append(pos)
            else:
                found[stem] = [pos]
            if words is not None:
                words[word] = words.get(word, 0) + 1
        return found


class ValueAnalyzer(Composable):
    """Whole values separated by tabs, stripped and lower-cased: one token per value.

    The tokens of Whoosh's ``RegexTokenizer("[^\\t]+") | StripFilter() |
    LowercaseFilter()``, fused into one pass (blank values are dropped).
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValueAnalyzer)

    def __hash__(self) -> int:
        return hash(ValueAnalyzer)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        parts = value.split("\t") if tokenize else [value]
        offset = start_char
        for pos, part in enumerate(parts, start=start_pos):
            text = part.strip().lower()
            if text:
                token.text = text
                if keeporiginal:
                    token.original = part
                if positions:
                    token.pos = pos
                if chars:
                    token.startchar = offset + len(part) - len(part.lstrip())
                    token.endchar = offset + len(part.rstrip())
                yield token
            offset += len(part) + 1

    def counts(self, value: str) -> dict[str, int]:
        """Value -> how often it occurs in ``value``: what indexing needs."""
        found: dict[str, int] = {}
        for part in value.split("\t"):
            text = part.strip().lower()
            if text:
                found[text] = found.get(text, 0) + 1
        return found


class _WholeValue:
    """A stand-in for a regex match covering the whole value (``tokenize=False``)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def group(self, _index: int) -> str:
        return self.value

    def start(self) -> int:
        return 0

    def end(self) -> int:
        return len(self.value)
