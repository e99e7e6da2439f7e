"""The HTML front page."""

from __future__ import annotations

from server.web import create_app


def test_front_page_says_what_is_indexed_and_links_the_api(sample_index):
    client = create_app(sample_index, test_config={"TESTING": True}).test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "214 figures indexed" in page
    assert 'action="/api/search"' in page
    assert "/api/openapi.json" in page


def test_front_page_without_an_index(tmp_path):
    client = create_app(tmp_path / "none", test_config={"TESTING": True}).test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert "No index yet" in response.get_data(as_text=True)
