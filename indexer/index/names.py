"""The names autocomplete offers, derived by the build from a generation's lexicon,
facets and title words (``indexer.index.arrays.NameTable``): gene symbols, the aliases
figures print for them, organisms, diseases and title words, each with its number of
figures and looked up by its :func:`indexer.analysis.name_key`, so "NF-k", "NF-κ" and
"nfk" all complete "NF-κB"."""

from __future__ import annotations

from collections.abc import Iterable

from indexer.analysis import name_key
from indexer.index.arrays import FacetTables, Name, SpellingTable
from indexer.lexicon import GeneLexicon

SUGGESTED_FACETS = ("organism", "disease")


def suggested_names(
    lexicon: GeneLexicon,
    facets: dict[str, FacetTables],
    title_words: Iterable[tuple[str, int]],
    spelling: SpellingTable,
) -> list[Name]:
    """Each name once per key and kind (the last of several values folding alike); a
    symbol's key is not offered again as an alias. ``facets`` holds
    :data:`SUGGESTED_FACETS`; ``title_words`` is each title stem with its number of
    figures, shown by its spelling ("muscle", not the stem "muscl")."""
    names: dict[tuple[str, str], Name] = {}
    for symbol, figures in lexicon.symbol_figures.items():
        key = name_key(symbol)
        names[key, "gene"] = Name(key, "gene", symbol, figures, {"entrez": lexicon.entrez(symbol)})
    symbols = {key for key, _ in names}
    for key, by_symbol in lexicon.alias_symbols.items():
        if key in symbols or not key.strip():
            continue
        display = lexicon.alias_display[key]
        extra = {"symbols": [symbol for symbol, _ in by_symbol.most_common()]}
        names[key, "alias"] = Name(key, "alias", display, lexicon.figures_printing(display), extra)
    for facet in SUGGESTED_FACETS:
        tables = facets[facet]
        for value, count in zip(tables.values.all(), tables.totals.tolist(), strict=True):
            if count:
                key = name_key(value)
                names[key, facet] = Name(key, facet, value, count)
    for stem, count in title_words:
        word = spelling.get(stem, stem)
        if len(word) > 2 and not word.isdigit():
            key = name_key(word)
            names.setdefault((key, "word"), Name(key, "word", word, count))
    return list(names.values())
