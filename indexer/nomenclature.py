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
import re
import sys
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from functools import cache
from itertools import accumulate, chain, compress, repeat
from operator import add, itemgetter, lt, ne
from pathlib import Path
from typing import NamedTuple

import numpy as np

from indexer.analysis import _NAME_GAPS, fold_accents, fold_greek_text, name_key

TABLE = Path(__file__).with_name("data") / "ncbi_human_genes.tsv.gz"
COLUMNS = ("entrez", "symbol", "type", "name", "aliases", "shorthand")
SYMBOL, ALIAS, ENTREZ = "symbol", "previous/alias", "entrez"
_LOC_SYMBOL = re.compile(r"loc(\d+)")  # the key of a symbol "LOC<Entrez ID>"
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
        """``columns``: the table's columns (:data:`COLUMNS`), rows sorted by Entrez ID.

        Kept in a few large blocks, not an object per name (:class:`Strings`): a server
        loads the table before forking its workers, and a worker allocating beside such
        objects, or counting references to them, copies their memory pages."""
        self.header = header  # "source", "version", "licence"... from the file's comments
        entrez, symbols, types, names, aliases, shorthand = columns
        self._entrez = array("q", map(int, entrez))  # ascending (bisected)
        self._symbols = Strings(symbols)
        self._types = tuple(map(sys.intern, types))  # a dozen distinct values
        self._names = Strings(names)
        self._aliases = Strings(aliases)
        # the name keys, sorted, in UTF-8 (one numpy block, searched in C); the codes of key
        # i are _codes[_code_ends[i-1]:_code_ends[i]]: a gene's row * 2 + (0 for its symbol,
        # 1 for another name), ranked when asked for
        self._keys, self._codes, self._code_ends = self._index_names(symbols, aliases, shorthand)

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def load(cls) -> GeneNomenclature:
        """The shipped table, read once per process."""
        return _load_shipped()

    @classmethod
    def from_file(cls, path: Path) -> GeneNomenclature:
        """Read a table written by ``indexer/data/derive_ncbi_genes.py``.

        Loading is a few passes over whole strings and lists (split, slice, map) rather
        than Python work per gene (``python -m bench.bench_language_data`` measures it)."""
        try:
            with gzip.open(path, "rt", encoding="utf-8", newline="\n") as file:
                text = file.read()
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise NomenclatureError(f"{path}: cannot read the gene table: {error}") from None
        header, first_row, body = _split_header(path, text)
        if not body:
            raise NomenclatureError(f"{path}: no genes")
        # Every row has len(COLUMNS) cells: the cells of all rows in one list, each column
        # a slice of it. A row of another length shifts what follows out of its column,
        # which the checks below see (and _find_bad_row names).
        cells = body.replace("\n", "\t").split("\t")
        width = len(COLUMNS)
        columns = [tuple(cells[i::width]) for i in range(width)]
        entrez, symbols, types = columns[0], columns[1], columns[2]
        if (
            len(cells) % width
            or not "".join(entrez).isdigit()
            or "" in entrez
            or "" in symbols
            or any(" " in gene_type for gene_type in {*types})  # one word: "ncRNA"
        ):
            raise _find_bad_row(path, body, first_row)
        del cells, text, body  # the columns hold the cells: lower the peak while indexing
        nomenclature = cls(columns, header)
        entrez_ids = nomenclature._entrez
        if not all(map(lt, entrez_ids, entrez_ids[1:])):  # bisect needs it
            raise NomenclatureError(f"{path}: rows are not sorted by Entrez ID, once each")
        return nomenclature

    def _index_names(
        self, symbols: tuple[str, ...], aliases: tuple[str, ...], shorthand: tuple[str, ...]
    ) -> tuple[np.ndarray, array[int], array[int]]:
        """Sorted name keys and their codes (see __init__), built with map, chain, compress
        and sort, which run in C: a Python loop over 150,000 names would be most of the
        load."""
        # A symbol "LOC<its Entrez ID>" (a third of the genes) is found by that ID instead
        # (_codes_of): a fifth of the names, kept out of the index.
        named = list(map(ne, symbols, map("LOC{}".format, self._entrez)))
        names = list(compress(symbols, named))
        codes = list(compress(range(0, 2 * len(symbols), 2), named))
        for column in (aliases, shorthand):
            filled = list(map(bool, column))  # most genes have no other name
            cells = list(compress(column, filled))
            names += "|".join(cells).split("|") if cells else []  # not [""]
            counts = map(add, map(str.count, cells, repeat("|")), repeat(1))  # n - 1 "|"
            rows = compress(range(1, 2 * len(symbols), 2), filled)
            codes += chain.from_iterable(map(repeat, rows, counts))
        pairs = sorted(set(zip(name_keys(names), codes, strict=True)))  # each (key, code) once
        del names, codes
        keys = list(map(itemgetter(0), pairs))
        # where each key's run of pairs ends: the first of each run is a new key
        firsts = list(compress(range(len(keys)), map(ne, keys, [None, *keys])))
        ends = array("q", [*firsts[1:], len(keys)])
        return (
            np.array([keys[first].encode() for first in firsts], dtype=np.bytes_),
            array("q", map(itemgetter(1), pairs)),
            ends,
        )

    def _ranked(self, codes: tuple[int, ...]) -> list[int]:
        """A shared key's codes, one per gene (its symbol's before an alias's), symbols
        first, then protein-coding genes, then by Entrez ID."""
        best: dict[int, int] = {}  # row -> its best code
        for code in sorted(codes, reverse=True):
            best[code >> 1] = code
        return sorted(best.values(), key=self._rank)

    def _rank(self, code: int) -> tuple[int, int, int]:
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
        for code in self._codes_of(name_key(text)) if text else ():
            if not found or found[0].entrez != str(self._entrez[code >> 1]):
                found.append(self._match(code, ALIAS if code & 1 else SYMBOL))
        return tuple(found)

    def symbol_of(self, entrez: str | int) -> str | None:
        """The official symbol of a gene by its Entrez ID."""
        row = self._row_of_entrez(str(entrez))
        return None if row is None else self._symbols[row]

    def entrez_of(self, symbol: str) -> str | None:
        """The Entrez ID of the gene whose official symbol is ``symbol`` (as written, or
        else in any spelling name_key folds to it), None for a previous symbol or alias
        (:meth:`lookup` gives those). NCBI gives a few symbols to several genes (HBD,
        TEC, MEMO1: 37 of them): the protein-coding one, else the lowest Entrez ID."""
        symbol = symbol.strip()
        rows = [code >> 1 for code in self._codes_of(name_key(symbol)) if not code & 1]
        exact = [row for row in rows if self._symbols[row] == symbol]
        chosen = exact or rows
        return str(self._entrez[chosen[0]]) if chosen else None

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

    def _codes_of(self, key: str) -> list[int]:
        """The codes of the names whose key is ``key``, best first."""
        encoded = key.encode()
        index = int(np.searchsorted(self._keys, encoded))
        ranked: list[int] = []
        if index < len(self._keys) and self._keys[index] == encoded:
            start = self._code_ends[index - 1] if index else 0
            codes = self._codes[start : self._code_ends[index]]
            ranked = [codes[0]] if len(codes) == 1 else self._ranked(tuple(codes))
        number = _LOC_SYMBOL.fullmatch(key)
        row = self._row_of_entrez(number[1]) if number else None
        if row is not None and self._symbols[row] == f"LOC{number[1]}":
            ranked.insert(0, row * 2)  # an official symbol, first
        return ranked

    def _row_of_entrez(self, entrez: str) -> int | None:
        if not entrez.isdigit():
            return None
        number = int(entrez)
        row = bisect_left(self._entrez, number)
        return row if row < len(self._entrez) and self._entrez[row] == number else None

    def _match(self, code: int, how: str) -> NomenclatureMatch:
        row = code >> 1
        return NomenclatureMatch(self._symbols[row], str(self._entrez[row]), how)


