"""The enrichment page as a biologist uses it, in headless Chromium: an example list from
a real figure, the recognised count while typing, the library narrowed by a facet, the
chart and the table, the figure page with the shared genes highlighted, the figure page's
"enrich with this figure's genes", JavaScript off, accessibility, and screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STAT3_RECORD
from tests.ui.conftest import offline, serious_violations

GENE_LIST = "STAT3\nJAK\nIL6\nSOCS3x\nTP53\np53\nEGFR\nMYC\nAKT1\nNOTAGENE1"


def test_example_list_count_and_results(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/enrich")
    page.locator("button[data-example]").click()
    box = page.locator("#genes")
    assert box.input_value().count("\n") >= 11  # a real figure's genes
    assert page.url.endswith("/enrich")  # filled in place, no page load
    page.locator("#genes-count").filter(has_text="recognised").wait_for()
    box.fill(GENE_LIST)
    page.locator("#genes-count").filter(has_text="8 of 10 entries recognised").wait_for()
    assert "not recognised: SOCS3x, NOTAGENE1" in page.locator("#genes-count").inner_text()
    page.get_by_role("button", name="Find figures").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    assert "share a gene with the list" in page.locator("#results-title").inner_text()
    notes = page.locator(".enrich-notes").inner_text()
    assert "Not recognised (2): SOCS3x, NOTAGENE1" in notes
    assert "JAK names 4 genes, counted as all of them" in notes
    assert "p53 (as TP53)" in notes
    assert page.locator(".enrich-chart svg rect").count() >= 3
    first = page.locator(".enrich-table tbody tr").first
    assert first.locator("td").nth(2).inner_text().count("/") == 1  # overlap a/K
    first.locator(".figure-title").click()
    page.wait_for_url("**/figures/**?genes=*")
    highlighted = page.locator("tr.is-highlighted").count()
    assert highlighted >= 3
    assert not watch.problems()  # no CSP violation, no script error


def test_a_facet_narrows_the_library(site_page: Any, site: str) -> None:
    page, _ = site_page
    page.goto(site + "/enrich")
    page.locator("#genes").fill(GENE_LIST)
    page.get_by_role("button", name="Find figures").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    everything = page.locator(".enrich-summary").inner_text()
    human = page.locator(".checks label", has_text="Homo sapiens")
    human.locator("input").check()
    page.get_by_role("button", name="Find figures").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    assert page.locator(".checks label", has_text="Homo sapiens").locator("input").is_checked()
    assert page.locator(".enrich-summary").inner_text() != everything
    assert page.locator("#genes").input_value() == GENE_LIST  # the list is kept


def test_the_figure_page_offers_its_genes_for_enrichment(site_page: Any, site: str) -> None:
    page, _ = site_page
    page.goto(site + f"/figures/{STAT3_RECORD}")
    page.get_by_role("button", name="Enrich with this figure’s genes").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    first = page.locator(".enrich-table tbody tr").first.locator(".figure-title")
    assert STAT3_RECORD in first.get_attribute("href")  # its own figure ranks first


def test_the_page_works_with_javascript_off(no_js_page: Any, site: str) -> None:
    page = no_js_page
    page.goto(site + "/enrich")
    page.get_by_role("button", name="Fill an example list").click()  # posts; the server fills
    assert page.locator("#genes").input_value().count("\n") >= 11
    page.get_by_role("button", name="Find figures").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    assert page.locator(".enrich-chart svg rect").count() >= 3
    if page.locator(".pager__button").count():
        page.locator(".pager__button").first.click()
        page.locator(".enrich-table tbody tr").first.wait_for()
    with page.expect_download() as download:
        page.locator(".downloads button[value=tsv]").click()
    path = download.value.path()
    assert Path(path).read_text(encoding="utf-8").startswith("Term\tTitle\tOverlap")


def test_no_serious_accessibility_violations(site_page: Any, site: str) -> None:
    page, watch = site_page
    page.goto(site + "/enrich")
    page.locator("#genes").fill(GENE_LIST)
    page.get_by_role("button", name="Find figures").click()
    page.locator(".enrich-table tbody tr").first.wait_for()
    assert serious_violations(page) == []
    assert not watch.problems()


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots(browser: Any, site: str, artefacts: Path, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    offline(context)
    page = context.new_page()
    try:
        page.goto(site + "/enrich")
        page.screenshot(path=str(artefacts / f"enrich-form-{width}.png"), full_page=True)
        page.locator("#genes").fill(GENE_LIST)
        page.get_by_role("button", name="Find figures").click()
        page.locator(".enrich-table tbody tr").first.wait_for()
        shot = artefacts / f"enrich-results-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
