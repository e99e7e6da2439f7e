"""The query parser: syntax understood, and leniency with pasted text."""

from __future__ import annotations

import pytest

from server.search.models import InvalidParameter
from server.search.query import (
    And,
    Field,
    Not,
    Or,
    Phrase,
    Prefix,
    Word,
    YearRange,
    parse,
    words_of,
)


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
        ("foo:bar year:abc", "foo:bar AND year:abc"),  # unknown field, bad year: words
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
