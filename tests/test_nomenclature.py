"""The NCBI Gene nomenclature: the shipped table, its loader and its lookups, and the
script that derives the table (run here on a small SQLite file of the same schema)."""

from __future__ import annotations

import gc
import gzip
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

import indexer
from indexer import nomenclature as nomenclature_module
from indexer.analysis import name_key
from indexer.data import derive_ncbi_genes
from indexer.nomenclature import (
    COLUMNS,
    TABLE,
    GeneNomenclature,
    NomenclatureError,
    NomenclatureMatch,
    name_keys,
)
from indexer.record import normalize
from indexer.sources import discover, read_records
from tests.conftest import SAMPLE_RECORDS

ALIAS = "previous/alias"


@pytest.fixture(scope="module")
def genes() -> GeneNomenclature:
    return GeneNomenclature.load()


def symbols(matches: tuple[NomenclatureMatch, ...]) -> list[str]:
    return [m.symbol for m in matches]


@pytest.mark.parametrize(
    ("name", "symbol", "entrez"),
    [
        ("HER2", "ERBB2", "2064"),
        ("c-Myc", "MYC", "4609"),
        ("PGC-1α", "PPARGC1A", "10891"),
        ("PGC-1alpha", "PPARGC1A", "10891"),
        ("pgc1a", "PPARGC1A", "10891"),
        ("Bcl-xL", "BCL2L1", "598"),  # from NCBI's shorthand "BCL-XL/S"
        ("Bcl-xS", "BCL2L1", "598"),
        ("HER-2/neu", "ERBB2", "2064"),
        ("DDX58", "RIGI", "23586"),  # a previous symbol
    ],
)
def test_a_previous_symbol_or_alias_names_its_gene(genes, name, symbol, entrez):
    assert genes.lookup(name) == (NomenclatureMatch(symbol, entrez, ALIAS),)


def test_an_official_symbol_names_its_gene_in_any_spelling(genes):
    tp53 = (NomenclatureMatch("TP53", "7157", "symbol"),)
    assert genes.lookup("TP53") == genes.lookup("tp53") == genes.lookup(" Tp-53 ") == tp53
    assert genes.lookup("IL-1β") == genes.lookup("IL1B")
    assert genes.lookup("IL-1β")[0] == NomenclatureMatch("IL1B", "3553", "symbol")


def test_a_name_of_several_genes_returns_each_once_symbols_first(genes):
    p21 = genes.lookup("p21")
    assert p21[0] == NomenclatureMatch("CDKN1A", "1026", ALIAS)
    assert {"CDKN1A", "TCEAL1", "NSG1"} <= set(symbols(p21))
    assert len(set(p21)) == len(p21) and {m.how for m in p21} == {ALIAS}
    # CAT is catalase's symbol, and an alias of two other genes
    assert genes.lookup("CAT") == (
        NomenclatureMatch("CAT", "847", "symbol"),
        NomenclatureMatch("CRAT", "1384", ALIAS),
        NomenclatureMatch("GLYAT", "10249", ALIAS),
    )


def test_protein_coding_genes_come_before_pseudogenes(genes):
    p21 = genes.lookup("p21")
    types = [genes.gene_type(m.entrez) for m in p21]
    assert "pseudo" in types
    assert types == sorted(types, key=lambda t: t != "protein-coding")


def test_a_gene_matched_by_its_symbol_and_an_alias_is_listed_once_as_symbol(genes):
    # ERBB2's alias "c-ERB-2" and its symbol are different keys, but "HER-2" and "HER2"
    # are one key of one gene: listed once
    assert genes.lookup("ERBB2") == (NomenclatureMatch("ERBB2", "2064", "symbol"),)
    assert genes.lookup("HER-2") == genes.lookup("HER2")


def test_entrez_ids(genes):
    assert genes.lookup("7157") == (NomenclatureMatch("TP53", "7157", "entrez"),)
    assert genes.lookup("007157") == genes.lookup("7157")
    assert genes.symbol_of("2064") == genes.symbol_of(2064) == "ERBB2"
    assert genes.symbol_of("0") is None and genes.symbol_of("ERBB2") is None
    assert genes.symbol_of(10**12) is None
    assert genes.entrez_of("ERBB2") == genes.entrez_of("erbb2") == "2064"
    assert genes.entrez_of("HER2") is None  # an alias: lookup() says what it names
    assert genes.name_of(7157) == "tumor protein p53"
    assert "P53" in genes.aliases_of("7157")
    assert genes.gene_type(7157) == "protein-coding"


