"""Reading typed genes: the one place where a name a user typed becomes genes.

:func:`resolve_gene` is called for every typed gene: the ``gene`` filter, ``gene:`` and
gene words in a query, the gene page, and each entry of an enrichment list or
background. Whatever widens what a name resolves to (more synonyms, another source of
aliases) goes here, and every caller sees it.

:func:`read_gene_list` reads a list's entries (``models.gene_entries`` splits a pasted
text into them), each resolved, with what happened to each one (recognised,
unrecognised, naming several genes, repeating an earlier entry).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from indexer.lexicon import GeneMatch, typed_name
from server.search.snapshot import Snapshot

MEMO_SIZE = 200_000  # typed names kept per generation, with the genes they name


class _Memo:
    """What typed names read as in one index generation: the genes each names, and each
    one's reading as a list entry. Bounded: emptied when full."""

    def __init__(self) -> None:
        self.genes: dict[str, tuple[GeneMatch, ...]] = {}
        self.entries: dict[str, _Entry] = {}

    def keep(self, table: dict[str, Any], text: str, value: Any) -> Any:
        if len(table) >= MEMO_SIZE:
            table.clear()
        table[text] = value
        return value


_MEMOS: weakref.WeakKeyDictionary[Snapshot, _Memo] = weakref.WeakKeyDictionary()


def _memo(snap: Snapshot) -> _Memo:
    memo = _MEMOS.get(snap)
    return memo if memo is not None else _MEMOS.setdefault(snap, _Memo())


def resolve_gene(snap: Snapshot, text: str) -> list[GeneMatch]:
    """The genes ``text`` names, most figures first for an alias: an HGNC symbol, an Entrez
    ID, a printed alias (every gene it was printed for: a family name such as "JAK" is
    JAK1, JAK2, JAK3 and TYK2, as PFOCR reads it in figures), or a shorthand of several
    ("ERK1/2"); else a symbol the figures list (any case) that the lexicon lacks; else a
    name NCBI Gene knows ("HER2" is ERBB2; of several genes, those in the index).

    Answers are kept per index generation (a gene list of thousands reads its common
    genes from memory)."""
    memo = _memo(snap)
    found = memo.genes.get(text)
    if found is None:
        found = memo.keep(memo.genes, text, tuple(_resolve(snap, text)))
    return list(found)


def _resolve(snap: Snapshot, text: str) -> list[GeneMatch]:
    matches = snap.lexicon.resolve(text)
    if matches:
        return matches
    genes = snap.facets["gene"]
    ordinal = genes.lookup(typed_name(text))
    if ordinal is None:  # a name the figures never print: as NCBI Gene knows it
        return snap.lexicon.resolve(text, nomenclature=True)
    symbol = genes.values[ordinal]
    return [GeneMatch(symbol, snap.lexicon.entrez(symbol), "symbol", int(genes.totals[ordinal]))]


@dataclass(frozen=True)
class ListedGene:
    """One gene a list names: its symbol, Entrez ID, and gene facet ordinal (None for a
    gene in no figure of the index)."""

    symbol: str
    entrez: str | None
    ordinal: int | None


@dataclass
class GeneList:
    """A gene list as read: the distinct genes it names, and the fate of every entry."""

    entries: int = 0
    recognised: int = 0  # entries naming a gene, repeats included
    genes: dict[str, ListedGene] = field(default_factory=dict)  # case-folded symbol -> gene
    unrecognised: list[str] = field(default_factory=list)  # as typed
    resolved: list[dict[str, Any]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unrecognised_keys(self) -> set[str]:
        """The unrecognised entries as compared with each other (case folded)."""
        return {entry_key(text) for text in self.unrecognised}

    def report(self) -> dict[str, Any]:
        """What the answer says of the list (``query`` of an enrichment)."""
        return {
            "entries": self.entries,
            "recognised": self.recognised,
            "genes": len(self.genes),
            "resolved": self.resolved,
            "unrecognised": self.unrecognised,
            "ambiguous": self.ambiguous,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True)
class _Entry:
    """How one typed entry reads: its key among entries, and the genes it names with
    their case-folded symbols and how each matched."""

    key: str
    genes: tuple[tuple[str, ListedGene, str], ...]


def _entry(snap: Snapshot, memo: _Memo, entry: str) -> _Entry:
    found = memo.entries.get(entry)
    if found is None:
        facet = snap.facets["gene"]
        genes = tuple(
            (
                m.symbol.casefold(),
                ListedGene(m.symbol, m.entrez, facet.lookup(m.symbol)),
                m.matched_by,
            )
            for m in resolve_gene(snap, entry)
        )
        found = memo.keep(memo.entries, entry, _Entry(entry_key(entry), genes))
    return found


def read_gene_list(snap: Snapshot, entries: Iterable[str]) -> GeneList:
    """Resolve every entry with :func:`resolve_gene`.

    An entry naming several genes (a family or an ambiguous alias) stands for all of them,
    as the same name printed in a figure does, and is listed in ``ambiguous``. An entry
    that repeats an earlier one (in any case), or names only genes already named, is a
    duplicate: listed, counted once."""
    read = GeneList()
    first_by_key: dict[str, tuple[str, bool]] = {}  # entry key -> (first typed, recognised)
    named_by: dict[str, str] = {}  # case-folded symbol -> the entry that first named it
    memo = _memo(snap)
    genes, resolved = read.genes, read.resolved
    for entry in entries:
        read.entries += 1
        reading = memo.entries.get(entry) or _entry(snap, memo, entry)
        first = first_by_key.get(reading.key)
        if first is not None:
            read.duplicates.append({"input": entry, "same_as": first[0]})
            read.recognised += first[1]
            continue
        first_by_key[reading.key] = (entry, bool(reading.genes))
        if not reading.genes:
            read.unrecognised.append(entry)
            continue
        read.recognised += 1
        new = [g for g in reading.genes if g[0] not in genes]
        if not new:
            read.duplicates.append({"input": entry, "same_as": named_by[reading.genes[0][0]]})
            continue
        if len(reading.genes) > 1:
            read.ambiguous.append(
                {
                    "input": entry,
                    "genes": [
                        {"symbol": g.symbol, "entrez": g.entrez} for _, g, _ in reading.genes
                    ],
                    "action": "expanded",
                }
            )
        for folded, gene, matched_by in new:
            genes[folded] = gene
            named_by[folded] = entry
            resolved.append(
                {
                    "input": entry,
                    "symbol": gene.symbol,
                    "entrez": gene.entrez,
                    "matched_by": matched_by,
                }
            )
    return read


def entry_key(entry: str) -> str:
    """How entries of a list are compared with each other: as typed, case folded."""
    return typed_name(entry).casefold()
