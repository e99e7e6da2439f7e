"""Figures that share genes (Jaccard over gene sets) and the configurable image links."""

from __future__ import annotations

import numpy as np
import pytest

from server.search.models import InvalidParameter, NotFound
from server.search.service import SearchService, _most_similar
from server.web import create_app
from tests.conftest import STAT3_RECORD


@pytest.fixture(scope="module")
def service(sample_index):
    return SearchService(sample_index)


def _gene_sets(service):
    """Every figure's symbols, read from the whole records (not the facet arrays)."""
    figids = [h["figid"] for h in service.iter_hits(_everything(), limit=1000)]
    return {f: {g["symbol"].casefold() for g in service.figure(f)["genes"]} for f in figids}


def _everything():
    from server.search.models import SearchRequest

    return SearchRequest()


def test_similar_figures_rank_by_jaccard_and_name_the_shared_genes(service):
    sets = _gene_sets(service)
    mine = sets[STAT3_RECORD]
    expected = sorted(
        (
            (len(mine & other) / len(mine | other), f)
            for f, other in sets.items()
            if f != STAT3_RECORD and mine & other
        ),
        key=lambda pair: -pair[0],
    )
    similar = service.similar_figures(STAT3_RECORD, limit=5)
    assert len(similar) == 5
    assert [round(s["jaccard"], 4) for s in similar] == [round(j, 4) for j, _ in expected[:5]]
    for item in similar:
        shared = {s.casefold() for s in item["shared"]}
        assert shared == mine & sets[item["figid"]]
        assert item["links"]["page"] == f"/figures/{item['figid']}"
        assert item["figid"] != STAT3_RECORD


def test_similar_figures_errors_name_the_problem(service):
    with pytest.raises(NotFound, match="no figure with figid 'nope'"):
        service.similar_figures("nope")
    with pytest.raises(InvalidParameter, match="limit must be between 1 and 100, got 0"):
        service.similar_figures(STAT3_RECORD, limit=0)


def test_image_links_default_to_europe_pmc(service):
    image = service.figure(STAT3_RECORD)["links"]["image"]
    assert image == "https://europepmc.org/articles/PMC7513516/bin/12943_2020_1258_Fig1_HTML.jpg"


def test_image_link_template_is_one_config_key(sample_index):
    template = "https://images.example.org/{pmcid}/{filename}"
    app = create_app(sample_index, test_config={"TESTING": True, "PFOCR_IMAGE_URL": template})
    client = app.test_client()
    hit = client.get("/api/search?q=STAT3").get_json()["hits"][0]
    assert hit["links"]["image"].startswith(f"https://images.example.org/{hit['pmcid']}/")
    figure = client.get(f"/api/figures/{STAT3_RECORD}").get_json()
    assert figure["links"]["image"] == (
        "https://images.example.org/PMC7513516/12943_2020_1258_Fig1_HTML.jpg"
    )


@pytest.mark.parametrize(
    "template", ["https://x.org/{pmcid}", "https://x.org/{pmcid}/{file}", "https://x.org/{"]
)
def test_a_bad_image_template_is_refused_naming_the_config_key(sample_index, template):
    with pytest.raises(ValueError, match="PFOCR_IMAGE_URL: image URL template"):
        create_app(sample_index, test_config={"TESTING": True, "PFOCR_IMAGE_URL": template})


@pytest.mark.parametrize("limit", [1, 3, 10, 100, 500])
def test_the_most_similar_are_the_first_of_a_whole_sort(limit):
    """Sorting only the candidates at or above the limit-th Jaccard picks what sorting
    them all picks, ties (many, as Jaccard is a ratio of small counts) included."""
    rng = np.random.default_rng(limit)
    candidates = np.sort(rng.choice(100_000, size=400, replace=False))
    shared = rng.integers(1, 5, size=400)
    jaccard = shared / rng.integers(5, 9, size=400)
    whole = np.lexsort((candidates, -shared, -jaccard))[:limit]
    assert _most_similar(candidates, shared, jaccard, limit).tolist() == whole.tolist()
