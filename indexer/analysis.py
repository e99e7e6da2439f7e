"""The English text analyzer of the index, fused into one pass for indexing speed.

It produces the same tokens as Whoosh's chain ``RegexTokenizer | LowercaseFilter |
StopFilter(minsize=1) | StemFilter`` with accents folded, but as one generator instead
of five: analysis was 40% of the time of adding a document. Objects of this class are
pickled into the index's table of contents, so the class must keep its name and module.
"""

from __future__ import annotations

import re
from collections import Counter
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

    def term_positions(
        self, value: str, words: Counter[str] | None = None
    ) -> dict[bytes, list[int]]:
        """Indexed term (the stem, as index bytes) -> its positions in ``value``: what
        indexing needs, the same as ``__call__(value, positions=True)`` gives, without
        Token objects. With ``words``, also count there each lower-cased word.
        """
        folded = _fold_accents(value)
        if "\u0130" in folded or "\u03a3" in folded:
            # Lower-casing "İ" adds a character and "Σ" depends on the next word:
            # lower-case word by word, as ``__call__`` does.
            tokens = [word.lower() for word in self.expression.findall(folded)]
        else:  # otherwise the same, and faster (tested over every code point)
            tokens = self.expression.findall(folded.lower())
        found: dict[bytes, list[int]] = {}
        known = _TERM_OF_WORD
        pos = None
        for index, word in enumerate(tokens):
            term = known.get(word)
            if term is None:
                term = self._learn_term(word)
            if not term:  # a stop word
                continue
            # The first kept word keeps its place; later kept words follow without gaps.
            pos = index if pos is None else pos + 1
            where = found.get(term)
            if where is None:
                found[term] = [pos]
            else:
                where.append(pos)
        if words is not None:
            words.update(tokens)
        return found

    def _learn_term(self, word: str) -> bytes:
        if len(_TERM_OF_WORD) >= _TERM_CACHE_SIZE:
            _TERM_OF_WORD.clear()
        term = b"" if word in self.stoplist else stem_word(word).encode("utf-8")
        _TERM_OF_WORD[word] = term
        return term


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_accents(text: str) -> str:
    """``text.translate(accent_map)`` up to case (which the caller then folds): most of
    a caption is ASCII, and translating only the rest is five times faster."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(lambda run: run.group().translate(accent_map), text)


# Lower-cased word -> its indexed term (b"" for a stop word), for ``term_positions``.
_TERM_OF_WORD: dict[str, bytes] = {}
_TERM_CACHE_SIZE = 500_000


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

    def term_counts(self, value: str) -> dict[bytes, int]:
        """Indexed term -> how often it occurs in ``value``: what indexing needs, the
        tokens of ``__call__`` counted. (Lower-casing the whole text first is the same:
        a tab is neither a letter nor ignored by case rules.)"""
        found: dict[str, int] = {}
        for part in value.lower().split("\t"):
            text = part.strip()
            if text:
                found[text] = found.get(text, 0) + 1
        return {text.encode("utf-8"): count for text, count in found.items()}


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
