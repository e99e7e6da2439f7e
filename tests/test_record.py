"""Normalising real records of both generations, and rejecting malformed ones precisely."""

from __future__ import annotations

import pytest

from indexer.errors import RecordError
from indexer.record import Figure, normalize, printed_pieces
from indexer.sources import read_records
from tests.conftest import FIXTURES, NEWER_RECORD, OLDER_RECORD, sample_path


def load(figid: str) -> Figure:
    (raw,) = read_records(sample_path(figid))
    return normalize(raw.data, raw.location)


def test_older_generation_record():
    figure = load(OLDER_RECORD)
    assert figure.figid == OLDER_RECORD
    assert figure.year == 2001
    assert figure.organisms == ["Homo sapiens"]
    assert figure.organisms_source == "organisms"
    assert (
        figure.figtitle == "Summary of the signaling pathway that connects neuropeptides to the AR"
    )
    assert figure.figlink == "/pmc/articles/PMC100003/figure/F11/"
    genes = {gene.symbol: gene for gene in figure.genes}
    assert list(genes) == ["GNAQ", "BMX", "PTK2", "AR", "SRC"]
    assert genes["SRC"].entrez == "6714"
    assert genes["SRC"].printed == ["(Src"]
    assert genes["SRC"].aliases == ["Src"]  # "SRC" folds into the printed "Src"
    assert genes["PTK2"].aliases == ["FAK"]
    assert genes["AR"].aliases == ["AR"]
    # "Ga12,Gaq" prints two names: neither is claimed as an alias of GNAQ alone.
    assert genes["GNAQ"].aliases == ["G-ALPHA-q"]
    assert genes["GNAQ"].printed == ["Ga12,Gaq"]
    assert [(c.name, c.mesh_id) for c in figure.chemicals] == [("bombesin", "D001839")]
    assert figure.diseases == []
    assert figure.image_url == "https://europepmc.org/articles/PMC100003/bin/mb2410470011.jpg"


def test_newer_generation_record():
    figure = load(NEWER_RECORD)
    assert figure.organisms == ["Eschscholzia californica", "Homo sapiens"]
    assert figure.organisms_source == "organisms"
    assert figure.doi == "10.3389/fpls.2023.1084358"
    assert figure.journal == "Frontiers in Plant Science"
    assert figure.keywords[:2] == ["flower development", "benzylisoquinoline alkaloid"]
    assert "VIGS (virus-induced gene silencing)" in figure.keywords
    assert figure.genes == []  # only keywords; the lexicon resolves them at build time
    assert figure.gene_keywords[:3] == ["RNMT", "STS", "MSX2"]
    assert figure.pathway_score == pytest.approx(0.9107804)


def test_placeholder_organisms_fall_back_to_ner_and_say_so():
    figure = load("PMC10003241__ijms-24-04893-g003")
    assert figure.organisms == ["Homo sapiens"]
    assert figure.organisms_source == "organisms_ner"


def test_comma_separated_organisms_string():
    figure = load("PMC1487177__pgen.0020099.g007")
    assert figure.organisms == ["Homo sapiens", "Caenorhabditis elegans"]


def test_na_character_means_missing():
    assert load("PMC6978502__plantbiotechnology-36-4-19.1025a-figure01").caption is None
    assert load("PMC7426153__mSystems.00473-20-f0005").figlink is None


def test_block_scalar_keywords_are_split():
    figure = load("PMC10029719__cs3c00075_0011")
    assert "reaction mechanism" in figure.keywords
    assert "DFT calculations" in figure.keywords


def test_duplicate_genes_are_merged_keeping_every_printed_alias():
    raw = {
        "figid": "X1",
        "genes": [
            {
                "word": "p53",
                "symbol": "p53",
                "source": "a",
                "hgnc_symbol": "TP53",
                "entrez": "7157",
            },
            {
                "word": "TP53",
                "symbol": "TP53",
                "source": "b",
                "hgnc_symbol": "TP53",
                "entrez": "7157",
            },
            {
                "word": "p53",
                "symbol": "p53",
                "source": "a",
                "hgnc_symbol": "TP53",
                "entrez": "7157",
            },
        ],
    }
    (gene,) = normalize(raw, "x.md").genes
    assert gene.symbol == "TP53"
    assert gene.aliases == ["p53", "TP53"]


def test_json_ld_keywords_may_be_a_single_string():
    figure = normalize({"figid": "X1", "schema-jsonld": {"keywords": "STAT3"}}, "x.md")
    assert figure.gene_keywords == ["STAT3"]