def shipped_rows() -> list[list[str]]:
    lines = gzip.decompress(TABLE.read_bytes()).decode("utf-8").splitlines()
    return [line.split("\t") for line in lines if not line.startswith("#")][1:]


def test_every_symbol_and_name_of_the_table_finds_its_gene(genes):
    """Each of the 77,000 symbols (those written LOC<Entrez ID> too) first, and each
    previous symbol, alias and shorthand name among its matches."""
    for entrez, symbol, _, _, aliases, shorthand in shipped_rows():
        found = genes.lookup(symbol)
        assert found[0].how == "symbol", symbol
        assert NomenclatureMatch(symbol, entrez, "symbol") in found, symbol
        assert genes.entrez_of(symbol) == entrez or found[1].how == "symbol", symbol
        for alias in filter(None, f"{aliases}|{shorthand}".split("|")):
            assert entrez in {m.entrez for m in genes.lookup(alias)}, (symbol, alias)


def test_a_loc_symbol_is_found_by_its_own_spelling_only(genes):
    assert genes.lookup("LOC101928626")[0] == NomenclatureMatch(
        "LOC101928626", "101928626", "symbol"
    )
    assert genes.lookup("loc101928626") == genes.lookup("LOC101928626")
    assert genes.lookup("LOC0101928626") == genes.lookup("LOC1") == ()
    assert genes.entrez_of("LOC101928626") == "101928626"


def test_a_symbol_of_several_genes_prefers_the_protein_coding_one(genes):
    # NCBI gives HBD to hemoglobin delta and to a locus of unknown type
    found = [m for m in genes.lookup("HBD") if m.how == "symbol"]
    assert len(found) == 2 and found[0] == NomenclatureMatch("HBD", "3045", "symbol")
    assert genes.entrez_of("HBD") == "3045"


def test_unknown_and_blank_names_match_nothing(genes):
    assert genes.lookup("") == genes.lookup("  ") == genes.lookup("zzzqqq") == ()
    assert genes.lookup("999999999999") == ()


def test_the_genes_of_the_sample_records_are_found_by_symbol_and_entrez(genes):
    pairs, printed = {}, {}
    for path in discover([SAMPLE_RECORDS]):
        for raw in read_records(path):
            for gene in normalize(raw.data, raw.location).genes:
                if gene.entrez:
                    pairs[gene.symbol] = gene.entrez
                for alias in gene.aliases:
                    printed.setdefault(alias, set()).add(gene.symbol)
    assert len(pairs) > 500
    for symbol, entrez in pairs.items():
        assert entrez in {m.entrez for m in genes.lookup(symbol)}, symbol
        assert genes.symbol_of(entrez) is not None, symbol
    # most printed words (not families such as "MAPK", "PKA") name one of the figure's genes
    resolved = [a for a, found in printed.items() if found & set(symbols(genes.lookup(a)))]
    assert len(resolved) > 0.8 * len(printed)


def test_the_shipped_table_is_read_and_loaded_once(genes):
    assert TABLE.is_relative_to(Path(indexer.__file__).parent)
    assert GeneNomenclature.load() is genes
    assert len(genes) > 70_000
    assert genes.header["version"] == "2022-Sep12 (EGSOURCEDATE)"
    assert genes.header["licence"].startswith("public domain")
    assert "NCBI Gene" in genes.header["source"]


def test_the_shipped_table_is_sorted_and_reproducible():
    data = TABLE.read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # no time stamp in the gzip header
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    rows = [line.split("\t") for line in lines if not line.startswith("#")][1:]
    entrez = [int(row[0]) for row in rows]
    assert entrez == sorted(set(entrez))
    for row in rows:
        for cell in row[4:]:
            names = cell.split("|") if cell else []
            assert names == sorted(set(names)) and row[1] not in names, row


def test_bulk_name_keys_equal_name_key_on_every_shipped_name():
    rows = shipped_rows()
    names = [n for row in rows for cell in (row[1], row[4], row[5]) for n in cell.split("|") if n]
    names += ["NF-κB", "TGF-beta1", "ΙκΒα", "Ca²⁺", "β-catenin", "ÆÐ", "ß", "alphabet"]
    assert name_keys(names) == [name_key(name) for name in names]
    odd = ["a\x00b", "beta", "NF-κB"]  # a name holding the separator: keyed one by one
    assert name_keys(odd) == [name_key(name) for name in odd]


# -- the loader's errors ---------------------------------------------------------------