def _split_header(path: Path, text: str) -> tuple[dict[str, str], int, str]:
    """The header's entries, the line number of the first row, and the rows' text."""
    header: dict[str, str] = {}
    position, number = 0, 1
    while text.startswith("#", position):
        end = text.index("\n", position)
        label, value = _header_entry(text[position:end])
        header[label] = value
        position, number = end + 1, number + 1
    end = text.find("\n", position)
    end = len(text) if end < 0 else end
    if tuple(text[position:end].split("\t")) != COLUMNS:
        raise NomenclatureError(f"{path}:{number}: expected the columns {', '.join(COLUMNS)}")
    return header, number + 1, text[end + 1 :].removesuffix("\n")


def _find_bad_row(path: Path, body: str, first_row: int) -> NomenclatureError:
    """The error naming the first row that is not an Entrez ID, a symbol, a gene type
    and three more cells (read row by row: only when the table is bad)."""
    for number, line in enumerate(body.split("\n"), first_row):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            return NomenclatureError(
                f"{path}:{number}: expected {len(COLUMNS)} tab-separated cells"
            )
        if not cells[0].isdigit() or not cells[1] or " " in cells[2]:
            return NomenclatureError(
                f"{path}:{number}: expected an Entrez ID (digits), a symbol and a gene type"
            )
    return NomenclatureError(f"{path}: rows not understood")


def _header_entry(line: str) -> tuple[str, str]:
    label, _, value = line.lstrip("#").partition(":")
    return label.strip(), value.strip()


class Strings:
    """A column of strings held as one string and where each ends: a few blocks of
    memory for the whole column, where a tuple holds an object per string. (The index's
    ``indexer.index.arrays.StringTable`` is the same idea for files; this module cannot
    import it: arrays -> schema -> lexicon -> this module.)"""

    def __init__(self, cells: Sequence[str]) -> None:
        self._text = "".join(cells)
        self._ends = array("q", accumulate(map(len, cells)))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, row: int) -> str:
        end = self._ends[row]  # IndexError past the end, as a tuple's
        start = self._ends[row - 1] if row % len(self._ends) else 0
        return self._text[start:end]


def name_keys(names: list[str]) -> list[str]:
    """``[name_key(n) for n in names]`` for stripped names, in a few passes over their
    joined text instead of one call each (five times faster, and it leaves name_key's
    cache to the words of the index): every step of name_key folds a name on its own,
    and the separator is neither a letter, a digit nor a gap."""
    text = fold_accents(_KEY_SEPARATOR.join(names)).casefold()
    keys = _NAME_GAPS.sub("", fold_greek_text(text)).split(_KEY_SEPARATOR)
    if len(keys) != len(names):  # a name holds the separator: one call each
        keys = [name_key(name) for name in names]
    return keys


@cache
def _load_shipped() -> GeneNomenclature:
    return GeneNomenclature.from_file(TABLE)
