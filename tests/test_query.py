"""The query parser: syntax understood, and leniency with pasted text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.search.models import InvalidParameter, SearchRequest
from server.search.query import (
    MAX_DEPTH,
    And,
    Field,
    Not,
    Or,
    Phrase,
    Prefix,
    Word,
    YearRange,
    parse,
    parse_query,
    words_of,
)
from server.search.service import SearchService


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        ("stat3 pathway", "stat3 AND pathway"),
        ("stat3 AND pathway", "stat3 AND pathway"),
        ("a OR b c", "a OR (b AND c)"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("x NOT (y OR z)", "x AND NOT (y OR z)"),
        ("NOT x", "NOT x"),
        ('"signaling pathway"', '"signaling pathway"'),
        ("STAT*", "STAT*"),
        ("gene:STAT3", "gene:STAT3"),
        ("gene:STAT*", "gene:STAT*"),
        ("entrez:6774", "entrez:6774"),
        ('organism:"Mus musculus"', 'organism:"Mus musculus"'),
        ("disease:cancer chemical:glucose", "disease:cancer AND chemical:glucose"),
        ("year:2015..2020", "year:2015..2020"),
        ("year:2015", "year:2015"),
        ("year:2015..", "year:2015.."),
        ("year:..2010", "year:..2010"),
        ("GENE:stat3", "gene:stat3"),
        ("", ""),
        ("   ", ""),
        ("+stat3 pathway", "+stat3 AND pathway"),
        ("stat3 AND pathway liver", "+stat3 AND +pathway AND liver"),
        ("(a b) AND c d", "+a AND +b AND +c AND d"),
        ("+a OR b", "a OR b"),
    ],
)
def test_syntax(text: str, understood: str) -> None:
    tree = parse(text)
    assert ("" if tree is None else str(tree)) == understood


def test_tree_shapes() -> None:
    assert parse('gene:STAT3 organism:"Mus musculus" year:2015..2020') == And(
        (
            Field("gene", "STAT3", 0),
            Field("organism", "Mus musculus", 11),
            YearRange(2015, 2020, 35),
        )
    )
    assert parse("a OR NOT b") == Or((Word("a", 0), Not(Word("b", 9))))
    assert parse("STAT*") == Prefix("STAT", 0)
    assert parse('"a b"') == Phrase("a b", 0)


def test_required_words() -> None:
    """+word and an explicit AND make words required; plain words are not."""
    assert parse("+insulin liver") == And((Word("insulin", 1, required=True), Word("liver", 9)))
    assert parse("insulin AND liver") == And(
        (Word("insulin", 0, required=True), Word("liver", 12, required=True))
    )
    assert parse("a && b c") == And(
        (Word("a", 0, required=True), Word("b", 5, required=True), Word("c", 7))
    )
    assert parse("NOT +a") == Not(Word("a", 5, required=True))
    assert parse('+"a b" c') == And((Phrase("a b", 1), Word("c", 7)))  # phrases are strict
    assert parse("a + b") == And((Word("a", 0), Word("+", 2), Word("b", 4)))  # a lone plus


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        # pasted titles: colons, parentheses, quotes, hyphens, slashes, Greek letters
        (
            "Metabolic Features of Osteoblasts: Implications for Multiple Myeloma (MM)",
            "Metabolic AND Features AND of AND Osteoblasts: AND Implications AND for AND "
            "Multiple AND Myeloma AND MM",
        ),
        (
            "Effect of Bifidobacterium: TNF-α/NF-κB",
            "Effect AND of AND Bifidobacterium: AND TNF-α/NF-κB",
        ),
        ('unclosed "quote here', 'unclosed AND "quote here"'),
        ("((unbalanced", "unbalanced"),
        ("closed) too) many", "closed AND too AND many"),
        ("a OR OR b AND", "a OR b"),
        ("trailing NOT", "trailing"),
        ("NOT", ""),
        ("foo:bar year:abc", "foo:bar"),  # unknown field: words; a bad year: left out
        ("gene: STAT3", "gene: AND STAT3"),
        ("*", "*"),
        ("and or not", "and AND or AND not"),  # operators are upper case only
    ],
)
def test_lenient(text: str, understood: str) -> None:
    tree = parse(text)
    assert ("" if tree is None else str(tree)) == understood


def test_reversed_year_range_names_its_position() -> None:
    with pytest.raises(InvalidParameter) as error:
        parse("stat3 year:2020..2015")
    assert error.value.parameter == "q"
    assert error.value.position == 6
    assert "year:2015..2020" in error.value.message


def test_words_of_skips_negated_and_years() -> None:
    tree = parse("a NOT b year:2015 gene:X c*")
    assert [str(w) for w in words_of(tree)] == ["a", "gene:X", "c*"]


# -- syntax from other engines ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "understood"),
    [
        ("-diabetes", "NOT diabetes"),
        ("insulin -diabetes", "insulin AND NOT diabetes"),
        ('insulin -"type 2"', 'insulin AND NOT "type 2"'),
        ("-(a OR b) c", "NOT (a OR b) AND c"),
        ("-gene:TP53 apoptosis", "NOT gene:TP53 AND apoptosis"),
        ("+insulin +receptor", "insulin AND receptor"),
        ("TNF-α NF-κB", "TNF-α AND NF-κB"),  # hyphens inside words are not operators
        ("a || b", "a OR b"),
        ("a||b", "a OR b"),
        ("a && b || c", "(a AND b) OR c"),
        ("year:2015-2020", "year:2015..2020"),
        ("year:[2015 TO 2020]", "year:2015..2020"),
        ("year:[2015 TO *] p53", "year:2015.. AND p53"),
        ("year:[* TO 2010]", "year:..2010"),
        ("year:{2015 TO 2020}", "year:2016..2019"),
        ("year:>2015", "year:2016.."),
        ("year:>=2015", "year:2015.."),
        ("year:<2010", "year:..2009"),
        ("year:<=2010", "year:..2010"),
        ("year:2015-", "year:2015.."),
        ("NF-k*", "NF-k*"),
    ],
)
def test_syntax_from_other_engines(text: str, understood: str) -> None:
    tree = parse(text)
    assert ("" if tree is None else str(tree)) == understood


@pytest.mark.parametrize(
    ("text", "understood", "note"),
    [
        ("year:abcd", "", "year:abcd at character 1 is not a year or a year range"),
        ("stat3 year:20x5", "stat3", "year:20x5 at character 7 is not a year"),
        ("year:[2015 TO 2020", "year:2015..2020", "the [ of year:[2015 TO 2020 at character 1"),
        ("((unbalanced", "unbalanced", "2 ( at characters 1, 2 were never closed"),
        ("closed) too) many", "closed AND too AND many", ") at characters 7, 12 had no ("),
        ('unclosed "quote here', 'unclosed AND "quote here"', 'the " at character 10 has no'),
        ("a OR OR b", "a OR b", "OR at character 6 has nothing before it"),
        ("a AND", "a", "AND at character 3 has nothing after it"),
        ("trailing NOT", "trailing", "NOT at character 10 has nothing after it"),
        ("x ()", "x", "empty parentheses at character 3"),
        ('x ""', "x", "empty quotes at character 3"),
        ("foo:bar", "foo:bar", "foo: is not a field"),
        ("gene: STAT3", "gene: AND STAT3", "gene: at character 1 has no value"),
        (
            "gene:(TP53 OR MDM2)",
            "gene: AND (TP53 OR MDM2)",
            "gene:( ... ) at character 1 is not supported",
        ),
        ("ST*T3", "ST*T3", "* inside a word"),
        ("roam~ boost^2", "roam AND boost", "~ and ^ are not supported"),
        ("entrez:TP53", "entrez:TP53", "entrez:TP53 at character 1 is not an Entrez Gene ID"),
    ],
)
def test_what_is_dropped_or_reinterpreted_is_noted(text: str, understood: str, note: str) -> None:
    parsed = parse_query(text)
    assert ("" if parsed.tree is None else str(parsed.tree)) == understood
    assert any(note in n for n in parsed.notes), parsed.notes


@pytest.mark.parametrize("text", ["stat3 pathway", "a OR (b c)", 'gene:STAT3 "a b"', "x*"])
def test_well_formed_queries_have_no_notes(text: str) -> None:
    assert parse_query(text).notes == ()


@pytest.mark.parametrize(
    "text",
    [
        "(" * 330 + "x" + ")" * 330,
        "(" * 330 + "x",
        "NOT " * 250 + "x",
        "-(" * 200 + "x",
        "a AND (" * 140 + "b",
    ],
)
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse(text)
    assert error.value.parameter == "q"
    assert f"more than {MAX_DEPTH} deep" in error.value.message
    assert error.value.position is not None and 0 <= error.value.position < len(text)


def test_nesting_up_to_the_limit_parses_and_prints() -> None:
    text = "(" * MAX_DEPTH + "x OR y" + ")" * MAX_DEPTH
    assert str(parse(text)) == "x OR y"
    negated = parse("NOT " * MAX_DEPTH + "x")
    assert str(negated).count("NOT") == MAX_DEPTH


def test_a_hyphen_in_pasted_text_is_not_an_exclusion() -> None:
    title = "fold change of log2 -transformed expression of cell cycle transcripts"
    parsed = parse_query(title)
    assert "NOT" not in str(parsed.tree)
    assert parsed.notes == (
        "- at character 21 was read as a hyphen, not as an exclusion, in this text of 10 "
        "words; write NOT before a word to exclude it",
    )
    assert "NOT transformed" in str(parse(title.replace("-", "NOT ")))


# -- the syntax over the real sample records ----------------------------------------------


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def ids(service: SearchService, q: str, **kwargs) -> set[str]:
    return {h["figid"] for h in service.iter_hits(SearchRequest(q=q, **kwargs), 10_000)}


def query_of(service: SearchService, q: str) -> dict:
    return service.search(SearchRequest(q=q))["query"]


def test_exclusions_exclude(service: SearchService) -> None:
    everything, cancer = ids(service, ""), ids(service, "cancer")
    signaling = ids(service, "signaling")
    assert 0 < len(cancer) < len(everything) and signaling & cancer
    assert ids(service, "signaling -cancer") == signaling - cancer
    assert ids(service, "signaling NOT cancer") == signaling - cancer
    assert ids(service, "-cancer") == ids(service, "NOT cancer") == everything - cancer


def test_other_engines_operators_mean_or_and_and(service: SearchService) -> None:
    assert ids(service, "insulin || apoptosis") == ids(service, "insulin OR apoptosis")
    assert ids(service, "insulin && receptor") == ids(service, "insulin AND receptor")
    assert ids(service, "insulin && receptor") == ids(service, "insulin receptor", match="all")
    assert ids(service, "insulin || apoptosis") > ids(service, "insulin")


@pytest.mark.parametrize(
    "text", ["year:2015-2019", "year:[2015 TO 2019]", "year:{2014 TO 2020}", "year:2015..2019"]
)
def test_year_ranges_from_other_engines(service: SearchService, text: str) -> None:
    expected = ids(service, "", year_min=2015, year_max=2019)
    assert 0 < len(expected) < 214
    assert ids(service, text) == expected
    assert query_of(service, text)["understood"] == "year:2015..2019"


def test_malformed_year_is_a_note_not_a_silent_zero_or_a_yeast(service: SearchService) -> None:
    result = service.search(SearchRequest(q="apoptosis year:abcd"))
    assert result["total"] == len(ids(service, "apoptosis")) > 0
    assert result["query"]["understood"] == "apoptosis"
    assert result["query"]["notes"] == [
        "year:abcd at character 11 is not a year or a year range (write year:2015, "
        "year:2015..2020 or year:[2015 TO 2020]); it was left out"
    ]
    alone = service.search(SearchRequest(q="year:abcd"))
    assert alone["did_you_mean"] == [] and alone["total"] == 214


def test_repairs_are_reported_in_the_answer(service: SearchService) -> None:
    notes = query_of(service, '(insulin OR "glucose uptake')["notes"]
    assert notes == [
        'the " at character 13 has no closing quote: the phrase runs to the end',
        "1 ( at character 1 was never closed: closed at the end",
    ]
