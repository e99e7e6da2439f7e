"""Figure names in the browser, with JavaScript and without: the PFOCR site's URL forms
land on the figure page, identifiers typed in the search box find their figures first,
and the NDEx facet narrows to the figures with a network. Screenshots of each go to the
artefacts folder. Requests to other hosts are aborted (nothing loads from other sites).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STAT3_RECORD
from tests.ui.conftest import offline, serious_violations

STAT3_TITLE = "Domain structure and signaling pathway of STAT3"
NDEX_RECORD = "PMC1052008__JCI0524178.f1"
NDEX_URL = "https://www.ndexbio.org/viewer/networks/fa9b81a0-df34-11ea-99da-0ac135e8bacf"
PAPER_FIGURES = ["PMC5411695__cshperspect-CIL-028175_F1", "PMC5411695__cshperspect-CIL-028175_F3"]


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def tab(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """A page with JavaScript on, then off; only 127.0.0.1 is reached."""
    context = browser.new_context(
        java_script_enabled=request.param, viewport={"width": 1280, "height": 900}
    )
    offline(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == []


@pytest.mark.parametrize(
    "path",
    [
        "/figures/PMC7513516__F1",
        "/figures/PMC7513516__F1.html?genes=IL6",
        f"/figures/{STAT3_RECORD}.html",
        "/figures/pmc7513516__f1",
    ],
)
def test_every_pfocr_url_form_lands_on_the_figure_page(tab: Any, site: str, path: str) -> None:
    tab.goto(site + path)
    query = "?genes=IL6" if "genes" in path else ""
    assert tab.url == f"{site}/figures/{STAT3_RECORD}{query}"
    assert tab.locator("h1").inner_text() == STAT3_TITLE
    assert "PMC7513516__F1" in tab.locator("dl.facts").inner_text()
    if query:
        assert tab.locator("tr.is-highlighted").count() >= 1


@pytest.mark.parametrize(
    ("typed", "first"),
    [("PMC7513516__F1", [STAT3_RECORD]), ("5411695", PAPER_FIGURES)],
)
def test_identifiers_typed_in_the_box_come_first(
    tab: Any, site: str, typed: str, first: list[str]
) -> None:
    tab.goto(site + "/")
    tab.fill("#q", typed)
    tab.press("#q", "Enter")
    tab.wait_for_url(re.compile(rf"\?q={typed}$"))
    tab.locator(".notes.lookup").wait_for()
    links = tab.locator(".card h3 a").evaluate_all("els => els.map(a => a.pathname)")
    assert links[: len(first)] == [f"/figures/{figid}" for figid in first]


def test_the_ndex_facet_narrows_to_figures_with_a_network(tab: Any, site: str) -> None:
    tab.goto(site + "/?q=pathway")
    tab.locator('a[data-key="f:ndex:true"]').click()
    tab.wait_for_url(re.compile(r"ndex=true"))
    tab.locator(".chips a.chip", has_text="Has a network at NDEx").wait_for()
    cards = tab.locator(".card")
    assert cards.count() > 0
    assert cards.count() == tab.locator(".card__links a", has_text="NDEx network").count()


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_figure_names(browser: Any, site: str, artefacts: Path, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    offline(context)
    page = context.new_page()
    try:
        for name, path in (
            ("figure-with-ndex", f"/figures/{NDEX_RECORD}"),
            ("search-alias", "/?q=PMC7513516__F1"),
            ("search-pmcid", "/?q=PMC5411695"),
            ("search-ndex", "/?q=pathway&ndex=true&per_page=5"),
        ):
            page.goto(site + path)
            page.wait_for_load_state("load")
            shot = artefacts / f"names-{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.goto(site + f"/figures/{NDEX_RECORD}")
        assert page.locator(".link-list a", has_text="Network at NDEx").get_attribute("href") == (
            NDEX_URL
        )
    finally:
        context.close()


@pytest.mark.parametrize("path", [f"/figures/{NDEX_RECORD}", "/?q=PMC5411695&ndex=true"])
def test_new_parts_have_no_serious_accessibility_violations(
    browser: Any, site: str, path: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    offline(context)
    page = context.new_page()
    try:
        page.goto(site + path)
        assert serious_violations(page) == []
    finally:
        context.close()
