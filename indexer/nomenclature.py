"""Human gene nomenclature from NCBI Gene: official symbols, previous symbols and aliases
-> Entrez IDs, for names that the figures never print ("HER2" for ERBB2).

The table is shipped in the package (``indexer/data/ncbi_human_genes.tsv.gz``, derived by
``indexer/data/derive_ncbi_genes.py``; see ``indexer/data/README.md`` for its source,
version and licence). Names are matched by :func:`indexer.analysis.name_key` (case,
accents, Greek spellings and dashes folded: "PGC-1α", "PGC-1alpha" and "pgc1a" are one
name). A name may stand for several genes ("p21" is CDKN1A and three others): every one
is returned, official symbols first, and the caller prefers those it knows of.
"""

from __future__ import annotations

import gzip
import sys
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from functools import cache
from itertools import chain, pairwise, repeat
from pathlib import Path
from typing import NamedTuple

from indexer.analysis import _NAME_GAPS, fold_accents, fold_greek_text, name_key

TABLE = Path(__file__).with_name("data") / "ncbi_human_genes.tsv.gz"
COLUMNS = ("entrez", "symbol", "type", "name", "aliases", "shorthand")
SYMBOL, ALIAS, ENTREZ = "symbol", "previous/alias", "entrez"
_KEY_SEPARATOR = "\x00"  # in no name; neither a letter nor a gap for name_key
_RANK_OF_TYPE = {"protein-coding": 0}  # every other type after the protein-coding genes


class NomenclatureMatch(NamedTuple):
    """A gene that a name names, and how: its official ``symbol``, one of its previous
    symbols or aliases (``previous/alias``), or its Entrez ID (``entrez``)."""

    symbol: str
    entrez: str
    how: str


class NomenclatureError(ValueError):
    """The table is not what the loader reads (says which file and line)."""


