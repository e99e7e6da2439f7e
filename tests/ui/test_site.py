"""The site as a person uses it, in headless Chromium: search, autocomplete, facets, chips,
paging, sorting, history, JavaScript off, figure and gene pages, hostile records,
accessibility (axe-core), page weight, and screenshots of the main pages.

Every request that is not to 127.0.0.1 is aborted, as if images were blocked: the pages
must stay usable without them (and nothing loads from other sites).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from indexer import pipeline
from tests.conftest import FIXTURES, STAT3_RECORD
from tests.ui.conftest import LOCAL, offline, serious_violations

FIRST_LOAD_LIMIT = 100_000  # bytes of HTML, CSS and JS for the first search page
PAYLOAD_RECORD = "PMC7513516__xss-payload"


@pytest.fixture(scope="module")
def payload_site(tmp_path_factory: pytest.TempPathFactory, serve_app: Any) -> str:
    root = tmp_path_factory.mktemp("ui_payload_index")
    report = pipeline.build([FIXTURES / "xss"], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return serve_app(root)


def params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def count_text(page: Any) -> str:
    return page.locator("#results-title").inner_text()


def mark_document(page: Any) -> None:
    """Tag the document: the tag survives in-place updates, not a full page load."""
    page.evaluate("window.__samePage = true")


def same_document(page: Any) -> bool:
    return page.evaluate("window.__samePage === true")


def wait_for_params(page: Any, expected: list[tuple[str, str]]) -> None:
    page.wait_for_function(
        "expected => JSON.stringify([...new URLSearchParams(location.search)])"
        " === JSON.stringify(expected)",
        arg=[list(p) for p in expected],
    )


def test_type_a_query_and_see_results_in_place(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/")
    mark_document(page)
    page.fill("#q", "insulin")
    page.press("#q", "Enter")
    wait_for_params(page, [("q", "insulin")])
    page.wait_for_function("() => document.title.startsWith('insulin')")
    assert re.fullmatch(r"12 figures", count_text(page))
    assert page.locator(".card").count() == 12
    assert page.locator(".card mark").first.inner_text().lower() == "insulin"
    assert same_document(page)
    assert page.locator("#announce").inner_text() == "12 figures"
    assert not watch.problems()


def test_pick_an_autocomplete_suggestion_with_the_keyboard(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/")
    page.locator("#q").press_sequentially("stat3", delay=20)
    listbox = page.locator("#q-suggestions")
    listbox.locator("[role=option]").first.wait_for()
    assert page.get_attribute("#q", "aria-expanded") == "true"
    options = listbox.locator("[role=option]").all_inner_texts()
    assert options[0].startswith("STAT3") and "gene" in options[0].lower()
    assert "6 figures" in options[0]
    page.press("#q", "ArrowDown")
    assert page.get_attribute("#q", "aria-activedescendant") == "q-option-0"
    assert listbox.locator("[aria-selected=true]").inner_text() == options[0]
    page.press("#q", "Enter")
    wait_for_params(page, [("q", "gene:STAT3")])
    assert page.input_value("#q") == "gene:STAT3"
    assert page.get_attribute("#q", "aria-expanded") == "false"
    assert count_text(page) == "6 figures"
    assert not watch.problems()


def test_escape_closes_the_suggestions(site_page: Any, site: str) -> None:
    page, _ = site_page
    page.goto(site + "/")
    page.locator("#q").press_sequentially("insu", delay=20)
    page.locator("#q-suggestions [role=option]").first.wait_for()
    page.press("#q", "Escape")
    assert page.locator("#q-suggestions").is_hidden()
    assert page.input_value("#q") == "insu"


def _gene_counts(page: Any) -> dict[str, str]:
    links = page.locator("#facet-gene + ul a")
    return {
        links.nth(i).get_attribute("data-key"): links.nth(i).locator(".facet__count").inner_text()
        for i in range(links.count())
    }


def test_facet_click_changes_results_and_other_counts_then_chip_removes_it(
    site_page: Any, site: str
) -> None:
    page, watch = site_page
    page.goto(site + "/?q=insulin")
    mark_document(page)
    genes_before = _gene_counts(page)
    mouse = page.locator('a[data-key="f:organism:Mus musculus"]')
    mouse.click()
    wait_for_params(page, [("q", "insulin"), ("organism", "Mus musculus")])
    assert count_text(page) == "2 figures"
    assert page.locator(".card").count() == 2
    assert _gene_counts(page) != genes_before
    selected = page.locator('a[data-key="f:organism:Mus musculus"]')
    assert selected.get_attribute("aria-current") == "true"
    # Its own facet still counts every organism, so another can be added (OR).
    assert page.locator('a[data-key="f:organism:Homo sapiens"]').count() == 1
    assert page.evaluate("document.activeElement.dataset.key") == "f:organism:Mus musculus"
    chip = page.locator(".chips a.chip", has_text="Organism: Mus musculus")
    chip.click()
    wait_for_params(page, [("q", "insulin")])
    assert count_text(page) == "12 figures"
    assert page.locator(".chips").count() == 0
    assert same_document(page)
    assert not watch.problems()


def test_page_sort_and_back_and_forward_restore_the_state(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/?q=pathway")
    first_titles = page.locator(".card h3").all_inner_texts()
    total = count_text(page)
    page.locator(".pager a[rel=next]").click()
    wait_for_params(page, [("q", "pathway"), ("page", "2")])
    second_titles = page.locator(".card h3").all_inner_texts()
    assert second_titles and second_titles != first_titles
    assert "page 2 of" in count_text(page)
    page.locator(".sort-links a", has_text="Newest").click()
    wait_for_params(page, [("q", "pathway"), ("sort", "-year")])
    years = [int(y) for y in page.locator(".card__meta span").all_inner_texts() if y.isdigit()]
    assert years == sorted(years, reverse=True)
    page.go_back()
    wait_for_params(page, [("q", "pathway"), ("page", "2")])
    page.wait_for_function(
        "() => document.querySelector('#results-title').innerText.includes('page 2')"
    )
    assert page.locator(".card h3").all_inner_texts() == second_titles
    page.go_back()
    wait_for_params(page, [("q", "pathway")])
    page.wait_for_function(
        "() => document.querySelector('#results-title').innerText.includes('page 1 of')"
    )
    assert page.locator(".card h3").all_inner_texts() == first_titles
    assert count_text(page) == total
    page.go_forward()
    wait_for_params(page, [("q", "pathway"), ("page", "2")])
    page.wait_for_function(
        "() => document.querySelector('#results-title').innerText.includes('page 2')"
    )
    assert not watch.problems()


def test_the_same_search_with_javascript_off(no_js_page: Any, site: str) -> None:
    page = no_js_page
    page.goto(site + "/")
    page.fill("#q", "insulin")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"\?q=insulin$"))
    assert count_text(page) == "12 figures"
    page.locator('a[data-key="f:organism:Mus musculus"]').click()
    page.wait_for_url(re.compile(r"organism=Mus\+musculus"))
    assert count_text(page) == "2 figures"
    page.locator(".chips a.chip").first.click()
    page.wait_for_url(re.compile(r"\?q=insulin$"))
    page.fill("input[name=year_min]", "2015")
    page.locator(".year-form button").click()
    page.wait_for_url(re.compile(r"year_min=2015"))
    assert params(page.url) == [("q", "insulin"), ("year_min", "2015")]
    years = [int(y) for y in page.locator(".card__meta span").all_inner_texts() if y.isdigit()]
    assert years and min(years) >= 2015
    # The main search box keeps the filters through its hidden fields.
    page.fill("#q", "signaling")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"q=signaling"))
    assert ("year_min", "2015") in params(page.url)


def test_open_a_figure_page_and_a_gene_page(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/?q=gene:STAT3")
    page.locator(".card h3 a", has_text="Domain structure and signaling pathway of STAT3").click()
    page.wait_for_url(f"**/figures/{STAT3_RECORD}")
    assert page.locator("h1").inner_text() == "Domain structure and signaling pathway of STAT3"
    assert page.locator("table tbody tr").count() > 50
    assert page.locator(".similar li").count() == 8
    # The image is blocked here: the placeholder says where to see it.
    page.wait_for_selector(".figure-image .thumb.is-broken")
    assert page.locator(".figure-image .thumb__placeholder").is_visible()
    page.locator("table a", has_text=re.compile(r"^IL6$")).click()
    page.wait_for_url("**/genes/IL6")
    assert page.locator("h1").inner_text() == "IL6"
    assert page.locator(".year-bars rect").count() >= 1
    assert page.locator(".card").count() >= 1
    assert not watch.problems()


def test_thumbnails_fall_back_to_a_placeholder_without_waiting(site_page: Any, site: str) -> None:
    page, _ = site_page
    page.goto(site + "/?q=insulin", wait_until="domcontentloaded")
    first = page.locator(".card .thumb").first
    page.wait_for_function(
        "() => document.querySelector('.card .thumb').classList.contains('is-broken')"
    )
    assert first.locator(".thumb__placeholder").is_visible()
    assert page.locator(".card .thumb img").first.get_attribute("loading") == "lazy"


@pytest.mark.parametrize("path", ["/?q=stat3", f"/figures/{PAYLOAD_RECORD}", "/genes/STAT3"])
def test_a_record_with_script_payloads_stays_inert(
    site_page: Any, payload_site: str, path: str
) -> None:
    page, watch = site_page
    page.goto(payload_site + path)
    page.wait_for_load_state("load")
    text = page.locator("main").inner_text()
    assert "<script>alert(1)</script>" in text
    assert page.locator("img[src=x]").count() == 0
    if path.startswith("/?"):  # autocomplete renders names as text too
        page.fill("#q", "")
        page.locator("#q").press_sequentially("jak", delay=20)
        page.locator("#q-suggestions [role=option]").first.wait_for()
    assert watch.dialogs == [] and watch.errors == []


@pytest.mark.parametrize(
    # Five results are as many kinds of element as twenty, and axe is slow on big pages.
    "path",
    [
        "/?q=insulin&organism=Homo+sapiens&per_page=5",
        f"/figures/{STAT3_RECORD}?genes=IL6",
        "/genes/STAT?per_page=5",
    ],
)
def test_pages_have_no_serious_accessibility_violations(
    site_page: Any, site: str, path: str
) -> None:
    page, watch = site_page
    page.goto(site + path)
    assert serious_violations(page) == []
    assert not watch.problems()  # no CSP report, no script error


def test_keyboard_focus_is_visible(site_page: Any, site: str) -> None:
    page, _ = site_page
    page.goto(site + "/?q=insulin")
    page.keyboard.press("Tab")  # the skip link comes first, and shows itself
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0
    for _ in range(3):
        page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline == ["solid", "3px"]


def test_first_load_of_the_search_page_is_under_100_kb(site_page: Any, site: str) -> None:
    page, _ = site_page
    sizes: dict[str, int] = {}

    def record(response: Any) -> None:
        if response.request.resource_type != "image" and response.url.startswith(LOCAL):
            sizes[response.url] = len(response.body())

    page.on("response", record)
    page.goto(site + "/")
    page.wait_for_load_state("networkidle")
    assert any("/static/site.css" in u for u in sizes) and any(
        "/static/site.js" in u for u in sizes
    )
    assert sum(sizes.values()) < FIRST_LOAD_LIMIT, sizes


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_the_main_pages(
    browser: Any, site: str, artefacts: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    offline(context)
    page = context.new_page()
    try:
        for name, path in (
            ("home", "/"),
            ("search", "/?q=insulin"),
            ("organism-offer", "/?q=insulin+mouse"),  # a word naming an organism
            ("figure", f"/figures/{STAT3_RECORD}?genes=STAT3,IL6"),
            ("gene", "/genes/STAT"),
            ("no-results", "/?q=insulln"),
            ("about", "/about"),  # long API URLs in code
            ("not-found", "/figures/PMC" + "1234567890" * 8),  # a long word in the message
        ):
            page.goto(site + path)
            page.wait_for_load_state("load")
            shot = artefacts / f"{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            # Nothing sticks out sideways on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    finally:
        context.close()


@pytest.mark.parametrize("path", [f"/figures/{STAT3_RECORD}", "/embed"])
def test_panels_stacked_in_a_column_never_touch(site_page: Any, site: str, path: str) -> None:
    """Every page spaces its stacked panels alike (the figure image once touched its caption)."""
    page, _ = site_page
    page.goto(site + path)
    gaps = page.evaluate(
        """() => [...document.querySelectorAll('main .section, main .figure-image')]
          .map(el => [el, el.nextElementSibling])
          .filter(([, next]) => next && next.matches('.section, .figure-image'))
          .map(([el, next]) => [el.getBoundingClientRect(), next.getBoundingClientRect()])
          .filter(([a, b]) => b.left < a.right && a.left < b.right)  // one above the other
          .map(([a, b]) => b.top - a.bottom)"""
    )
    assert gaps and min(gaps) >= 12, gaps
