"""Derive ``ncbi_human_genes.tsv.gz``, the human gene nomenclature the search ships, from
NCBI Gene as packaged by Bioconductor's org.Hs.eg.db (a SQLite file).

    apt-get download r-bioc-org.hs.eg.db && dpkg -x r-bioc-org.hs.eg.db_*.deb x
    python indexer/data/derive_ncbi_genes.py \\
        x/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite

writes ``indexer/data/ncbi_human_genes.tsv.gz`` (``--output`` to write elsewhere). The
output depends only on the SQLite file: rows sorted by Entrez ID, names sorted, gzip
without a time stamp, so the same input gives the same bytes.

One row per gene: Entrez ID, official symbol, gene type, full name, the other names NCBI
lists for it (its ``alias`` table mixes previous symbols and aliases), and the names read
from shorthand aliases (:func:`shorthand_names`: "BCL-XL/S" is BCL-XL and BCL-XS).
"""

from __future__ import annotations

import argparse
import gzip
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

from indexer.analysis import name_key

DEFAULT_OUTPUT = Path(__file__).with_name("ncbi_human_genes.tsv.gz")
COLUMNS = ("entrez", "symbol", "type", "name", "aliases", "shorthand")
NAMES_SEPARATOR = "|"  # no NCBI name holds one (checked on reading)
LICENCE = (
    "public domain: NCBI Gene is a work of the US Government, and NCBI places no"
    " restriction on the use or distribution of its data"
    " (https://www.ncbi.nlm.nih.gov/home/about/policies/)"
)

# "ERK1/2", "NT-4/5", "DG2/DG3": a name ending in a number, then other numbers or names
# that differ only in it. The prefix needs two characters and ends in a letter or a dash.
_NUMBERED = re.compile(r"(?P<prefix>[^/]*[A-Za-z][-]?)(?P<number>\d+)")
# "BCL-XL/S", "KIR3DL1/S1", "CABYRc/d": a name whose last one or two characters another
# part replaces, the replaced part following a letter ("H2A/q" and "NF-I/A" are names),
# in a name of four characters or more ("YF5/A2" and "NT/N" are names).
_TAIL = re.compile(r"[A-Za-z]([A-Z]|[a-z]|[A-Z]\d|[a-z]\d)$")


def read_genes(database: Path) -> tuple[list[tuple[str, str, str, str, list[str]]], dict]:
    """(entrez, symbol, type, name, other names) per gene, and the metadata table."""
    if not database.is_file():
        raise SystemExit(f"error: {database}: no such file")
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        metadata = dict(connection.execute("SELECT name, value FROM metadata"))
        if metadata.get("TAXID") != "9606":
            raise SystemExit(f"error: {database}: not human (TAXID {metadata.get('TAXID')})")
        aliases: defaultdict[int, set[str]] = defaultdict(set)
        for row_id, alias in connection.execute("SELECT _id, alias_symbol FROM alias"):
            aliases[row_id].add(alias)
        rows = connection.execute(
            "SELECT g._id, g.gene_id, i.symbol, t.gene_type, i.gene_name"
            " FROM genes g JOIN gene_info i USING (_id) JOIN genetype t USING (_id)"
        ).fetchall()
    finally:
        connection.close()
    genes = []
    for row_id, entrez, symbol, gene_type, name in rows:
        others = sorted(aliases[row_id] - {symbol})
        for text in (entrez, symbol, gene_type, name, *others):
            if not text or text != text.strip() or "\t" in text or "\n" in text:
                raise SystemExit(f"error: gene {entrez}: unexpected value {text!r}")
        if NAMES_SEPARATOR in symbol or any(NAMES_SEPARATOR in a for a in others):
            raise SystemExit(f"error: gene {entrez}: a name holds {NAMES_SEPARATOR!r}")
        genes.append((entrez, symbol, gene_type, name, others))
    genes.sort(key=lambda gene: int(gene[0]))
    return genes, metadata


def shorthand_names(alias: str) -> list[str]:
    """The names an alias written as shorthand stands for, or [] when it is not shorthand:
    "BCL-XL/S" -> [BCL-XL, BCL-XS], "Oct3/4" -> [Oct3, Oct4], "DG2/DG3" -> [DG2, DG3],
    "KIR3DL1/S1" -> [KIR3DL1, KIR3DS1]. Slashes that join unrelated names ("TEL/ABL", a
    fusion; "H2A/q", one histone's name) are not shorthand."""
    first, *rest = alias.split("/")
    if not rest:
        return []
    return _numbered_names(first, rest) or _tail_names(first, rest)