def test_printed_pieces():
    assert printed_pieces("(Src") == ["Src"]
    assert printed_pieces("p53,c-Myc,") == ["p53", "c-Myc"]
    assert printed_pieces("AR*") == ["AR"]
    assert printed_pieces("PD-L1") == ["PD-L1"]


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        ({"caption": "no id"}, "figid", "missing figid"),
        ({"figid": ".na.character"}, "figid", "missing figid"),
        ({"figid": "a b"}, "figid", "invalid figid 'a b'"),
        (
            {"figid": "X", "year": "twenty"},
            "year",
            "expected a four-digit year such as 2015, got 'twenty'",
        ),
        ({"figid": "X", "genes": "TP53"}, "genes", "expected a list of genes, got str 'TP53'"),
        ({"figid": "X", "genes": [{"word": "p53"}]}, "genes[0].hgnc_symbol", "missing hgnc_symbol"),
        (
            {"figid": "X", "genes": [{"hgnc_symbol": "TP53", "entrez": "TP53"}]},
            "genes[0].entrez",
            "expected a numeric Entrez Gene ID, got 'TP53'",
        ),
        ({"figid": "X", "caption": {"a": 1}}, "caption", "expected text, got a mapping"),
        ({"figid": "X", "diseases": [["Cancer"]]}, "diseases[0]", "expected a mapping with word"),
        # Non-finite numbers would be written as NaN, which is not JSON.
        (
            {"figid": "X", "pathway_score": float("nan")},
            "pathway_score",
            "expected a finite number, got nan",
        ),
        (
            {"figid": "X", "automl_pathway": float("-inf")},
            "automl_pathway",
            "expected a finite number, got -inf",
        ),
        ({"figid": "X", "pathway_score": True}, "pathway_score", "expected a number, got True"),
        ({"figid": "X", "caption": float("inf")}, "caption", "expected text, got float inf"),
        # A number where a list of names is expected is a mistake, not a name.
        ({"figid": "X", "organisms": 42}, "organisms", "expected text, got int 42"),
        ({"figid": "X", "keywords": ["a", 1.5]}, "keywords[1]", "expected text, got float 1.5"),
        (
            {"figid": "X", "annotations": [{"name": 7}]},
            "annotations[0]",
            "expected text, got int 7",
        ),
        (
            {"figid": "X", "schema-jsonld": {"keywords": ["TP53", 7157]}},
            "schema-jsonld.keywords[1]",
            "expected text, got int 7157",
        ),
        (
            {"figid": "X", "figid_alias": "PMC1 F1"},
            "figid_alias",
            "invalid figid_alias 'PMC1 F1': use letters, digits",
        ),
        ({"figid": "X", "figid_alias": ["PMC1__F1"]}, "figid_alias", "expected text, got a list"),
        (
            {"figid": "X", "ndex": "not-a-network"},
            "ndex",
            "expected the UUID of an NDEx network, such as fa9b81a0-df34-11ea-99da-0ac135e8bacf,"
            " got 'not-a-network'",
        ),
    ],
)
def test_malformed_fields_are_rejected_with_field_and_problem(raw, field, problem):
    with pytest.raises(RecordError) as caught:
        normalize(raw, "some/file.md")
    assert caught.value.location == "some/file.md"
    assert caught.value.field == field
    assert caught.value.problem.startswith(problem)


def test_figure_alias_and_ndex_network_of_real_records():
    older = load(OLDER_RECORD)  # alias, no network
    assert (older.figid_alias, older.ndex, older.ndex_url) == ("PMC100003__F11", None, None)
    newer = load("PMC1052008__JCI0524178.f1")  # alias and network
    assert newer.figid_alias == "PMC1052008__F1"
    assert newer.ndex == "fa9b81a0-df34-11ea-99da-0ac135e8bacf"
    assert newer.ndex_url == (
        "https://www.ndexbio.org/viewer/networks/fa9b81a0-df34-11ea-99da-0ac135e8bacf"
    )
    # Six older records end before figid_alias: neither name is made up.
    unnamed = load("PMC4043178__carcinbgr227f01_lw")
    assert (unnamed.figid_alias, unnamed.ndex) == (None, None)


@pytest.mark.parametrize(
    ("raw", "alias", "ndex"),
    [
        ({"figid": "X", "figid_alias": "X", "ndex": ""}, None, None),  # itself: no other name
        ({"figid": "X", "figid_alias": ".na.character", "ndex": "NA"}, None, None),
        (
            {
                "figid": "X",
                "figid_alias": "PMC1__F2",
                "ndex": "FA9B81A0-DF34-11EA-99DA-0AC135E8BACF",
            },
            "PMC1__F2",
            "fa9b81a0-df34-11ea-99da-0ac135e8bacf",  # NDEx prints its UUIDs lower-cased
        ),
    ],
)
def test_figure_alias_and_ndex_values(raw, alias, ndex):
    figure = normalize(raw, "f.md")
    assert (figure.figid_alias, figure.ndex) == (alias, ndex)


