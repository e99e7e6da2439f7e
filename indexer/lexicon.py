"""The gene lexicon: HGNC symbol <-> Entrez ID, and printed alias -> symbols, with counts.

It is learnt from the corpus itself: older records list every gene with the word printed
in the figure, the symbol it matched, its HGNC symbol and Entrez ID. Newer records only
list symbols (in ``schema-jsonld.keywords``); the lexicon gives them their Entrez IDs.
Counts are numbers of figures, so the server can rank autocomplete and lookups. It is
saved as JSON beside the index.

Names are matched by their :func:`indexer.analysis.name_key` (case, accents, Greek
spellings and dashes folded: "NF-κB" is "NF-kB" is "NFKB"), and a printed word naming
several genes in shorthand is read as its names (:func:`printed_names`: "ERK1/2" is
ERK1 and ERK2).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from indexer.analysis import name_key, word_memo
from indexer.nomenclature import ENTREZ, SYMBOL, GeneNomenclature
from indexer.record import ALIAS_STRIP, Figure, Gene, printed_pieces

# "ERK1" -> ("ERK", "1"), "PD-L1" -> ("PD-L", "1"), "CD80" -> ("CD", "80"): a name whose
# number a shorthand such as "ERK1/2" or "CD80/86" replaces.
_NUMBERED = re.compile(r"(.*\D)\d+")
_TYPED_STRIP = ALIAS_STRIP + ",;"


@word_memo  # a typed word's names too: a server meets them without end
@lru_cache(maxsize=100_000)
def printed_names(word: str) -> tuple[str, ...]:
    """The gene names in a printed word, shorthand expanded: "ERK1/2" -> ("ERK1", "ERK2"),
    "CD80/86" -> ("CD80", "CD86"), "PI3K/Akt" -> ("PI3K", "Akt"), "(Src" -> ("Src",)."""
    names: list[str] = []
    numbered = None
    for piece in printed_pieces(word):
        piece = piece.strip("|")  # OCR reads a box's edge as "|"
        if not piece:
            continue
        if piece.isdigit() and numbered:
            names.append(numbered + piece)
            continue
        names.append(piece)
        match = _NUMBERED.fullmatch(piece)
        numbered = match.group(1) if match else None
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=100_000)
def official_entrez(symbol: str) -> str | None:
    """The Entrez ID of the gene whose official NCBI symbol is exactly ``symbol`` (cached:
    records list the same keywords again and again)."""
    nomenclature = GeneNomenclature.load()
    entrez = nomenclature.entrez_of(symbol)
    return entrez if entrez is not None and nomenclature.symbol_of(entrez) == symbol else None


def typed_name(text: str) -> str:
    """A name as typed, without the punctuation around it: "p53." -> "p53"."""
    return text.strip().strip(_TYPED_STRIP).strip()


@dataclass(frozen=True, slots=True)
class GeneMatch:
    """One gene that a typed text resolves to, and how it matched."""

    symbol: str
    entrez: str | None
    matched_by: str  # "symbol", "entrez" or "alias"
    figures: int
    known_from: str = "figures"  # the figures' own records, or "ncbi" (NCBI Gene)


class GeneLexicon:
    def __init__(self) -> None:
        self.entrez_by_symbol: dict[str, str | None] = {}
        self.symbol_figures: Counter[str] = Counter()
        # alias (its name_key) -> symbol -> number of figures printing that alias for it
        self.alias_symbols: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.alias_display: dict[str, str] = {}
        # alias (its name_key) -> number of figures printing it, for whichever genes
        self.alias_figures: Counter[str] = Counter()
        self._symbol_by_key: dict[str, str] = {}
        self._symbol_by_entrez: dict[str, str] = {}

    # -- learning -----------------------------------------------------------------

    def learn(self, genes: Iterable[Gene]) -> None:
        """Learn symbol <-> Entrez pairs from a figure's resolved genes (no counting)."""
        for gene in genes:
            known = self.entrez_by_symbol.get(gene.symbol)
            self.entrez_by_symbol[gene.symbol] = known or gene.entrez
            self._symbol_by_key.setdefault(name_key(gene.symbol), gene.symbol)
            if gene.entrez:
                self._symbol_by_entrez.setdefault(gene.entrez, gene.symbol)

    def learn_pairs(self, entrez_by_symbol: dict[str, str | None]) -> None:
        self.learn(Gene(symbol, entrez) for symbol, entrez in entrez_by_symbol.items())

    def resolve_keywords(self, figure: Figure) -> None:
        """Give a newer-generation figure the genes its keywords name, with Entrez IDs: a
        symbol the older records resolved, or else an official symbol of NCBI Gene, as
        written ("ERBB2"; not "Erbb2", a mouse symbol, nor "CELL", an alias)."""
        if figure.genes:
            return
        genes = []
        for word in figure.gene_keywords:
            if word in self.entrez_by_symbol:
                genes.append(Gene(word, self.entrez_by_symbol[word], [word]))
            elif (entrez := official_entrez(word)) is not None:
                genes.append(Gene(word, entrez, [word]))
        figure.genes = genes

    def count(self, figure: Figure, sign: int = 1) -> None:
        """Add (or with ``sign=-1`` remove) one figure's genes and aliases to the counts;
        an added figure's genes are learnt too (symbols found in NCBI Gene among them)."""
        if sign > 0:
            self.learn(figure.genes)
        printed: set[str] = set()
        for gene in figure.genes:
            self.symbol_figures[gene.symbol] += sign
            if self.symbol_figures[gene.symbol] <= 0:
                del self.symbol_figures[gene.symbol]
            for alias in gene.aliases:
                key = name_key(alias)
                printed.add(key)
                symbols = self.alias_symbols[key]
                symbols[gene.symbol] += sign
                if symbols[gene.symbol] <= 0:
                    del symbols[gene.symbol]
                if symbols:
                    self.alias_display.setdefault(key, alias)
                else:
                    del self.alias_symbols[key]
                    self.alias_display.pop(key, None)
        for key in printed:  # once per figure, however many of its genes it names
            self.alias_figures[key] += sign
            if self.alias_figures[key] <= 0:
                del self.alias_figures[key]

    def merge_counts(self, other: GeneLexicon) -> None:
        """Add the figure counts (and the genes learnt) of a lexicon that counted other
        figures."""
        self.learn_pairs(other.entrez_by_symbol)
        self.symbol_figures.update(other.symbol_figures)
        self.alias_figures.update(other.alias_figures)
        for key, symbols in other.alias_symbols.items():
            self.alias_symbols[key].update(symbols)
            self.alias_display.setdefault(key, other.alias_display[key])

    def entrez(self, symbol: str) -> str | None:
        return self.entrez_by_symbol.get(symbol)

    def resolve(self, text: str, *, nomenclature: bool = False) -> list[GeneMatch]:
        """Genes that ``text`` names: an HGNC symbol, an Entrez ID ("007157" is 7157), a
        printed alias in any of its spellings, or a shorthand of several ("ERK1/2").

        With ``nomenclature``, a name the figures never print is looked up in NCBI Gene
        (:mod:`indexer.nomenclature`: "HER2" is ERBB2): of the genes it names, those in
        the index (by Entrez ID, as the index spells their symbols), else all of them."""
        text = typed_name(text)
        found = self._resolve_one(text)
        if found or not text:
            return found
        names = printed_names(text)
        if len(names) > 1:
            matches = {m.symbol: m for name in names for m in self._resolve_one(name)}
            found = [replace(m, matched_by="alias") for m in matches.values()]
        if found or not nomenclature:
            return found
        named = self.in_nomenclature(text)
        return [g for g in named if g.figures] or named

    def in_nomenclature(self, text: str) -> list[GeneMatch]:
        """Every gene NCBI Gene knows by ``text`` (best first), with its figures here."""
        genes: dict[str, GeneMatch] = {}
        for match in GeneNomenclature.load().lookup(typed_name(text)):
            symbol = self._symbol_by_entrez.get(match.entrez, match.symbol)
            how = {SYMBOL: "symbol", ENTREZ: "entrez"}.get(match.how, "alias")
            figures = self.symbol_figures[symbol]
            genes.setdefault(symbol, GeneMatch(symbol, match.entrez, how, figures, "ncbi"))
        return list(genes.values())

    def _resolve_one(self, text: str) -> list[GeneMatch]:
        if text.isdigit():
            symbol = self._symbol_by_entrez.get(text.lstrip("0"))
            return [self._match(symbol, "entrez")] if symbol else []
        key = name_key(text)
        symbol = self._symbol_by_key.get(key)
        if symbol:
            return [self._match(symbol, "symbol")]
        by_alias = self.alias_symbols.get(key, Counter())
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
            "alias_figures": {
                self.alias_display[key]: figures
                for key, figures in sorted(self.alias_figures.items())
                if key in self.alias_display
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> GeneLexicon:
        lexicon = cls()
        lexicon.learn(Gene(s, g["entrez"]) for s, g in data["genes"].items())
        lexicon.symbol_figures.update({s: g["figures"] for s, g in data["genes"].items()})
        for alias, symbols in data["aliases"].items():
            key = name_key(alias)
            lexicon.alias_symbols[key].update(symbols)
            lexicon.alias_display.setdefault(key, alias)
        figures = data.get("alias_figures")
        if figures is None:  # saved before figures were counted per alias: a lower bound
            figures = {
                a: max(symbols.values(), default=0) for a, symbols in data["aliases"].items()
            }
        for alias, count in figures.items():
            lexicon.alias_figures[name_key(alias)] += count
        return lexicon

    def figures_printing(self, alias: str) -> int:
        """Number of figures that print ``alias`` (in any spelling), for any of its genes."""
        return self.alias_figures.get(name_key(alias), 0)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> GeneLexicon:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