def _numbered_names(first: str, rest: list[str]) -> list[str]:
    numbered = _NUMBERED.fullmatch(first)
    if not numbered or len(numbered["prefix"].rstrip("-")) < 2:
        return []
    prefix, digits = numbered["prefix"], len(numbered["number"])
    names = [first]
    for part in rest:
        if part.isdigit() and len(part) == digits:
            names.append(prefix + part)
        elif (again := _NUMBERED.fullmatch(part)) and again["prefix"] == prefix:
            names.append(part)
        else:
            return []
    return names


def _tail_names(first: str, rest: list[str]) -> list[str]:
    tail = _TAIL.search(first)
    if len(rest) != 1 or not tail or len(first) < 4:  # "YF5/A2", "NT/N" are names
        return []
    replaced, part = tail.group(1), rest[0]
    if len(part) != len(replaced) or not _same_shape(replaced, part):
        return []
    return [first, first[: -len(part)] + part]


def _same_shape(a: str, b: str) -> bool:
    """Letters of the same case and digits in the same places."""
    return all(
        (x.isdigit() and y.isdigit())
        or (x.isupper() and y.isupper())
        or (x.islower() and y.islower())
        for x, y in zip(a, b, strict=True)
    )


def shorthand_by_gene(genes: list[tuple[str, str, str, str, list[str]]]) -> dict[str, list[str]]:
    """Entrez ID -> the names its shorthand aliases stand for that no gene lists itself:
    a name another gene holds as symbol or alias is that gene's ("ODF2/1" does not make
    ODF2 an "ODF1"), and one this gene already lists adds nothing."""
    owner: defaultdict[str, set[str]] = defaultdict(set)
    for entrez, symbol, _, _, others in genes:
        for name in (symbol, *others):
            owner[name_key(name)].add(entrez)
    found: dict[str, list[str]] = {}
    for entrez, _, _, _, others in genes:
        names = {
            name
            for alias in others
            for name in shorthand_names(alias)
            if not owner.get(name_key(name))
        }
        if names:
            found[entrez] = sorted(names)
    return found


def write_table(genes: list, metadata: dict, source: str, output: Path) -> tuple[int, int, int]:
    shorthand = shorthand_by_gene(genes)
    header = [
        "# about: human genes (Homo sapiens, NCBI taxon 9606) from NCBI Gene, one row per"
        " gene: Entrez ID, official symbol, gene type, full name, the other names NCBI lists"
        " (previous symbols and aliases, one list), and the names read from shorthand"
        " aliases (BCL-XL/S is BCL-XL and BCL-XS) that no gene lists itself",
        f"# source: NCBI Gene ({metadata.get('EGSOURCEURL')}), read from {source}",
        f"# version: {metadata.get('EGSOURCEDATE')} (EGSOURCEDATE)",
        f"# licence: {LICENCE}",
        "# derived-by: indexer/data/derive_ncbi_genes.py (do not edit by hand); rows sorted"
        ' by Entrez ID; names in a cell sorted and separated by "|"',
        "\t".join(COLUMNS),
    ]
    lines = [
        "\t".join(
            (entrez, symbol, gene_type, name, "|".join(others), "|".join(shorthand.get(entrez, ())))
        )
        for entrez, symbol, gene_type, name, others in genes
    ]
    text = "\n".join([*header, *lines]) + "\n"
    with (
        output.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as packed,
    ):
        packed.write(text.encode("utf-8"))
    aliases = sum(len(gene[4]) for gene in genes)
    return len(genes), aliases, sum(map(len, shorthand.values()))


def package_version(database: Path) -> str:
    """The org.Hs.eg.db version from the DESCRIPTION beside ``extdata/``, if there."""
    description = database.parent.parent / "DESCRIPTION"
    if description.is_file():
        for line in description.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return f"Bioconductor org.Hs.eg.db {line.split(':', 1)[1].strip()}"
    return "Bioconductor org.Hs.eg.db"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path, help="org.Hs.eg.sqlite of org.Hs.eg.db")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    genes, metadata = read_genes(args.database)
    source = f"{package_version(args.database)} (Debian r-bioc-org.hs.eg.db), {args.database.name}"
    count, aliases, shorthand = write_table(genes, metadata, source, args.output)
    print(
        f"{args.output}: {count} genes, {aliases} other names, {shorthand} shorthand names,"
        f" EGSOURCEDATE {metadata.get('EGSOURCEDATE')}, {args.output.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