@pytest.mark.parametrize("raw", [None, "just text", ["a", "list"], 42])
def test_not_a_record(raw):
    with pytest.raises(RecordError, match="not a record"):
        normalize(raw, "f.md")


def test_round_trip_through_dict():
    figure = load(OLDER_RECORD)
    assert Figure.from_dict(figure.as_dict()) == figure


MIXED_CASE_KEYWORDS = FIXTURES / "mixed-case-keywords"


def load_fixture(path) -> Figure:
    (raw,) = read_records(path)
    return normalize(raw.data, raw.location)


@pytest.mark.parametrize(
    ("name", "spellings"),
    [
        ("PMC4773033__cddiscovery201529-f2", ["Akt1", "AKT1", "Shh", "SHH", "Tnf", "TNF"]),
        ("PMC11967956__pone.0303736.g007", ["tp53", "TP53", "mtor", "MTOR", "mmp2", "MMP2"]),
    ],
)
def test_gene_keywords_keep_every_spelling(name, spellings):
    """A mouse symbol listed before the HGNC one must not hide it: the lexicon matches
    symbols exactly, so only exact repeats may be dropped."""
    keywords = load_fixture(MIXED_CASE_KEYWORDS / f"{name}.md").gene_keywords
    assert all(spelling in keywords for spelling in spellings)
    assert len(keywords) == len(set(keywords))


def gene_entry(number: int) -> dict:
    return {"word": f"G{number}", "symbol": f"G{number}", "hgnc_symbol": f"G{number}"}


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (
            {"figid": "X", "caption": "word " * 10_000_000},
            "caption",
            "too long: 50,000,000 characters, more than the 20,000 allowed",
        ),
        (
            {"figid": "X", "figtitle": "t" * 2_001},
            "figtitle",
            "too long: 2,001 characters, more than the 2,000 allowed",
        ),
        (
            {"figid": "X", "papertitle": "t" * 2_001},
            "papertitle",
            "too long: 2,001 characters",
        ),
        ({"figid": "X", "reftext": "r" * 2_001}, "reftext", "too long: 2,001 characters"),
        ({"figid": "X", "doi": "1" * 501}, "doi", "too long: 501 characters"),
        ({"figid": "X" * 201}, "figid", "too long: 201 characters"),
        (
            {"figid": "X", "genes": [gene_entry(n) for n in range(100_000)]},
            "genes",
            "too many: 100,000 items, more than the 2,000 allowed",
        ),
        (
            {"figid": "X", "genes": [{"hgnc_symbol": "TP53", "word": "p" * 501}]},
            "genes[0].word",
            "too long: 501 characters",
        ),
        (
            {"figid": "X", "schema-jsonld": {"keywords": ["K"] * 2_001}},
            "schema-jsonld.keywords",
            "too many: 2,001 items",
        ),
        (
            {"figid": "X", "chemicals": [{"word": "c"}] * 1_001},
            "chemicals",
            "too many: 1,001 items",
        ),
        ({"figid": "X", "diseases": [{"word": "d"}] * 1_001}, "diseases", "too many: 1,001 items"),
        ({"figid": "X", "annotations": ["a"] * 1_001}, "annotations", "too many: 1,001 items"),
        ({"figid": "X", "keywords": ["k"] * 501}, "keywords", "too many: 501 items"),
        ({"figid": "X", "keywords": ["k" * 501]}, "keywords[0]", "too long: 501 characters"),
        ({"figid": "X", "organisms": ["Homo sapiens"] * 201}, "organisms", "too many: 201"),
    ],
)
def test_oversized_fields_are_rejected_naming_the_field(raw, field, problem):
    with pytest.raises(RecordError) as caught:
        normalize(raw, "big.md")
    assert (caught.value.field, caught.value.problem[: len(problem)]) == (field, problem)


def test_the_limits_leave_room_above_the_largest_real_record():
    """Every limit is at least three times the largest value among the real records."""
    from indexer.record import MAX_CHARS, MAX_ITEMS, MAX_SHORT_CHARS
    from tests.conftest import SAMPLE_RECORDS

    for path in sorted(SAMPLE_RECORDS.glob("*.md")):
        figure = load_fixture(path)
        for name, limit in MAX_CHARS.items():
            value = getattr(figure, {"figid": "figid"}.get(name, name))
            assert len(value or "") * 3 <= limit, (path.name, name)
        assert len(figure.genes) * 3 <= MAX_ITEMS["genes"]
        assert len(figure.gene_keywords) * 3 <= MAX_ITEMS["schema-jsonld.keywords"]
        for name in ("chemicals", "diseases", "annotations", "keywords", "organisms"):
            assert len(getattr(figure, name)) * 3 <= MAX_ITEMS[name], (path.name, name)
        for text in (figure.doi, figure.journal, *figure.keywords, *figure.organisms):
            assert len(text or "") * 3 <= MAX_SHORT_CHARS