def write_table(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


HEADER = ["# version: test", "\t".join(COLUMNS)]


def test_a_small_table_loads(tmp_path):
    table = write_table(
        tmp_path / "t.tsv.gz",
        [*HEADER, "1\tAAA\tpseudo\tone\tA-1|X\t", "5\tBBB\tprotein-coding\tfive\tX\tBBB2"],
    )
    genes = GeneNomenclature.from_file(table)
    assert genes.header == {"version": "test"}
    assert symbols(genes.lookup("x")) == ["BBB", "AAA"]  # protein-coding first
    assert genes.lookup("bbb2") == (NomenclatureMatch("BBB", "5", ALIAS),)
    assert genes.lookup("a1") == (NomenclatureMatch("AAA", "1", ALIAS),)


def test_a_table_without_aliases_finds_its_shorthand(tmp_path):
    """No gene with an alias: the shorthand still names its gene (an empty alias column
    once read as one empty name, which shifted every shorthand onto the wrong gene)."""
    table = write_table(
        tmp_path / "t.tsv.gz",
        [*HEADER, "1\tAAA\tpseudo\tone\t\t", "5\tBBB\tprotein-coding\tfive\t\tB2|B3"],
    )
    genes = GeneNomenclature.from_file(table)
    assert genes.lookup("b2") == (NomenclatureMatch("BBB", "5", ALIAS),)
    assert genes.lookup("b3") == (NomenclatureMatch("BBB", "5", ALIAS),)
    assert genes.lookup("aaa") == (NomenclatureMatch("AAA", "1", "symbol"),)
    assert genes.lookup("") == ()


def test_the_shipped_table_is_held_in_a_few_blocks():
    """The table is kept as a few large blocks, not an object per name: a server loads it
    before forking its workers, and every page of small objects that a worker writes to
    (a reference count, a freed neighbour's slot reused) is copied into that worker.
    As tuples of strings it held 28 MB in 367,000 blocks, with as much again left free
    between them."""
    gc.collect()
    tracemalloc.start()
    try:
        genes = GeneNomenclature.from_file(TABLE)
        gc.collect()
        kept = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, nomenclature_module.__file__)]
        )
    finally:
        tracemalloc.stop()
    blocks = sum(stat.count for stat in kept.statistics("filename"))
    assert len(genes) > 50_000 and blocks < 100
    assert genes.lookup("HER2")[0].symbol == "ERBB2"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["# only a comment"], r"t\.tsv\.gz:2: expected the columns entrez, symbol"),
        (["entrez\tsymbol"], r":1: expected the columns"),
        (HEADER, r"no genes"),
        ([*HEADER, "1\tA\tpseudo\tname\t"], r":3: expected 6 tab-separated cells"),
        ([*HEADER, "1\tA\tt\tn\t\t", "x1\tB\tt\tn\t\t"], r":4: expected an Entrez ID"),
        ([*HEADER, "1\t\tt\tn\t\t"], r":3: expected an Entrez ID \(digits\), a symbol and"),
        ([*HEADER, "1\tA\tt\tn\t\t", "2\tB\tt\tn\t\t\t", "3\tC\tt\tn\t\t"], r":4: expected 6"),
        ([*HEADER, "1\tA\tpseudo gene\tn\t\t"], r":3: expected an Entrez ID"),
        ([*HEADER, "2\tA\tt\tn\t\t", "1\tB\tt\tn\t\t"], r"not sorted by Entrez ID"),
        ([*HEADER, "1\tA\tt\tn\t\t", "1\tB\tt\tn\t\t"], r"not sorted by Entrez ID, once each"),
    ],
)
def test_a_bad_table_is_refused_with_its_file_and_line(tmp_path, lines, message):
    with pytest.raises(NomenclatureError, match=message):
        GeneNomenclature.from_file(write_table(tmp_path / "t.tsv.gz", lines))


def test_a_file_that_is_not_gzip_is_refused(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_text("\t".join(COLUMNS))
    with pytest.raises(NomenclatureError, match=r"t\.tsv\.gz: cannot read the gene table"):
        GeneNomenclature.from_file(path)


# -- deriving the table ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "names"),
    [
        ("BCL-XL/S", ["BCL-XL", "BCL-XS"]),
        ("KIR3DL1/S1", ["KIR3DL1", "KIR3DS1"]),
        ("CABYRc/d", ["CABYRc", "CABYRd"]),
        ("Oct3/4", ["Oct3", "Oct4"]),
        ("NT-4/5", ["NT-4", "NT-5"]),
        ("DG2/DG3", ["DG2", "DG3"]),
        ("HOM-TES-84/86", ["HOM-TES-84", "HOM-TES-86"]),
        ("HER2", []),  # no slash
        ("HER-2/neu", []),  # two names, not shorthand
        ("TEL/ABL", []),  # a fusion
        ("H2A/q", []),  # one histone's name
        ("H2B/S", []),
        ("NF-I/A", []),
        ("YF5/A2", []),
        ("NT/N", []),
        ("U4/5", []),  # a one-letter prefix
        ("CRF2/12", []),  # not the same number of digits
        ("C/EBP-alpha", []),
    ],
)
def test_shorthand_aliases_are_read_as_their_names(alias, names):
    assert derive_ncbi_genes.shorthand_names(alias) == names


