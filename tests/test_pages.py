"""The HTML pages, rendered by the Flask test client over the sample index."""

from __future__ import annotations

import re

import pytest

from server.web import create_app


@pytest.fixture(scope="module")
def client(sample_index):
    return create_app(sample_index, test_config={"TESTING": True}).test_client()


def test_about_page_says_what_is_indexed_and_links_the_api(client):
    response = client.get("/about")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "214 figures indexed" in page
    assert "/api/openapi.json" in page


def test_about_page_without_an_index(tmp_path):
    client = create_app(tmp_path / "none", test_config={"TESTING": True}).test_client()
    response = client.get("/about")
    assert response.status_code == 200
    assert "No index yet" in response.get_data(as_text=True)


def test_stylesheet_is_linked_by_content_hash_and_cached_for_a_year(client):
    page = client.get("/about").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert re.fullmatch(r"/static/site\.css\?v=[0-9a-f]{12}", href)
    with client.get(href) as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with client.get("/static/site.css?v=000000000000") as stale:
        assert "immutable" not in stale.headers.get("Cache-Control", "")
