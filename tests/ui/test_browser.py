"""The browser harness itself: Chromium starts offline and renders the front page."""

from __future__ import annotations

from typing import Any


def test_front_page_renders_in_chromium(page: Any, site: str) -> None:
    response = page.goto(site + "/")
    assert response is not None and response.status == 200
    assert "PFOCR" in page.title()