def make_org_db(path: Path) -> Path:
    """A SQLite file of org.Hs.eg.db's schema, with a few genes."""
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE metadata (name VARCHAR(80) PRIMARY KEY, value VARCHAR(255));
        CREATE TABLE genes (_id INTEGER PRIMARY KEY, gene_id VARCHAR(10) NOT NULL UNIQUE);
        CREATE TABLE gene_info (_id INTEGER NOT NULL UNIQUE, gene_name VARCHAR(255) NOT NULL,
                                symbol VARCHAR(80) NOT NULL);
        CREATE TABLE alias (_id INTEGER NOT NULL, alias_symbol VARCHAR(80) NOT NULL);
        CREATE TABLE genetype (_id INTEGER NOT NULL, gene_type VARCHAR(20) NOT NULL);
        INSERT INTO metadata VALUES ('TAXID', '9606'), ('EGSOURCEDATE', '2022-Sep12'),
            ('EGSOURCENAME', 'Entrez Gene'), ('EGSOURCEURL', 'ftp://ftp.ncbi.nlm.nih.gov/gene/DATA');
        INSERT INTO genes VALUES (1, '598'), (2, '10'), (3, '1026'), (4, '9338');
        INSERT INTO gene_info VALUES (1, 'BCL2 like 1', 'BCL2L1'), (2, 'N-acetyltransferase 2', 'NAT2'),
            (3, 'cyclin dependent kinase inhibitor 1A', 'CDKN1A'), (4, 'TCEA like 1', 'TCEAL1');
        INSERT INTO alias VALUES (1, 'BCL2L1'), (1, 'BCL-XL/S'), (1, 'Bcl-X'), (2, 'NAT2'),
            (2, 'PNAT'), (2, 'AAC2'), (3, 'CDKN1A'), (3, 'P21'), (3, 'CIP1'), (4, 'TCEAL1'),
            (4, 'p21');
        INSERT INTO genetype VALUES (1, 'protein-coding'), (2, 'protein-coding'),
            (3, 'protein-coding'), (4, 'protein-coding');
        """
    )
    connection.commit()
    connection.close()
    return path


def test_the_derived_table_is_sorted_deterministic_and_loads(tmp_path):
    database = make_org_db(tmp_path / "org.Hs.eg.sqlite")
    first, second = tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"
    assert derive_ncbi_genes.main([str(database), "--output", str(first)]) == 0
    derive_ncbi_genes.main([str(database), "--output", str(second)])
    assert first.read_bytes() == second.read_bytes()
    lines = gzip.decompress(first.read_bytes()).decode("utf-8").splitlines()
    assert "# version: 2022-Sep12 (EGSOURCEDATE)" in lines
    assert any(line.startswith("# licence: public domain") for line in lines)
    assert lines[-4:] == [
        "10\tNAT2\tprotein-coding\tN-acetyltransferase 2\tAAC2|PNAT\t",
        "598\tBCL2L1\tprotein-coding\tBCL2 like 1\tBCL-XL/S|Bcl-X\tBCL-XL|BCL-XS",
        "1026\tCDKN1A\tprotein-coding\tcyclin dependent kinase inhibitor 1A\tCIP1|P21\t",
        "9338\tTCEAL1\tprotein-coding\tTCEA like 1\tp21\t",
    ]
    genes = GeneNomenclature.from_file(first)
    assert symbols(genes.lookup("p21")) == ["CDKN1A", "TCEAL1"]
    assert genes.lookup("Bcl-xL") == (NomenclatureMatch("BCL2L1", "598", ALIAS),)


def test_deriving_refuses_a_missing_or_non_human_database(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        derive_ncbi_genes.main([str(tmp_path / "absent.sqlite")])
    database = make_org_db(tmp_path / "org.Mm.eg.sqlite")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE metadata SET value = '10090' WHERE name = 'TAXID'")
    with pytest.raises(SystemExit, match="not human"):
        derive_ncbi_genes.main([str(database), "--output", str(tmp_path / "out.tsv.gz")])
