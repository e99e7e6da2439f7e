"""Result dicts: a search hit, a whole figure, and the caption snippet with ``<mark>``."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Collection
from functools import lru_cache
from html import escape
from typing import Any

from indexer.analysis import (
    GREEK_CHAR,
    GREEK_NAMES,
    fold_accents,
    fold_greek,
    fold_greek_letters,
    greek_spellings,
    symbol_term,
    written_term,
)
from indexer.index.records import unpack
from indexer.organisms import describe
from indexer.record import (
    NDEX_NETWORK_URL,
    PFOCR_FIGURE_URL,
    PMC_ARTICLE_URL,
    PMC_FIGURE_URL,
    PMC_IMAGE_URL,
    Figure,
)

NCBI_GENE_URL = "https://www.ncbi.nlm.nih.gov/gene/{}"
FIGURE_PAGE = "/figures/{}"
SNIPPET_WIDTH = 240
# The tokenizer, stemmer and accent folding of ``indexer.index.schema.text_analyzer``, applied word
# by word with a memo: the analyzer itself costs ~2 ms per caption, a snippet must not.
# Forgotten whole once full: pages of hits bring new words without end.
_FORMS: dict[str, tuple[str, ...]] = {}
_MAX_FORMS = 50_000


# Words written with Greek letters or names ("κB", "IkappaB") index as Latin letters, so
# the finder looks for each letter of a term's start as it may be printed in the text.


def _matched_spans(
    text: str, stems: Collection[str], prefixes: Collection[str]
) -> list[tuple[int, int]]:
    """(start, end) of the words of ``text`` that the query matched, in order."""
    if not stems and not prefixes:
        return []
    spans = []
    for start, end in _candidates(text, stems, prefixes):
        if start and _continues_word(text[start - 1]):
            continue  # not the start of a word (a look-behind in the regex costs 3x)
        if _is_match(text[start:end], stems, prefixes) and (
            end - start > 1 or _joined(text, start, end)
        ):
            spans.append((start, end))
    return spans


def _candidates(
    text: str, stems: Collection[str], prefixes: Collection[str]
) -> list[tuple[int, int]]:
    """(start, end) of the runs of word characters in ``text`` that begin with the start
    of one of ``stems`` or ``prefixes`` (perhaps inside a word), in order. Found by
    substring search: compiling a regex for a query's new words costs 0.1 ms a query; the
    regex (:func:`_finder`) serves texts whose lower case changes their length ("İ", whose
    offsets would shift: searched as they are, ignoring case) and rare Greek spellings."""
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    if same_length:
        found = _searched(lowered, stems, prefixes)
        if found is not None:
            return found
    finder = _finder(
        frozenset(stems), frozenset(prefixes), _greek_printed(lowered), not same_length
    )
    if finder is None:
        return []
    return [match.span() for match in finder.finditer(lowered if same_length else text)]


def _searched(
    lowered: str, stems: Collection[str], prefixes: Collection[str]
) -> list[tuple[int, int]] | None:
    """:func:`_candidates` in a lower-cased text; None where a start has too many
    spellings to search one by one."""
    folded = fold_greek_letters(lowered)
    found: set[tuple[int, int]] = set()
    for start in _stem_starts(stems):
        names = [
            name for name, letter in GREEK_NAMES.items() if letter in start and name in lowered
        ]
        spellings = _named_spellings(start, names) if names else [start]
        if spellings is None:
            return None
        for spelling in spellings:
            _add_words(folded, spelling, found)
    for prefix in prefixes:  # as written: a prefix is not spelled in Greek
        _add_words(lowered, prefix.lower(), found)
    return sorted(found)


def _stem_starts(stems: Collection[str]) -> set[str]:
    """What the words of ``stems`` begin with: stemming only rewrites endings ("happy" ->
    "happi"), so a word with stem S starts with S minus its last letter."""
    return {s[:-1] if len(s) > 3 else s for s in stems}


def _named_spellings(start: str, names: Collection[str]) -> list[str] | None:
    """``start`` with each letter also as the letter names ``names`` that fold to it
    ("ikb", {"kappa"}: "ikb", "ikappab"); None for more than :data:`_MAX_SPELLINGS`."""
    options = [(letter, *(n for n in names if GREEK_NAMES[n] == letter)) for letter in start]
    if math.prod(len(o) for o in options) > _MAX_SPELLINGS:
        return None
    return ["".join(letters) for letters in itertools.product(*options)]


_MAX_SPELLINGS = 16


def _add_words(text: str, start: str, found: set[tuple[int, int]]) -> None:
    """Add (start, end) of each run of word characters in ``text`` from an occurrence of
    ``start`` to the run's end, as :func:`_finder`'s regex extends a match."""
    if not start:
        return
    at = text.find(start)
    while at >= 0:
        found.add((at, _WORD_END.match(text, at + len(start)).end()))
        at = text.find(start, at + 1)


_WORD_END = re.compile(r"\w*(?:\.\w+)*")


def _continues_word(char: str) -> bool:
    """Whether a word of the text goes on across ``char`` (regex ``[\\w.]``)."""
    return char.isalnum() or char in "._"


def _greek_printed(lowered: str) -> frozenset[str]:
    """The Greek letters and letter names printed in a lower-cased text: the finder
    looks for only those, as a pattern of plain letters is three times faster."""
    printed = set(GREEK_CHAR.findall(lowered))
    printed.update(name for name in GREEK_NAMES if name in lowered)
    return frozenset(printed)


def _joined(text: str, start: int, end: int) -> bool:
    """Whether a one-character word is part of a name ("TNF-α", "ERK1/2", "IL-6"): those
    are what a query's one-letter parts match, not a panel's "(B)" or an "a"."""
    return (start > 0 and text[start - 1] in _JOINERS) or (
        end < len(text) and text[end] in _JOINERS
    )


_JOINERS = "-/\u2010\u2011\u2013"


# Only texts that substring search cannot serve reach the regex (see _candidates): few
# patterns (about 2 KB each compiled): a few hundred are plenty.
@lru_cache(maxsize=256)
def _finder(
    stems: frozenset[str], prefixes: frozenset[str], printed: frozenset[str], ignore_case: bool
) -> re.Pattern[str] | None:
    """A regex finding the words that may have one of ``stems`` or ``prefixes`` in a
    lower-cased text (any text with ``ignore_case``) that prints the Greek letters and
    letter names ``printed``; a match may start inside a word (see ``_matched_spans``).
    Each letter of a word's start (see :func:`_stem_starts`) may be printed as a Greek letter
    or its name."""
    starts = _stem_starts(stems)
    ordered = sorted({s for s in starts | set(prefixes) if s}, key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(
        _spelled(s, printed) if s in starts else re.escape(s.lower()) for s in ordered
    )
    return re.compile(rf"(?:{alternatives})\w*(?:\.\w+)*", re.IGNORECASE if ignore_case else 0)


def _spelled(start: str, printed: frozenset[str]) -> str:
    """A regex of ``start`` with each letter also as those of the ``printed`` Greek
    letters and letter names that fold to it: "kb" also matches "κb" and "kappab"."""
    if not printed:  # most texts print no Greek
        return re.escape(start)
    parts = []
    for letter in start:
        chars, names = greek_spellings(letter)
        chars = "".join(c for c in chars if c in printed)
        names = tuple(name for name in names if name in printed)
        if not chars and not names:
            parts.append(re.escape(letter))
        else:
            options = [f"[{re.escape(letter + chars)}]", *names]
            parts.append(f"(?:{'|'.join(options)})")
    return "".join(parts)


def _indexed_forms(word: str) -> tuple[str, ...]:
    """The terms one word as written may be indexed as: its term (none for a stop word),
    and unstemmed where it is a short gene name of its figure ("Ras" -> "ra", "ras")."""
    forms = _FORMS.get(word)
    if forms is None:
        folded = fold_accents(word)
        term = written_term(folded)
        symbol = symbol_term(folded.lower()) if term else None
        forms = tuple(f for f in (term, symbol) if f)
        if len(_FORMS) >= _MAX_FORMS:
            _FORMS.clear()
        _FORMS[word] = forms
    return forms


def _is_match(word: str, stems: Collection[str], prefixes: Collection[str]) -> bool:
    """Whether a word of the text is one the query matched. A term of one or two letters
    ("il", "ar") marks only itself, not every word stemmed to it ("Ile", "are")."""
    forms = _indexed_forms(word)
    for form in forms:
        if form in stems and (len(form) > 2 or fold_greek(fold_accents(word.lower())) == form):
            return True
    if not prefixes:
        return False
    raw = word.lower()
    return any(raw.startswith(p) or f.startswith(p) for p in prefixes for f in forms)


def gene_dict(symbol: str, entrez: str | None, aliases: list[str] | None = None) -> dict[str, Any]:
    """``{symbol, entrez, alias, aliases, url}``: ``alias`` is the first printed name that is
    not the symbol itself (or None); ``url`` the NCBI Gene page (None without Entrez ID)."""
    aliases = aliases or []
    printed = None
    if aliases and (len(aliases) > 1 or aliases[0] != symbol):
        folded = symbol.casefold()
        printed = next((a for a in aliases if a.casefold() != folded), None)
    return {
        "symbol": symbol,
        "entrez": entrez,
        "alias": printed,
        "aliases": aliases,
        "url": NCBI_GENE_URL.format(entrez) if entrez else None,
    }


def card(record: dict[str, Any], image_url: str = PMC_IMAGE_URL) -> dict[str, Any]:
    """What a result card shows of a figure, without its genes and terms: ``figid``,
    ``title``, ``paper_title``, ``reference``, ``year``, ``journal``, ``pmcid``, ``doi``,
    ``organisms`` and ``links``; ``image_url`` is the template of the image link, with
    ``{pmcid}`` and ``{filename}``."""
    get = record.get
    figid, pmcid, doi = record["figid"], get("pmcid"), get("doi")
    filename, figlink, ndex = get("filename"), get("figlink"), get("ndex")
    return {
        "figid": figid,
        "figid_alias": get("figid_alias"),
        "title": get("figtitle"),
        "paper_title": get("papertitle"),
        "reference": get("reftext"),
        "year": get("year"),
        "journal": get("journal"),
        "pmcid": pmcid,
        "doi": doi,
        "ndex": ndex,
        "organisms": [_organism(name) for name in get("organisms") or ()],
        "links": {
            "article": PMC_ARTICLE_URL.format(pmcid=pmcid) if pmcid else None,
            "image": image_url.format(pmcid=pmcid, filename=filename)
            if pmcid and filename
            else None,
            "pmc_figure": PMC_FIGURE_URL.format(figlink=figlink) if figlink else None,
            "page": FIGURE_PAGE.format(figid),
            "doi": f"https://doi.org/{doi}" if doi else None,
            "pfocr": PFOCR_FIGURE_URL.format(figid=figid),
            "ndex": NDEX_NETWORK_URL.format(uuid=ndex) if ndex else None,
        },
    }


def hit(
    record: dict[str, Any],
    snippet: str,
    score: float | None,
    image_url: str = PMC_IMAGE_URL,
) -> dict[str, Any]:
    """The dict of one matched figure (see ``SearchService.search``) from its stored
    record (``indexer.index.records.pack``): its :func:`card` with its genes, diseases
    and chemicals, the snippet and the score."""
    result = card(record, image_url)
    links = result.pop("links")
    result.update(
        genes=[
            _gene_cached(symbol, entrez, aliases) for symbol, entrez, aliases, _ in record["genes"]
        ],
        diseases=[_term(term) for term in record["diseases"]],
        chemicals=[_term(term) for term in record["chemicals"]],
        snippet=snippet,
        score=None if score is None else round(float(score), 4),
        links=links,
    )
    return result


@lru_cache(maxsize=8192)
def _gene_cached(symbol: str, entrez: str | None, aliases: tuple[str, ...]) -> dict[str, Any]:
    """Shared gene dicts: figures repeat the same genes (hits must not be mutated). Each
    entry holds about 700 bytes in every worker: 8,192 of them, 6 MB (a gene printed
    under other names is an entry per spelling: real figures have many)."""
    return gene_dict(symbol, entrez, list(aliases))


@lru_cache(maxsize=4096)
def _organism(name: str) -> dict[str, Any]:
    """Shared organism dicts, as genes' (a figure's own copy was a sixth of a cached
    hit's memory: most figures name the same few organisms)."""
    return describe(name).as_dict()


