"""Search that never comes back empty: figures holding every word first, then those
holding most of them, over real sample records in every index shape."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup

from server.search.models import SearchRequest
from server.search.service import RELAXED_BELOW, SearchService
from server.web import create_app

COMPLEMENT = "PMC10036296__gr1_lrg"  # the one figure printing "complement cascade"
CROSSTALK = "PMC10036181__jbm-2023-30-1-1f4"  # prints "Crosstalk"
CROSS_TALK = "PMC3254682__jexboterr306f04_3c"  # prints "cross-talk"


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


def search(service: SearchService, q: str, **kwargs) -> dict:
    return service.search(SearchRequest(q=q, per_page=100, **kwargs))


def shown(service: SearchService, q: str, **kwargs) -> list[dict]:
    return list(service.iter_hits(SearchRequest(q=q, **kwargs), 10_000))


def test_a_word_no_figure_has_with_the_others_is_dropped(service: SearchService) -> None:
    assert search(service, "classical complement cascade", match="all")["total"] == 0
    result = search(service, "classical complement cascade")
    relaxed = result["query"]["relaxed"]
    assert relaxed["words"] == ["classical", "complement", "cascade"]
    assert relaxed["together"] == 0 and relaxed["at_least"] >= 1
    first = result["hits"][0]
    assert first["figid"] == COMPLEMENT and first["missing"] == ["classical"]
    assert {d["word"] for d in relaxed["dropped"]} == {"classical", "complement", "cascade"}


def test_figures_holding_more_words_come_first(service: SearchService) -> None:
    for sort in ("relevance", "year", "-year"):
        hits = search(service, "insulin signaling liver mitochondria", sort=sort)["hits"]
        missing = [len(h["missing"]) for h in hits]
        assert missing == sorted(missing), sort
        assert missing[0] < missing[-1]


def test_enough_figures_holding_every_word_means_no_relaxing(service: SearchService) -> None:
    strict = search(service, "signaling pathway", match="all")
    assert strict["total"] >= RELAXED_BELOW
    result = search(service, "signaling pathway")
    assert result["query"]["relaxed"] is None
    assert [h["figid"] for h in result["hits"]] == [h["figid"] for h in strict["hits"]]
    assert all(h["missing"] == [] for h in result["hits"])


def test_relaxing_is_decided_under_the_filters(service: SearchService) -> None:
    mouse = {"organism": ["Mus musculus"]}
    strict = search(service, "signaling pathway", match="all", filters=mouse)["total"]
    assert 0 < strict < RELAXED_BELOW
    result = search(service, "signaling pathway", filters=mouse)
    assert result["query"]["relaxed"]["together"] == strict
    assert result["total"] > strict
    assert all("Mus musculus" in [o["name"] for o in h["organisms"]] for h in result["hits"])


def test_total_and_facets_count_the_figures_shown(service: SearchService) -> None:
    q = "classical complement cascade"
    result = service.search(SearchRequest(q=q, facets=["organism"], facet_size=1000))
    hits = shown(service, q)
    assert result["total"] == len(hits) > 1
    counted = Counter(o["name"].casefold() for h in hits for o in h["organisms"])
    facet = {v["value"].casefold(): v["count"] for v in result["facets"]["organism"]["values"]}
    assert facet == dict(counted)


def test_never_empty_while_a_word_matches(service: SearchService) -> None:
    result = search(service, "complement xyzzyqq")
    assert result["total"] > 0 and result["did_you_mean"] == []
    assert all(h["missing"] == ["xyzzyqq"] for h in result["hits"])
    assert result["query"]["relaxed"]["dropped"][0] == {"word": "xyzzyqq", "figures": 3}


def test_required_words_stay_required(service: SearchService) -> None:
    for q in ("+complement cascade classical", "complement AND cascade classical"):
        hits = shown(service, q)
        assert hits and COMPLEMENT in {h["figid"] for h in hits}, q
        assert all("complement" not in h["missing"] for h in hits), q
    both = {h["figid"] for h in shown(service, "complement AND cascade classical")}
    assert both == {COMPLEMENT}  # cascade is required too


def test_fields_and_phrases_stay_required(service: SearchService) -> None:
    stat3 = {h["figid"] for h in shown(service, "gene:STAT3")}
    relaxed = shown(service, "gene:STAT3 kinase xyzzyqq")
    assert relaxed and {h["figid"] for h in relaxed} <= stat3
    phrase = {h["figid"] for h in shown(service, '"complement cascade"')}
    assert {h["figid"] for h in shown(service, '"complement cascade" insulin')} <= phrase


def test_match_all_is_every_word(service: SearchService) -> None:
    assert shown(service, "complement xyzzyqq", match="all") == []
    result = search(service, "complement cascade", match="all")
    assert result["query"]["match"] == "all" and result["query"]["relaxed"] is None


@pytest.mark.parametrize("q", ["cross talk", "crosstalk", "cross-talk"])
def test_compounds_match_however_written(service: SearchService, q: str) -> None:
    found = {h["figid"] for h in shown(service, q, match="all")}
    assert {CROSSTALK, CROSS_TALK} <= found


def test_relaxed_counts_are_cached_apart_from_strict(service: SearchService) -> None:
    q = "classical complement cascade"
    assert search(service, q)["total"] > 0
    assert search(service, q, match="all")["total"] == 0
    assert search(service, q)["total"] > 0


# -- the page says what happened ---------------------------------------------------------


@pytest.fixture(scope="module")
def client(sample_index: Path):
    return create_app(sample_index, test_config={"TESTING": True}).test_client()


def page(client, url: str) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_page_says_no_figure_holds_every_word(client) -> None:
    html = page(client, "/?q=classical+complement+cascade")
    note = html.select_one(".notes.relaxed")
    assert note.get_text(" ", strip=True).startswith(
        "No figure holds all of “classical”, “complement” and “cascade”"
    )
    link = note.find("a", string="Require every word")
    assert parse_qsl(urlsplit(link["href"]).query) == [
        ("q", "classical complement cascade"),
        ("match", "all"),
    ]
    first = html.select_one(".card")
    assert first.select_one(".card__missing").get_text(" ", strip=True) == "Missing: classical"


def test_page_requiring_every_word_offers_the_rest(client) -> None:
    html = page(client, "/?q=classical+complement+cascade&match=all")
    assert html.select_one(".results-count").get_text(strip=True) == "No figures found"
    link = html.find("a", string="Show figures holding some of the words")
    assert parse_qsl(urlsplit(link["href"]).query) == [("q", "classical complement cascade")]
    assert html.select_one(".notes.relaxed") is None


def test_page_without_relaxing_says_nothing(client) -> None:
    html = page(client, "/?q=signaling+pathway")
    assert html.select_one(".notes.relaxed") is None and html.select_one(".card__missing") is None


def test_a_long_question_costs_no_more_than_its_strict_form(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving words out reads nothing more: the postings a 12-word question reads with
    match=best are no more than with match=all (its question words are not even read)."""
    question = (
        "what is the role of insulin receptor signaling in glucose uptake by skeletal muscle cells"
    )
    read = {}
    for match in ("all", "best"):
        service = SearchService(sample_index)
        snap = service._snapshot()
        counted = {"postings": 0, "calls": 0}
        original = snap.postings

        def counting(field: str, term: str, counted=counted, original=original):
            found = original(field, term)
            counted["calls"] += 1
            counted["postings"] += len(found[0])
            return found

        monkeypatch.setattr(snap, "postings", counting)
        assert service.search(SearchRequest(q=question, match=match))["total"] >= 0
        read[match] = counted
        service.close()
    assert len(question.split()) > 12
    assert read["best"]["postings"] <= read["all"]["postings"], read
    assert read["best"]["calls"] <= read["all"]["calls"], read