class GeneNomenclature:
    """Lookups over the NCBI Gene table. Load it with :meth:`load` (cached)."""

    def __init__(self, columns: list[tuple[str, ...]], header: dict[str, str]) -> None:
        """``columns``: the table's columns (:data:`COLUMNS`), rows sorted by Entrez ID."""
        self.header = header  # "source", "version", "licence"... from the file's comments
        entrez, symbols, types, names, aliases, shorthand = columns
        self._entrez = array("q", map(int, entrez))  # ascending (bisected)
        self._symbols = symbols
        self._types = tuple(map(sys.intern, types))  # a dozen distinct values
        self._names = names
        self._aliases = aliases
        # name key -> a gene's row * 2 + (0 for its symbol, 1 for another name), or a
        # tuple of them for a name of several genes, best first
        self._by_key: dict[str, int | tuple[int, ...]] = self._index_names(aliases, shorthand)

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls) -> GeneNomenclature:
        """The shipped table, read once per process."""
        return _load_shipped()

    @classmethod
    def from_file(cls, path: Path) -> GeneNomenclature:
        """Read a table written by ``indexer/data/derive_ncbi_genes.py``."""
        try:
            with gzip.open(path, "rt", encoding="utf-8", newline="\n") as file:
                lines = file.read().split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise NomenclatureError(f"{path}: cannot read the gene table: {error}") from None
        if lines[-1] == "":
            lines.pop()
        start = next((n for n, line in enumerate(lines) if not line.startswith("#")), None)
        if start is None or tuple(lines[start].split("\t")) != COLUMNS:
            where = len(lines) if start is None else start + 1
            raise NomenclatureError(f"{path}:{where}: expected the columns {', '.join(COLUMNS)}")
        header = dict(_header_entry(line) for line in lines[:start])
        rows = [line.split("\t") for line in lines[start + 1 :]]
        first_row = start + 2  # the line number of rows[0]
        if not rows:
            raise NomenclatureError(f"{path}: no genes")
        if set(map(len, rows)) != {len(COLUMNS)}:
            bad = next(n for n, row in enumerate(rows) if len(row) != len(COLUMNS))
            raise NomenclatureError(
                f"{path}:{first_row + bad}: expected {len(COLUMNS)} tab-separated cells"
            )
        columns = list(zip(*rows, strict=True))
        entrez, symbols = columns[0], columns[1]
        if not "".join(entrez).isdigit() or "" in entrez or "" in symbols:
            bad = next(n for n, row in enumerate(rows) if not row[0].isdigit() or not row[1])
            raise NomenclatureError(
                f"{path}:{first_row + bad}: expected an Entrez ID (digits) and a symbol"
            )
        del rows, lines  # the columns hold the cells: lower the peak while indexing
        nomenclature = cls(columns, header)
        if any(a >= b for a, b in pairwise(nomenclature._entrez)):  # bisect needs it
            raise NomenclatureError(f"{path}: rows are not sorted by Entrez ID, once each")
        return nomenclature

    def _index_names(
        self, aliases: tuple[str, ...], shorthand: tuple[str, ...]
    ) -> dict[str, int | tuple[int, ...]]:
        others = [
            (cell + "|" + more).strip("|").split("|") if cell or more else []
            for cell, more in zip(aliases, shorthand, strict=True)
        ]
        names = [*self._symbols, *chain.from_iterable(others)]
        codes = [
            *range(0, 2 * len(self._symbols), 2),
            *chain.from_iterable(repeat(row * 2 + 1, len(o)) for row, o in enumerate(others)),
        ]
        keys = name_keys(names)
        by_key: dict[str, int | tuple[int, ...]] = dict(zip(keys, codes, strict=True))
        if len(by_key) == len(keys):
            return by_key
        shared = {key for key, count in Counter(keys).items() if count > 1}
        groups: defaultdict[str, list[int]] = defaultdict(list)
        for key, code in zip(keys, codes, strict=True):
            if key in shared:
                groups[key].append(code)
        for key, group in groups.items():
            best: dict[int, int] = {}  # row -> its best code (its symbol before an alias)
            for code in sorted(group, reverse=True):
                best[code >> 1] = code
            ranked = sorted(best.values(), key=self._rank)
            by_key[key] = ranked[0] if len(ranked) == 1 else tuple(ranked)
        return by_key

    def _rank(self, code: int) -> tuple[int, int, int]:
        """Symbols before other names, protein-coding genes first, then by Entrez ID."""
        row = code >> 1
        return (code & 1, _RANK_OF_TYPE.get(self._types[row], 1), row)

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, name: str) -> tuple[NomenclatureMatch, ...]:
        """Every gene ``name`` names, best first: by Entrez ID (digits: "7157",
        "007157"), by official symbol, then by previous symbol or alias, in any spelling
        that :func:`indexer.analysis.name_key` folds ("c-Myc", "CMYC")."""
        text = name.strip()
        found: list[NomenclatureMatch] = []
        if text.isdigit():
            row = self._row_of_entrez(text)
            if row is not None:
                found.append(self._match(row * 2, ENTREZ))
        codes = self._by_key.get(name_key(text), ()) if text else ()
        for code in (codes,) if isinstance(codes, int) else codes:
            if not found or found[0].entrez != str(self._entrez[code >> 1]):
                found.append(self._match(code, ALIAS if code & 1 else SYMBOL))
        return tuple(found)

    def symbol_of(self, entrez: str | int) -> str | None:
        """The official symbol of a gene by its Entrez ID."""
        row = self._row_of_entrez(str(entrez))
        return None if row is None else self._symbols[row]

    def entrez_of(self, symbol: str) -> str | None:
        """The Entrez ID of the gene whose official symbol is ``symbol`` (exactly, or else
        in the one spelling name_key folds it to), None for a previous symbol or alias:
        :meth:`lookup` gives those."""
        codes = self._by_key.get(name_key(symbol.strip()), ())
        rows = [c >> 1 for c in ((codes,) if isinstance(codes, int) else codes) if not c & 1]
        exact = [row for row in rows if self._symbols[row] == symbol.strip()]
        chosen = exact or rows
        return str(self._entrez[chosen[0]]) if len(chosen) == 1 else None

    def name_of(self, entrez: str | int) -> str | None:
        """The full name of a gene ("erb-b2 receptor tyrosine kinase 2")."""
        row = self._row_of_entrez(str(entrez))
        return None if row is None else self._names[row]

    def aliases_of(self, entrez: str | int) -> tuple[str, ...]:
        """The previous symbols and aliases NCBI lists for a gene, as NCBI writes them."""
        row = self._row_of_entrez(str(entrez))
        return (
            tuple(self._aliases[row].split("|")) if row is not None and self._aliases[row] else ()
        )

    def gene_type(self, entrez: str | int) -> str | None:
        """NCBI's gene type: "protein-coding", "pseudo", "ncRNA" ..."""
        row = self._row_of_entrez(str(entrez))
        return None if row is None else self._types[row]

    def __len__(self) -> int:
        return len(self._entrez)

    def _row_of_entrez(self, entrez: str) -> int | None:
        if not entrez.isdigit():
            return None
        number = int(entrez)
        row = bisect_left(self._entrez, number)
        return row if row < len(self._entrez) and self._entrez[row] == number else None

    def _match(self, code: int, how: str) -> NomenclatureMatch:
        row = code >> 1
        return NomenclatureMatch(self._symbols[row], str(self._entrez[row]), how)


def _header_entry(line: str) -> tuple[str, str]:
    label, _, value = line.lstrip("#").partition(":")
    return label.strip(), value.strip()


def name_keys(names: list[str]) -> list[str]:
    """``[name_key(n) for n in names]`` for stripped names, in a few passes over their
    joined text instead of one call each (five times faster, and it leaves name_key's
    cache to the words of the index): every step of name_key folds a name on its own,
    and the separator is neither a letter, a digit nor a gap."""
    text = fold_accents(_KEY_SEPARATOR.join(names)).casefold()
    return _NAME_GAPS.sub("", fold_greek_text(text)).split(_KEY_SEPARATOR)


@cache
def _load_shipped() -> GeneNomenclature:
    return GeneNomenclature.from_file(TABLE)
