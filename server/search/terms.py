"""How typed words become index terms: the index's own analyzer, as queries use it.

A query word is analysed as the index analysed the figures (lower-cased, accents and
Greek folded, stemmed, stop words dropped), except that a word that is a gene name of
the index is looked up unstemmed, as the figures naming it index it ("Ras" is not "RA").
"""

from __future__ import annotations

from collections.abc import Callable

from whoosh.support.charset import accent_map

from indexer.analysis import symbol_term
from indexer.index import schema

TEXT_ANALYZER = schema.text_analyzer()
EXACT_STRIP = "()[]{}\"'.,;:!?<>"  # punctuation around a name typed whole


def analyze(text: str, is_gene_name: Callable[[str], bool] | None = None) -> list[str]:
    """The indexed forms (lower-cased, stemmed, stop words dropped) of the words in ``text``,
    each once; with ``is_gene_name``, gene names are looked up unstemmed (see ``terms``)."""
    return list(dict.fromkeys(terms(text, is_gene_name)))


def terms(text: str, is_gene_name: Callable[[str], bool] | None = None) -> list[str]:
    """The indexed forms of the words of ``text`` in order. A word that ``is_gene_name``
    and that the stemmer would turn into another word is kept as the figures that name
    it index it (``indexer.analysis.symbol_term``): "ras", not "ra"."""
    found = []
    for token in TEXT_ANALYZER(text, keeporiginal=True):
        term = token.text
        if is_gene_name is not None:
            word = token.original.lower().translate(accent_map)
            kept = symbol_term(word)
            if kept is not None and is_gene_name(word):
                term = kept
        found.append(term)
    return found


def prefix_parts(text: str) -> tuple[str, list[str], list[str]]:
    """A prefix folded, its words (the last one the prefix), and the forms of the last
    word to expand in text fields: as typed and its stem, since the index holds stems."""
    prefix = text.strip(EXACT_STRIP).casefold()
    words = [t.text for t in TEXT_ANALYZER(prefix, removestops=False, no_morph=True)]
    if not prefix or not words:
        return prefix, [], []
    last = words[-1]
    return prefix, words, sorted({last, *(t.text for t in TEXT_ANALYZER(last, removestops=False))})
