"""The gene lexicon: HGNC symbol <-> Entrez ID, and printed alias -> symbols, with counts.

It is learnt from the corpus itself: older records list every gene with the word printed
in the figure, the symbol it matched, its HGNC symbol and Entrez ID. Newer records only
list symbols (in ``schema-jsonld.keywords``); the lexicon gives them their Entrez IDs.
Counts are numbers of figures, so the server can rank autocomplete and lookups. It is
saved as JSON beside the index.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer.record import Figure, Gene


@dataclass(frozen=True, slots=True)
class GeneMatch:
    """One gene that a typed text resolves to, and how it matched."""

    symbol: str
    entrez: str | None
    matched_by: str  # "symbol", "entrez" or "alias"
    figures: int


class GeneLexicon:
    def __init__(self) -> None:
        self.entrez_by_symbol: dict[str, str | None] = {}
        self.symbol_figures: Counter[str] = Counter()
        # alias (case-folded) -> symbol -> number of figures printing that alias for it
        self.alias_symbols: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.alias_display: dict[str, str] = {}
        self._symbol_by_folded: dict[str, str] = {}
        self._symbol_by_entrez: dict[str, str] = {}

    # -- learning -----------------------------------------------------------------

    def learn(self, genes: Iterable[Gene]) -> None:
        """Learn symbol <-> Entrez pairs from a figure's resolved genes (no counting)."""
        for gene in genes:
            known = self.entrez_by_symbol.get(gene.symbol)
            self.entrez_by_symbol[gene.symbol] = known or gene.entrez
            self._symbol_by_folded.setdefault(gene.symbol.casefold(), gene.symbol)
            if gene.entrez:
                self._symbol_by_entrez.setdefault(gene.entrez, gene.symbol)

    def learn_pairs(self, entrez_by_symbol: dict[str, str | None]) -> None:
        self.learn(Gene(symbol, entrez) for symbol, entrez in entrez_by_symbol.items())

    def resolve_keywords(self, figure: Figure) -> None:
        """Give a newer-generation figure the genes its keywords name, with Entrez IDs."""
        if figure.genes:
            return
        figure.genes = [
            Gene(word, self.entrez_by_symbol[word], [word])
            for word in figure.gene_keywords
            if word in self.entrez_by_symbol
        ]

    def count(self, figure: Figure, sign: int = 1) -> None:
        """Add (or with ``sign=-1`` remove) one figure's genes and aliases to the counts."""
        for gene in figure.genes:
            self.symbol_figures[gene.symbol] += sign
            if self.symbol_figures[gene.symbol] <= 0:
                del self.symbol_figures[gene.symbol]
            for alias in gene.aliases:
                key = alias.casefold()
                symbols = self.alias_symbols[key]
                symbols[gene.symbol] += sign
                if symbols[gene.symbol] <= 0:
                    del symbols[gene.symbol]
                if symbols:
                    self.alias_display.setdefault(key, alias)
                else:
                    del self.alias_symbols[key]
                    self.alias_display.pop(key, None)

    def merge_counts(self, other: GeneLexicon) -> None:
        """Add the figure counts of a lexicon that counted other figures."""
        self.symbol_figures.update(other.symbol_figures)
        for key, symbols in other.alias_symbols.items():
            self.alias_symbols[key].update(symbols)
            self.alias_display.setdefault(key, other.alias_display[key])

    def entrez(self, symbol: str) -> str | None:
        return self.entrez_by_symbol.get(symbol)

    def resolve(self, text: str) -> list[GeneMatch]:
        """Genes that ``text`` names: an HGNC symbol, an Entrez ID, or a printed alias."""
        text = text.strip()
        symbol = self._symbol_by_entrez.get(text) if text.isdigit() else None
        if symbol:
            return [self._match(symbol, "entrez")]
        symbol = self._symbol_by_folded.get(text.casefold())
        if symbol:
            return [self._match(symbol, "symbol")]
        by_alias = self.alias_symbols.get(text.casefold(), Counter())
        return [self._match(s, "alias") for s, _ in by_alias.most_common()]

    def _match(self, symbol: str, how: str) -> GeneMatch:
        return GeneMatch(
            symbol, self.entrez_by_symbol.get(symbol), how, self.symbol_figures[symbol]
        )

    def __len__(self) -> int:
        return len(self.entrez_by_symbol)

    # -- persistence --------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "genes": {
                symbol: {"entrez": entrez, "figures": self.symbol_figures.get(symbol, 0)}
                for symbol, entrez in sorted(self.entrez_by_symbol.items())
            },
            "aliases": {
                self.alias_display[key]: dict(symbols.most_common())
                for key, symbols in sorted(self.alias_symbols.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> GeneLexicon:
        lexicon = cls()
        lexicon.learn(Gene(s, g["entrez"]) for s, g in data["genes"].items())
        lexicon.symbol_figures.update({s: g["figures"] for s, g in data["genes"].items()})
        for alias, symbols in data["aliases"].items():
            lexicon.alias_symbols[alias.casefold()].update(symbols)
            lexicon.alias_display[alias.casefold()] = alias
        return lexicon

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> GeneLexicon:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
