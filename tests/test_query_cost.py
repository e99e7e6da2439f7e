"""Query cost is bounded: past its budget a query is a clear 400 on q, never a slow answer,
and nesting never reaches Python's recursion limit (real sample records, real index)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.index import schema
from server.search import query as q
from server.search.budget import (
    COSTLY_TERMS,
    MAX_PHRASE_FIGURES,
    MAX_PREFIX_TERMS,
    MAX_TERMS,
    Budget,
)
from server.search.matching import Evaluator
from server.search.models import Busy, InvalidParameter, SearchRequest
from server.search.service import SearchService
from server.search.snapshot import Snapshot
from server.search.suggest import MAX_CORRECTED_WORDS
from server.web import create_app

NESTED = "(" * 330 + "STAT3" + ")" * 330
ONE_LETTER_PREFIXES = " ".join(f"{c}*" for c in string.ascii_lowercase)


@pytest.fixture(scope="module")
def service(sample_index: Path) -> Iterator[SearchService]:
    service = SearchService(sample_index)
    yield service
    service.close()


@pytest.fixture(scope="module")
def app(sample_index: Path) -> Flask:
    return create_app(sample_index, {"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def refused(service: SearchService, text: str) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as error:
        service.search(SearchRequest(q=text))
    assert error.value.parameter == "q" and error.value.status == 400
    return error.value


def assert_q_error(response, message_part: str) -> dict:
    assert response.status_code == 400, response.get_data(as_text=True)
    error = json.loads(response.get_data(as_text=True))["error"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", "q")
    assert message_part in error["message"]
    assert isinstance(error["position"], int)
    return error


# -- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/search", None),
        ("post", "/api/search", "q"),
        ("get", "/api/search?format=csv", None),
        ("post", "/api/search?format=gmt", "q"),
        ("get", "/api/genes/STAT3", None),
    ],
)
def test_deep_nesting_is_a_400_everywhere_q_is_read(
    client: FlaskClient, method: str, url: str, body: str | None
) -> None:
    path, _, fmt = url.partition("?format=")
    args = {"format": fmt} if fmt else {}
    if method == "post":
        response = client.post(path, query_string=args, json={body: NESTED})
    else:
        response = client.get(path, query_string={**args, "q": NESTED})
    error = assert_q_error(response, f"more than {q.MAX_DEPTH} deep")
    assert error["position"] == q.MAX_DEPTH


def test_nesting_within_the_limit_is_answered(service: SearchService) -> None:
    text = "(" * q.MAX_DEPTH + "STAT3" + ")" * q.MAX_DEPTH
    assert (
        service.search(SearchRequest(q=text))["total"]
        == service.search(SearchRequest(q="STAT3"))["total"]
        > 0
    )


# -- number of terms ------------------------------------------------------------------------


def test_too_many_terms_is_refused_before_any_work(service: SearchService) -> None:
    words = ["signaling", "pathway", "cancer", "kinase"] * 20
    error = refused(service, " ".join(words[: MAX_TERMS + 1]))
    assert error.message == (
        f"this query has {MAX_TERMS + 1} terms; at most {MAX_TERMS} are searched at once: "
        "remove some, or give genes and organisms as filters"
    )
    assert error.position == len(" ".join(words[:MAX_TERMS])) + 1
    assert service.search(SearchRequest(q=" ".join(words[:MAX_TERMS])))["total"] >= 0


def test_terms_under_not_count_too(service: SearchService) -> None:
    refused(service, "cell " + " ".join(f"-w{i}" for i in range(MAX_TERMS)))


# -- prefixes -------------------------------------------------------------------------------


def test_prefixes_past_the_budget_are_refused_with_what_to_narrow(service: SearchService) -> None:
    error = refused(service, ONE_LETTER_PREFIXES)
    assert error.message == (
        f"this query expands to more than {MAX_PREFIX_TERMS:,} prefix terms (a*, b*, c*, ...); "
        "use longer prefixes"
    )
    assert error.position is not None and error.position > 0  # where it ran out


def test_prefixes_joined_by_or_share_one_budget(service: SearchService) -> None:
    refused(service, " OR ".join(f"{c}*" for c in string.ascii_lowercase))


def test_a_prefix_within_the_budget_is_answered_without_notes(service: SearchService) -> None:
    result = service.search(SearchRequest(q="STAT*"))
    assert result["total"] > 0 and result["query"]["notes"] == []


def test_the_budget_counts_every_expanded_term(service: SearchService) -> None:
    snap = service._snapshot()
    expanded = len(snap.expand_prefix("text", "sig", 1000))
    assert expanded > 2
    Evaluator(snap, Budget(prefix_terms=100)).evaluate(q.parse("sig*"))
    with pytest.raises(InvalidParameter, match=r"more than 2 prefix terms \(sig\*\)"):
        Evaluator(snap, Budget(prefix_terms=2)).evaluate(q.parse("sig*"))
    with pytest.raises(InvalidParameter, match=r"more than 2 prefix terms \(sig\*\)"):
        Budget(prefix_terms=2).check(q.parse("sig*"), snap)  # before any postings are read


def test_a_compound_prefix_is_its_last_word_after_the_others(service: SearchService) -> None:
    def ids(text: str) -> set[str]:
        return {h["figid"] for h in service.iter_hits(SearchRequest(q=text), 10_000)}

    nf_k = ids("NF-k*")
    assert ids("NF-kB") <= nf_k
    assert nf_k <= ids("nf") | ids("gene:NF-k*")  # "NF" with a k-word, or a printed alias
    assert len(nf_k) < len(ids("k*")) / 4  # not every figure with a word starting with k


# -- phrases --------------------------------------------------------------------------------


def test_phrases_past_the_budget_are_refused(service: SearchService) -> None:
    snap = service._snapshot()
    tree = q.parse('"signaling pathway"')
    Budget().check(tree, snap)
    assert Evaluator(snap).evaluate(tree).mask.any()
    with pytest.raises(InvalidParameter) as error:
        Budget(phrase_figures=10).check(tree, snap)
    assert error.value.position == 0
    read = snap.doc_frequency(schema.TEXT, "signal") + snap.doc_frequency(schema.TEXT, "pathway")
    assert error.value.message == (
        f'the phrase "signaling pathway" needs the word positions of {read:,} figures read '
        "(more than 10 for the whole query): add a rarer word to the phrase, or search its "
        "words without quotes"
    )


def phrase_cost(snap: Snapshot, *stems: str) -> int:
    return sum(snap.doc_frequency(schema.TEXT, stem) for stem in stems)


def test_a_phrase_budget_counts_the_figures_each_word_reads_once(service: SearchService) -> None:
    """Positions are read once a word and cached: a word in two phrases costs once."""
    snap = service._snapshot()
    cost = phrase_cost(snap, "signal", "pathway", "cell")
    text = '"signaling pathway" OR "pathway signaling" OR "cell signaling"'
    tree = q.parse(text)
    budget = Budget(phrase_figures=cost)
    budget.check(tree, snap)
    assert budget.used_phrase_figures == cost
    with pytest.raises(InvalidParameter) as error:
        Budget(phrase_figures=cost - 1).check(tree, snap)
    assert error.value.message.startswith('the phrase "cell signaling" needs the word positions')
    assert error.value.position == text.index('"cell signaling"')


def test_a_phrase_of_the_commonest_words_is_within_the_budget(service: SearchService) -> None:
    """The budget admits a phrase of the two words in most figures, were each word in
    every figure of an index of 100,000 (the sample's phrase costs scaled up)."""
    snap = service._snapshot()
    counts = sorted(snap.iter_terms(schema.TEXT), key=lambda item: -item[1])
    (first, in_first), (second, in_second) = counts[:2]
    assert in_first > snap.documents / 2
    scale = 100_000 / snap.documents
    budget = Budget(phrase_figures=int(MAX_PHRASE_FIGURES / scale))
    tree = q.parse(f'"{snap.spelling.get(first, first)} {snap.spelling.get(second, second)}"')
    budget.check(tree, snap)
    assert budget.used_phrase_figures == in_first + in_second
    assert MAX_PHRASE_FIGURES >= 2 * 100_000  # both words in every one of 100,000 figures


# -- did you mean ---------------------------------------------------------------------------


def test_did_you_mean_stops_after_its_budget_and_says_so(service: SearchService) -> None:
    unknown = ["osteoblsts", "qzxvw", "jqxzv", "vxqzj", "zjvxq", "xvzqj", "wqzxj"]
    assert len(unknown) > MAX_CORRECTED_WORDS
    result = service.search(SearchRequest(q=" ".join(unknown)))
    assert result["total"] == 0
    [note] = result["query"]["notes"]
    looked = int(note.removeprefix("did you mean: only the first ").split()[0])
    assert 1 <= looked <= MAX_CORRECTED_WORDS
    assert note == (
        f"did you mean: only the first {looked} of {len(unknown)} unknown words were looked "
        "up; check the spelling of the others"
    )
    again = service.search(SearchRequest(q=" ".join(unknown)))  # the cached match is unchanged
    assert again["query"]["notes"] == [note]


def test_did_you_mean_within_its_budget_adds_no_note(service: SearchService) -> None:
    result = service.search(SearchRequest(q="osteoblsts"))
    assert result["did_you_mean"] and result["query"]["notes"] == []


# -- postings read, and costly queries taking turns -----------------------------------------


def test_words_that_read_too_much_of_the_index_are_refused(service: SearchService) -> None:
    snap = service._snapshot()
    tree = q.parse("signaling pathway apoptosis")
    Budget().check(tree, snap)
    with pytest.raises(InvalidParameter) as error:
        Budget(postings=50).check(tree, snap)
    assert error.value.message.startswith(
        "the words of this query occur more than 50 times in the index, too many to search "
        "at once: leave out its commonest words ("
    )
    assert error.value.message.endswith("), or narrow with filters")


def test_costly_queries_wait_their_turn_then_are_turned_away(
    service: SearchService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.search.service as service_module

    costly = "sig* path* canc*"
    budget = Budget()
    budget.check(q.parse(costly), service._snapshot())
    assert budget.costly
    monkeypatch.setattr(service_module, "COSTLY_WAIT_SECONDS", 0.05)
    service._matches.data.clear()
    service._results.data.clear()
    assert service._costly.acquire(timeout=1)  # another costly query is running
    try:
        with pytest.raises(Busy) as error:
            service.search(SearchRequest(q=costly))
        assert error.value.retry_after > 0 and error.value.parameter == "q"
        assert "busy with other costly queries" in error.value.message
        assert service.search(SearchRequest(q="apoptosis"))["total"] > 0  # cheap: no wait
    finally:
        service._costly.release()
    assert service.search(SearchRequest(q=costly))["total"] > 0


def test_many_terms_make_a_query_costly(service: SearchService) -> None:
    snap = service._snapshot()
    few, many = Budget(), Budget()
    few.check(q.parse("insulin receptor"), snap)
    many.check(q.parse(" ".join(["insulin", "receptor"] * (COSTLY_TERMS // 2 + 1))), snap)
    assert not few.costly and many.costly


def test_did_you_mean_is_skipped_while_busy_and_the_answer_not_kept(
    service: SearchService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.search.service as service_module

    monkeypatch.setattr(service_module, "HINT_WAIT_SECONDS", 0.01)
    service._results.data.clear()
    assert service._costly.acquire(timeout=1)
    try:
        busy = service.search(SearchRequest(q="osteoblsts"))
    finally:
        service._costly.release()
    assert busy["did_you_mean"] == []
    assert busy["query"]["notes"] == [
        "did you mean: not looked up, the server is busy; ask again later"
    ]
    later = service.search(SearchRequest(q="osteoblsts"))
    assert later["did_you_mean"] and later["query"]["notes"] == []


def test_did_you_mean_never_turns_a_good_request_away(
    service: SearchService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the corrected query may find the costly turn taken: the hint is skipped,
    with a note, and the search itself is still answered (not a 503)."""

    def busy_count(request: SearchRequest) -> int:
        raise Busy("q", "the server is busy with other costly queries", retry_after=2)

    service._matches.data.clear()
    service._results.data.clear()
    monkeypatch.setattr(service, "count", busy_count)
    result = service.search(SearchRequest(q="osteoblsts"))
    assert result["total"] == 0 and result["did_you_mean"] == []
    assert (
        "did you mean: not looked up, the server is busy; ask again later"
        in (result["query"]["notes"])
    )
