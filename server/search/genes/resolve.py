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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from indexer.lexicon import GeneMatch, typed_name
from server.search.snapshot import Snapshot


def resolve_gene(snap: Snapshot, text: str) -> list[GeneMatch]:
    """The genes ``text`` names, most figures first for an alias: an HGNC symbol, an Entrez
    ID, a printed alias (every gene it was printed for: a family name such as "JAK" is
    JAK1, JAK2, JAK3 and TYK2, as PFOCR reads it in figures), or a shorthand of several
    ("ERK1/2"); else a symbol the figures list (any case) that the lexicon lacks."""
    matches = snap.lexicon.resolve(text)
    if matches:
        return matches
    genes = snap.facets["gene"]
    ordinal = genes.lookup(typed_name(text))
    if ordinal is None:
        return []
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


def read_gene_list(snap: Snapshot, entries: Iterable[str]) -> GeneList:
    """Resolve every entry with :func:`resolve_gene`.

    An entry naming several genes (a family or an ambiguous alias) stands for all of them,
    as the same name printed in a figure does, and is listed in ``ambiguous``. An entry
    that repeats an earlier one (in any case), or names only genes already named, is a
    duplicate: listed, counted once."""
    read = GeneList()
    first_by_key: dict[str, tuple[str, bool]] = {}  # entry key -> (first typed, recognised)
    named_by: dict[str, str] = {}  # case-folded symbol -> the entry that first named it
    facet = snap.facets["gene"]
    for entry in entries:
        read.entries += 1
        key = entry_key(entry)
        if key in first_by_key:
            first, recognised = first_by_key[key]
            read.duplicates.append({"input": entry, "same_as": first})
            read.recognised += recognised
            continue
        matches = resolve_gene(snap, entry)
        first_by_key[key] = (entry, bool(matches))
        if not matches:
            read.unrecognised.append(entry)
            continue
        read.recognised += 1
        new = [m for m in matches if m.symbol.casefold() not in read.genes]
        if not new:
            same = named_by[matches[0].symbol.casefold()]
            read.duplicates.append({"input": entry, "same_as": same})
            continue
        if len(matches) > 1:
            read.ambiguous.append(
                {
                    "input": entry,
                    "genes": [{"symbol": m.symbol, "entrez": m.entrez} for m in matches],
                    "action": "expanded",
                }
            )
        for match in new:
            folded = match.symbol.casefold()
            read.genes[folded] = ListedGene(match.symbol, match.entrez, facet.lookup(folded))
            named_by[folded] = entry
            read.resolved.append(
                {
                    "input": entry,
                    "symbol": match.symbol,
                    "entrez": match.entrez,
                    "matched_by": match.matched_by,
                }
            )
    return read


def entry_key(entry: str) -> str:
    """How entries of a list are compared with each other: as typed, case folded."""
    return typed_name(entry).casefold()
