"""The English text analyzer of the index, fused into one pass for indexing speed.

It produces the tokens of Whoosh's chain ``RegexTokenizer | LowercaseFilter |
StopFilter(minsize=1) | StemFilter`` (with Snowball's English stemmer) with accents folded, but as one generator instead
of five: analysis was 40% of the time of adding a document. Objects of this class are
pickled into the index's table of contents, so the class must keep its name and module.

Two things differ from Whoosh's chain, both in how one word becomes a term
(:func:`index_term`), because pathway people write gene names so:

- British spellings fold to American ones ("tumour", "haem", "oestrogen": "tumor",
  "heme", "estrogen"; :func:`indexer.language.american_spelling`).
- Greek letters and their spelled-out names fold to one Latin letter (HGNC's: "α",
  "alpha" -> "a"; "κ", "kappa" -> "k"; "θ", "theta" -> "q"), so "NF-κB", "NF-kB" and
  "NF-kappaB" are one word; a folded letter is never a stop word ("TNF-α" keeps its "a").
- A few irregular plurals ("mice") become their singular before stemming, as do the
  plurals of words without vowels ("TLRs", "GPCRs"), which Snowball keeps.
- Stems are Snowball's English (Porter2), and a Greek -sis noun is stemmed as its -tic
  adjective: "apoptosis" and "apoptotic", "angiogenesis" and "angiogenic" are one word.

And a text may name words that must not be stemmed (:class:`SymbolText`): a figure's own
short gene names, so "Ras" stays "ras" instead of becoming "ra" (retinoic acid).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, TypeVar

import Stemmer
from whoosh.analysis import Composable, Token
from whoosh.analysis.analyzers import STOP_WORDS
from whoosh.support.charset import accent_map

from indexer.language import american_spelling

# Whoosh's default pattern without its "*" (OCR marks such as "AR*" index as "ar"), and
# written without its optional dot: "\w+(?:\.?\w+)*" finds the same words, but matching a
# whole name against it backtracks exponentially in the length of a run of letters.
WORD_PATTERN = r"\w+(?:\.\w+)*"


# HGNC's Latin letter for each Greek one (PRKCQ is PKC-theta, PRKCH PKC-eta); "μ" stays:
# it is mostly the micro of units ("μM"), and "m" would make it a millimolar.
_LATIN_OF_GREEK = dict(zip("αβγδεζηθικλνξοπρσςτυφχψω", "abgdezhqiklnxoprsstufcyw", strict=True))
# Spelled-out names long enough not to be parts of English words ("eta", "tau", "pi" are).
GREEK_NAMES = {
    "alpha": "a", "beta": "b", "gamma": "g", "delta": "d", "epsilon": "e", "zeta": "z",
    "theta": "q", "iota": "i", "kappa": "k", "lambda": "l", "sigma": "s", "omega": "w",
}  # fmt: skip
# A name folds where it ends the word (or a name's part: "beta-catenin") or is followed by
# one letter (not a plural "s"), digits or another name: "tgfbeta1", "kappab",
# "ikappabalpha", "alpha5beta1"; not "alphabet", "betaine", "diabetes", "deltas" or
# "synthetase".
_GREEK_NAME = re.compile(
    rf"({'|'.join(GREEK_NAMES)})(?=(?:[a-z](?<!s))?\d*(?:$|[^a-z0-9]|{'|'.join(GREEK_NAMES)}))"
)
_ANY_GREEK_NAME = re.compile("|".join(GREEK_NAMES))
IRREGULAR_PLURALS = {
    "mice": "mouse", "lice": "louse", "geese": "goose", "teeth": "tooth", "feet": "foot",
    "men": "man", "women": "woman", "children": "child", "larvae": "larva", "pupae": "pupa",
}  # fmt: skip


def _greek_table() -> dict[int, str]:
    """Every Greek code point whose letter (accents and case removed) has a Latin one."""
    table = {}
    for code in range(0x370, 0x400):
        base = unicodedata.normalize("NFKD", chr(code))[:1].lower()
        if base in _LATIN_OF_GREEK:
            table[code] = _LATIN_OF_GREEK[base]
    table[0x3F0] = "k"  # "ϰ", the kappa symbol
    return table


_GREEK_TABLE = _greek_table()


@lru_cache(maxsize=256)
def greek_spellings(letters: str) -> tuple[str, tuple[str, ...]]:
    """The Greek characters and the letter names that fold to any of ``letters`` (cached:
    a snippet's finder asks letter by letter, 10 us each)."""
    wanted = set(letters)
    chars = "".join(chr(code) for code, latin in _GREEK_TABLE.items() if latin in wanted)
    return chars, tuple(name for name, latin in GREEK_NAMES.items() if latin in wanted)


GREEK_CHAR = re.compile("[\u0370-\u03ff]")


def fold_greek_letters(text: str) -> str:
    """``text`` with its Greek letters as Latin ones, one for one: offsets hold. (Letter
    by letter printed: ``str.translate`` takes 50 us for a caption, this 5.)"""
    for char in set(GREEK_CHAR.findall(text)):
        text = text.replace(char, _GREEK_TABLE.get(ord(char), char))
    return text


def fold_greek_text(text: str) -> str:
    """``text`` (lower-cased) with Greek letters and their names as Latin letters. Words
    apart fold as each alone would: what follows a name within its word decides, and a
    space there is as a word's end."""
    text = fold_greek_letters(text)
    if _ANY_GREEK_NAME.search(text):  # 4x faster than testing each name with "in"
        text = _GREEK_NAME.sub(lambda m: GREEK_NAMES[m.group(1)], text)
    return text


# Each word function below keeps up to this many words: a build meets every word of its
# figures (hundreds of thousands at 100k) and looks each up again and again. A server meets
# words without end (every never-seen query brings its own): it bounds them all together
# (:func:`word_memo_entries`, :func:`clear_word_memos`).
WORD_MEMO_SIZE = 200_000
_WORD_MEMOS: list[Any] = []
Memo = TypeVar("Memo")


def word_memo(memo: Memo) -> Memo:
    """Count ``memo`` (an ``lru_cache`` of a function of one word or name) among the memos
    a server bounds together."""
    _WORD_MEMOS.append(memo)
    return memo


fold_greek = word_memo(lru_cache(maxsize=WORD_MEMO_SIZE)(fold_greek_text))  # words repeat


# Snowball's English stemmer (Porter2), from the Snowball project's own C library: it
# leaves apart what Porter's wrongly joins ("organism", "organic", "organ"; "ras", "nos"),
# and joins more inflections. Stemmer objects keep a cache and are not safe to share
# between threads: one per thread.
_STEMMERS = threading.local()


def _snowball(word: str) -> str:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = Stemmer.Stemmer("english", 0)  # no cache: ours is
    return stemmer.stemWord(word)


# Greek-derived nouns in -sis and their adjectives in -tic, which no English stemmer joins:
# "apoptosis"/"apoptotic", "biosynthesis"/"biosynthetic", "glycolysis"/"glycolytic"
# (Snowball: "apoptosi"/"apoptot"), and -genesis/-genic ("angiogenesis"/"angiogenic").
# Short stems are left alone: "basis", "thesis", "genesis" are not of this kind.
_GREEK_SIS = re.compile(r"(?<=...[aeoy])si$")


def _greek_suffix(stem: str) -> str:
    """A Snowball stem of a -sis noun as the stem of its -tic (or -genic) adjective."""
    if stem.endswith("genesi"):  # "angiogenesi" -> "angiogen", as "angiogenic" stems
        return stem[:-3] if len(stem) >= 8 else stem
    return _GREEK_SIS.sub("t", stem)  # "apoptosi" -> "apoptot", as "apoptotic" stems


# The plural of a word without vowels is an acronym's ("TLRs", "MMPs", "CDK4s"), whose s
# Snowball keeps (it takes an s off only after a vowel earlier in the word).
_ACRONYM_PLURAL = re.compile(r"[^aeiouy]+[^aeiouys]s")


@word_memo
@lru_cache(maxsize=WORD_MEMO_SIZE)
def stem_word(word: str) -> str:
    """The indexed term of a lower-cased, accent-folded word that is not a stop word:
    Greek folded, spelt as Americans do, irregular and acronym plurals made singular,
    then stemmed, a -sis noun as its -tic adjective (cached: words repeat)."""
    folded = american_spelling(fold_greek(word))
    folded = IRREGULAR_PLURALS.get(folded, folded)
    if _ACRONYM_PLURAL.fullmatch(folded):
        folded = folded[:-1]
    return _greek_suffix(_snowball(folded))


def index_term(word: str) -> str:
    """What a lower-cased, accent-folded word is indexed as ("" for a stop word)."""
    return "" if word in STOP_WORDS else stem_word(word)


@word_memo
@lru_cache(maxsize=WORD_MEMO_SIZE // 2)
def symbol_term(word: str) -> str | None:
    """The term of a lower-cased word written as a symbol (in capitals, or a gene name of
    its figure: :class:`SymbolText`), or None where stemming leaves it alone anyway. Only
    names of up to four letters and names with digits are kept from the stemmer: those it
    turns into other words ("ras" -> "ra", "nos" -> "no", "pla2g2e" -> "pla2g2"); a long
    name such as "caspase" is stemmed as its plural is."""
    folded = fold_greek(word)
    if word in STOP_WORDS or (len(folded) > 4 and not any(c.isdigit() for c in folded)):
        return None
    return folded if stem_word(word) != folded else None


def written_term(word: str) -> str:
    """The term of a word as written, accents folded ("" for a stop word): a short word in
    capitals is an acronym or a gene symbol, not stemmed ("NOS", "IRS"; "Nos" is "no")."""
    lower = word.lower()
    if lower in STOP_WORDS:
        return ""
    if word.isupper():
        kept = symbol_term(lower)
        if kept is not None:
            return kept
    return stem_word(lower)


def symbol_terms(names: Iterable[str]) -> dict[str, str]:
    """Lower-cased one-word names -> their :func:`symbol_term`, where it is not the stem."""
    return dict(symbol for _, symbol in map(name_terms, names) if symbol)


@word_memo
@lru_cache(maxsize=WORD_MEMO_SIZE)
def name_terms(name: str) -> tuple[str, tuple[str, str] | None]:
    """What indexing needs of a gene name, in one cached lookup (names repeat across
    figures): its :func:`name_key`, and its :func:`_name_symbol_term`."""
    return name_key(name), _name_symbol_term(name)


def _name_symbol_term(name: str) -> tuple[str, str] | None:
    """(lower-cased name, its symbol term) for a one-word name the stemmer would change."""
    word = name.lower()
    term = symbol_term(word) if _ONE_WORD.fullmatch(word) else None
    return None if term is None else (word, term)


_ONE_WORD = re.compile(WORD_PATTERN)


class SymbolText(str):
    """Text to index with some words kept from the stemmer: ``symbols`` maps each such
    lower-cased word to its term (:func:`symbol_terms` of the figure's own gene names,
    which the analyzer alone cannot tell from English words)."""

    symbols: dict[str, str]

    def __new__(cls, text: str, symbols: dict[str, str]) -> SymbolText:
        value = super().__new__(cls, text)
        value.symbols = symbols
        return value


class NameText(str):
    """Tab-joined gene names with their :func:`name_key` already made (``name_keys``, one per
    name, in order), so indexing does not make each key again."""

    name_keys: list[str] | None

    def __new__(cls, names: list[str], keys: list[str]) -> NameText:
        value = super().__new__(cls, "\t".join(names))
        # a name holding a tab would be two values: then the keys are made from the text
        value.name_keys = (
            keys if len(keys) == len(names) and value.count("\t") == len(names) - 1 else None
        )
        return value


def symbols_of(value: str) -> dict[str, str]:
    """The words ``value`` keeps from the stemmer, with their terms ({} for plain text)."""
    return getattr(value, "symbols", None) or {}


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
            matches = self.expression.finditer(fold_accents(value))
        stoplist = self.stoplist
        kept = symbols_of(value)
        # As Whoosh's StopFilter renumbers: the first kept word keeps its place, later
        # kept words follow it without gaps; stopped words keep their own place.
        pos = None
        for index, match in enumerate(matches, start=start_pos):
            original = match.group(0)
            word = original.lower()
            if chars:
                word = fold_accents(word)
            stopped = word in stoplist
            if stopped and removestops:
                continue
            token.stopped = stopped
            if stopped:
                token.text = word
            elif no_morph:
                token.text = fold_greek(word)
            else:
                written = original if not chars else fold_accents(original)
                token.text = kept.get(word) or written_term(written)
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
        Token objects. With ``words``, also count there each word as written.
        """
        # Words are looked up as written: whether a short word is in capitals ("NOS")
        # decides its term, and lower-casing each new word once is as fast as lower-casing
        # the whole text (whose "İ" and final "Σ" would not lower-case as words do).
        tokens = self.expression.findall(fold_accents(value))
        found: dict[bytes, list[int]] = {}
        known = _TERM_OF_WORD
        kept = symbols_of(value)
        # only words stemmed as a kept word would be can be one: one set test per word
        stemmed_as_kept = {stem_word(word).encode("utf-8") for word in kept}
        pos = None
        for index, word in enumerate(tokens):
            term = known.get(word)
            if term is None:
                term = self._learn_term(word)
            if term in stemmed_as_kept:
                symbol = kept.get(word.lower())
                term = symbol.encode("utf-8") if symbol else term
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
        term = written_term(word).encode("utf-8")
        _TERM_OF_WORD[word] = term
        return term


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def fold_accents(text: str) -> str:
    """``text.translate(accent_map)`` on its non-ASCII characters only: most of a caption
    is ASCII, and translating only the rest is five times faster; and ``accent_map`` also
    lower-cases some ASCII letters ("NOS" -> "nOs"), which would hide capitals."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(lambda run: run.group().translate(accent_map), text)


# Word as written -> its indexed term (b"" for a stop word), for ``term_positions``.
_TERM_OF_WORD: dict[str, bytes] = {}
_TERM_CACHE_SIZE = 500_000


@word_memo
@lru_cache(maxsize=WORD_MEMO_SIZE)
def name_key(name: str) -> str:
    """How a gene name or alias is matched exactly: case, accents and Greek spellings
    folded, dashes, spaces and underscores dropped, so "NF-κB", "NF-kB", "NF-kappaB" and
    "NFKB" are one key ("nfkb"), as are "IL-6" and "IL6"."""
    return _NAME_GAPS.sub("", fold_greek(fold_accents(name.strip()).casefold()))


def title_key(title: str) -> str:
    """A title's words, lower-cased, accents and Greek folded, one space apart: how a
    title typed or quoted whole is recognised."""
    return fold_greek_text(" ".join(_ONE_WORD.findall(fold_accents(title).lower())))


_NAME_GAPS = re.compile(r"[\s_\-\u2010-\u2015]+")


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


class NameAnalyzer(ValueAnalyzer):
    """Whole gene names separated by tabs, one token per name: its :func:`name_key`."""

    def __eq__(self, other: object) -> bool:
        return type(other) is NameAnalyzer

    def __hash__(self) -> int:
        return hash(NameAnalyzer)

    def __call__(self, value: str, **kwargs: Any) -> Iterator[Token]:
        kwargs["keeporiginal"] = True  # the key is made from the name as written
        for token in super().__call__(value, **kwargs):
            token.text = name_key(token.original)
            if token.text:
                yield token

    def term_counts(self, value: str) -> dict[bytes, int]:
        keys = getattr(value, "name_keys", None)  # NameText
        if keys is None:
            keys = map(name_key, value.split("\t"))
        found: dict[str, int] = {}
        for key in keys:
            if key:
                found[key] = found.get(key, 0) + 1
        return {key.encode("utf-8"): count for key, count in found.items()}


# -- the word memos (:func:`word_memo`), bounded together by a server


def word_memo_entries() -> int:
    """The words the word functions' memos hold, all together."""
    return sum(memo.cache_info().currsize for memo in _WORD_MEMOS) + len(_TERM_OF_WORD)


def clear_word_memos() -> None:
    """Forget every memoised word: a server's way to bound them (filled to their build
    sizes, three of them held 115 MB: 500,000 words at about 230 bytes each)."""
    for memo in _WORD_MEMOS:
        memo.cache_clear()
    _TERM_OF_WORD.clear()