def _term(term: tuple[str, str | None]) -> dict[str, Any]:
    name, mesh_id = term
    return {"name": name, "mesh_id": mesh_id}


def figure_dict(stored: dict[str, Any], image_url: str = PMC_IMAGE_URL) -> dict[str, Any]:
    """A hit (no score, whole caption as snippet) plus every other field of the record,
    from its stored form."""
    record = unpack(stored)
    figure = Figure.from_dict(record)
    result = hit(stored, escape(figure.caption or ""), None, image_url)
    del result["score"]
    result.update(
        caption=figure.caption,
        number=figure.number,
        figtype=figure.figtype,
        publisher=figure.publisher,
        keywords=figure.keywords,
        annotations=figure.annotations,
        gene_keywords=figure.gene_keywords,
        pathway_score=figure.pathway_score,
        organisms_source=figure.organisms_source,
        record=record,
    )
    return result


def snippet(
    text: str | None, stems: Collection[str], prefixes: Collection[str], width: int = SNIPPET_WIDTH
) -> str:
    """About ``width`` characters of ``text`` around most matched words, HTML-escaped,
    matches wrapped in ``<mark>``; "…" marks cut ends."""
    if not text:
        return ""
    spans = _matched_spans(text, stems, prefixes)
    start = _window_start(text, spans, width)
    end = min(len(text), start + width)
    if end < len(text):  # end on a word boundary
        space = text.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    parts = ["…"] if start > 0 else []
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        parts.append(escape(text[cursor:s]))
        parts.append(f"<mark>{escape(text[s:e])}</mark>")
        cursor = e
    parts.append(escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def _window_start(text: str, spans: list[tuple[int, int]], width: int) -> int:
    """Where the window showing the most matches starts; ``spans`` are in text order.

    Two pointers over the spans: the window's first match ``i`` and the first match past
    its end ``j`` only move forward, so a huge caption costs time linear in its matches.
    """
    if not spans or len(text) <= width:
        return 0
    best, best_count = spans[0][0], 0
    j = 0
    for i, (s, _) in enumerate(spans):
        j = max(j, i)
        while j < len(spans) and spans[j][0] < s + width - 20:
            j += 1
        if j - i > best_count:
            best, best_count = s, j - i
    start = max(0, best - width // 4)
    if start > 0:  # start on a word boundary
        space = text.find(" ", start, best)
        start = space + 1 if space >= 0 else start
    return start
