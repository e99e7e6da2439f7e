"""The embeddable search as a visitor meets it, in headless Chromium.

The widget is embedded in pages served from a second origin (``other_origin``), so every
call it makes to the API crosses origins as it does on other sites.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_embed import ATTRIBUTE_PAYLOAD, SCRIPT_PAYLOAD, build_payload_index
from tests.ui.conftest import serious_violations

DEFAULT_ACCENT = "rgb(10, 88, 168)"  # --pfocr-accent's default, #0a58a8
THEME_ACCENT = "rgb(123, 44, 191)"
PHONE = {"width": 390, "height": 844}

# Host-page CSS that would wreck the widget if it reached inside.
HOSTILE_CSS = """
body { font-family: monospace; color: rgb(0, 128, 0); text-transform: uppercase;
       letter-spacing: 3px; }
a { color: rgb(255, 0, 0) !important; }
li, ol, p, form { display: none !important; }
mark { background: rgb(0, 0, 0) !important; }
.title { font-size: 40px; }
#themed { --pfocr-accent: rgb(123, 44, 191); }
"""


def api_search(site: str, **params: str) -> dict[str, Any]:
    url = f"{site}/api/search?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:  # our own 127.0.0.1 server
        return json.load(response)


def host_page(site: str, body: str, css: str = "") -> str:
    """A page of another site embedding ``body`` and loading the widget from ``site``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style>
<script>window.keysBefore = Object.keys(window);</script>
<script src="{site}/embed/v1/pfocr-search.js" defer></script>
</head><body><main>{body}</main></body></html>"""


def widget_hrefs(page: Any, selector: str) -> list[str]:
    return page.locator(f"{selector} a.title").evaluate_all("links => links.map(a => a.href)")


def wait_for_hits(page: Any, selector: str, count: int) -> None:
    page.locator(f"{selector} a.title").nth(count - 1).wait_for()
    assert page.locator(f"{selector} a.title").count() == count


def wait_for_answer(
    locate: Callable[[str], Any], expected: dict[str, Any], within: str = ""
) -> None:
    """Wait until the page or frame (``locate``: its ``locator``), inside ``within``, shows
    ``expected``'s hits: its first hit, then its total. Not the total alone: searching
    within a filter often finds as many figures as before (STAT3, with "signaling" or
    without: 6), and that wait passed on the old hits while the new ones were coming."""
    first = expected["hits"][0]["links"]["page"]
    locate(f'{within} a.title[href$="{first}"]'.strip()).first.wait_for()
    status = locate(f"{within} .status".strip())
    status.filter(has_text=f"of {expected['total']} figures").wait_for()


def in_shadow(page: Any, selector: str, script: str) -> Any:
    """Evaluate ``script`` (an expression over ``root``) in the widget's shadow root."""
    return page.evaluate(
        f"() => {{ const root = document.querySelector({selector!r}).shadowRoot; return {script}; }}"
    )


def style_of(page: Any, selector: str, inner: str, prop: str) -> str:
    return in_shadow(page, selector, f"getComputedStyle(root.querySelector({inner!r}))[{prop!r}]")


def record_csp_violations(page: Any) -> list[str]:
    messages: list[str] = []
    page.on(
        "console",
        lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    return messages


# -- the widget on another site ------------------------------------------------------------


def test_two_widgets_on_another_site_show_their_own_results(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    url = other_origin(
        host_page(
            site,
            '<pfocr-search id="first" gene="STAT3" limit="3"></pfocr-search>'
            '<pfocr-search id="second" q="apoptosis" organism="Homo sapiens" limit="2">'
            "</pfocr-search>",
        )
    )
    assert not url.startswith(site)
    page.goto(url)
    first = api_search(site, gene="STAT3", per_page="3")
    second = api_search(site, q="apoptosis", organism="Homo sapiens", per_page="2")
    wait_for_hits(page, "#first", 3)
    wait_for_hits(page, "#second", 2)
    assert widget_hrefs(page, "#first") == [site + h["links"]["page"] for h in first["hits"]]
    assert widget_hrefs(page, "#second") == [site + h["links"]["page"] for h in second["hits"]]
    assert page.locator("#first .status").inner_text() == f"3 of {first['total']} figures"
    assert page.locator("#first .scope").inner_text() == "Figures of gene STAT3"
    assert page.locator("#second input").input_value() == "apoptosis"
    assert page.locator("#second mark").first.inner_text().lower().startswith("apoptos")
    # The widget adds nothing to the host page's globals.
    added = page.evaluate("Object.keys(window).filter(k => !window.keysBefore.includes(k))")
    assert added == ["keysBefore"]


def test_widget_works_under_a_strict_host_policy_and_loaded_twice(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    # The host allows our origin for scripts and requests and nothing else: no styles at
    # all, no inline code. The widget's constructed stylesheet needs no style-src.
    policy = f"default-src 'none'; script-src {site}; connect-src {site}"
    url = other_origin(
        f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Strict</title>
<meta http-equiv="Content-Security-Policy" content="{policy}">
<script src="{site}/embed/v1/pfocr-search.js" defer></script>
<script src="{site}/embed/v1/pfocr-search.js?again" defer></script>
</head><body><pfocr-search id="w" gene="STAT3" limit="2"></pfocr-search></body></html>"""
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    csp_problems = record_csp_violations(page)
    page.goto(url)
    wait_for_hits(page, "#w", 2)
    assert style_of(page, "#w", "button", "backgroundColor") == DEFAULT_ACCENT
    # Its English is announced as English on a French page.
    assert in_shadow(page, "#w", "root.querySelector('.root').lang") == "en"
    assert errors == []
    assert csp_problems == []


def test_an_unreachable_server_is_named(page: Any, site: str, other_origin: Callable[[str], str]):
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    page.goto(other_origin(host_page(site, f'<pfocr-search id="w" server="{closed}">')))
    alert = page.locator("#w [role=alert]")
    alert.wait_for()
    assert alert.inner_text() == f"Cannot reach {closed}"


def test_a_visitor_searches_from_the_keyboard(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    url = other_origin(
        host_page(site, '<a href="#">before</a><pfocr-search id="w" gene="STAT3"></pfocr-search>')
    )
    page.goto(url)
    wait_for_hits(page, "#w", 5)
    page.keyboard.press("Tab")  # the host's link
    page.keyboard.press("Tab")  # the widget's search box
    assert in_shadow(page, "#w", "root.activeElement.name") == "q"
    assert style_of(page, "#w", "input", "outlineStyle") == "solid"  # focus is visible
    page.keyboard.type("signaling")
    page.keyboard.press("Enter")
    expected = api_search(site, q="signaling", gene="STAT3", per_page="5")
    assert expected["total"] > 0
    wait_for_answer(page.locator, expected, within="#w")
    assert widget_hrefs(page, "#w") == [site + h["links"]["page"] for h in expected["hits"]]


def test_a_bad_attribute_says_which_and_why(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    page.goto(other_origin(host_page(site, '<pfocr-search id="w" limit="lots"></pfocr-search>')))
    alert = page.locator("#w [role=alert]")
    alert.wait_for()
    assert alert.inner_text() == 'limit must be a whole number from 1 to 20, got "lots"'
    page.evaluate("document.querySelector('#w').setAttribute('year-min', 'soon')")
    page.evaluate("document.querySelector('#w').setAttribute('limit', '2')")
    alert.filter(has_text="year_min").wait_for()
    assert "year_min must be a whole number" in alert.inner_text()


def test_theming_and_no_css_leaking_either_way(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    url = other_origin(
        host_page(
            site,
            '<a class="title" id="host-link" href="#">host link</a>'
            '<pfocr-search id="plain" q="apoptosis" limit="2"></pfocr-search>'
            '<pfocr-search id="themed" q="apoptosis" limit="2"></pfocr-search>',
            css=HOSTILE_CSS,
        )
    )
    page.goto(url)
    wait_for_hits(page, "#plain", 2)
    wait_for_hits(page, "#themed", 2)
    # A custom property themes one instance; the other keeps the default.
    assert style_of(page, "#themed", "a.title", "color") == THEME_ACCENT
    assert style_of(page, "#themed", "button", "backgroundColor") == THEME_ACCENT
    assert style_of(page, "#plain", "a.title", "color") == DEFAULT_ACCENT
    # The host's rules and inherited text styles stay outside.
    assert style_of(page, "#plain", "li", "display") == "list-item"
    assert style_of(page, "#plain", "form", "display") == "flex"
    assert style_of(page, "#plain", "mark", "backgroundColor") == "rgb(255, 241, 168)"
    assert style_of(page, "#plain", "a.title", "fontSize") != "40px"
    assert "monospace" not in style_of(page, "#plain", "p", "fontFamily")
    assert style_of(page, "#plain", "p", "textTransform") == "none"
    assert style_of(page, "#plain", "p", "letterSpacing") == "normal"
    # ... and the widget's rules stay inside.
    host_link = page.locator("#host-link")
    assert host_link.evaluate("a => getComputedStyle(a).fontWeight") == "400"
    assert host_link.evaluate("a => getComputedStyle(a).color") == "rgb(255, 0, 0)"


def test_usable_at_phone_width(browser: Any, site: str, other_origin: Callable[[str], str]):
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(other_origin(host_page(site, '<pfocr-search id="w" gene="STAT3">')))
        wait_for_hits(page, "#w", 5)
        for part in ("input", "button", "a.title >> nth=0"):
            box = page.locator(f"#w {part}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_all_figures_link_lands_on_the_search_page_with_the_same_total(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    page.goto(
        other_origin(host_page(site, '<pfocr-search id="w" q="signaling" gene="STAT3" limit="2">'))
    )
    wait_for_hits(page, "#w", 2)
    expected = api_search(site, q="signaling", gene="STAT3", per_page="2")
    assert expected["total"] > 2
    more = page.locator("#w a.more")
    assert more.inner_text() == f"All {expected['total']} figures on PFOCR"
    more.click()
    page.wait_for_url(f"{site}/?*")
    assert page.locator("#results-title").inner_text() == f"{expected['total']} figures"
    assert page.input_value("#q") == "signaling"
    assert page.locator(".chips a.chip", has_text="STAT3").count() == 1


def test_clicking_a_result_opens_its_figure_page(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    page.goto(other_origin(host_page(site, '<pfocr-search id="w" gene="STAT3" limit="3">')))
    wait_for_hits(page, "#w", 3)
    first = api_search(site, gene="STAT3", per_page="3")["hits"][0]
    title = page.locator("#w a.title").first
    assert title.inner_text() == first["title"]
    with page.expect_response(f"{site}/figures/*") as answer:
        title.click()
    assert answer.value.status == 200
    page.wait_for_url(site + first["links"]["page"])
    assert page.locator("h1").inner_text() == first["title"]


# -- the iframe form ----------------------------------------------------------------------


def test_iframe_form_works_with_javascript_off(
    page_no_js: Any, site: str, other_origin: Callable[[str], str]
):
    url = other_origin(
        '<!doctype html><html lang="en"><head><title>No scripts here</title></head><body>'
        f'<iframe src="{site}/embed/frame?gene=STAT3&amp;limit=3" title="PFOCR" '
        'width="600" height="600"></iframe></body></html>'
    )
    page_no_js.goto(url)
    frame = page_no_js.frame_locator("iframe")
    expected = api_search(site, gene="STAT3", per_page="3")
    frame.locator("a.title").nth(2).wait_for()
    hrefs = frame.locator("a.title").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == [site + h["links"]["page"] for h in expected["hits"]]
    # The visitor searches within the embedder's filters: a plain form, no script.
    frame.locator("input[name=q]").fill("signaling")
    frame.locator("input[name=q]").press("Enter")
    expected = api_search(site, q="signaling", gene="STAT3", per_page="3")
    wait_for_answer(frame.locator, expected)
    hrefs = frame.locator("a.title").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == [site + h["links"]["page"] for h in expected["hits"]]


def test_frame_links_open_the_search_page_and_figure_pages(
    page: Any, site: str, other_origin: Callable[[str], str]
):
    page.goto(
        other_origin(
            '<!doctype html><html lang="en"><head><title>Framed</title></head><body>'
            f'<iframe src="{site}/embed/frame?gene=STAT3&amp;limit=2" title="PFOCR" '
            'width="600" height="600"></iframe></body></html>'
        )
    )
    frame = page.frame_locator("iframe")
    expected = api_search(site, gene="STAT3", per_page="2")
    with page.context.expect_page() as opened:  # the frame opens links in a new tab
        frame.locator("a.more").click()
    search = opened.value
    search.wait_for_load_state()
    assert search.url.startswith(f"{site}/?")
    assert search.locator("#results-title").inner_text() == f"{expected['total']} figures"
    search.close()
    with page.context.expect_page() as opened:
        frame.locator("a.title").first.click()
    figure = opened.value
    figure.wait_for_load_state()
    assert figure.url == site + expected["hits"][0]["links"]["page"]
    assert figure.locator("h1").inner_text() == expected["hits"][0]["title"]


# -- record text stays inert --------------------------------------------------------------


@pytest.fixture(scope="module")
def payload_site(tmp_path_factory: pytest.TempPathFactory, serve_app: Callable[..., str]) -> str:
    return serve_app(build_payload_index(tmp_path_factory.mktemp("payload")))


def test_script_payloads_in_a_record_stay_text_in_widget_and_frame(
    page: Any, payload_site: str, other_origin: Callable[[str], str]
):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(
        other_origin(
            host_page(payload_site, '<pfocr-search id="w" q="STAT3"></pfocr-search>')
            + f'<iframe src="{payload_site}/embed/frame?q=STAT3" title="PFOCR"></iframe>'
        )
    )
    wait_for_hits(page, "#w", 1)
    title = page.locator("#w a.title").inner_text()
    assert title == f"STAT3 {SCRIPT_PAYLOAD} title {ATTRIBUTE_PAYLOAD}"
    snippet = in_shadow(page, "#w", "root.querySelector('[part=snippet]').textContent")
    assert snippet == f"Caption {SCRIPT_PAYLOAD} before STAT3 and {ATTRIBUTE_PAYLOAD} after."
    assert page.locator("#w mark").inner_text() == "STAT3"
    assert in_shadow(page, "#w", "root.querySelectorAll('img, script, [onerror]').length") == 0
    frame = page.frame_locator("iframe")
    assert frame.locator("a.title").inner_text() == title
    assert frame.locator(".snippet").inner_text() == snippet
    assert frame.locator("img, script, [onerror]").count() == 0
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert dialogs == []


# -- /embed -------------------------------------------------------------------------------


def test_embed_page_updates_snippets_and_previews_as_options_change(page: Any, site: str):
    csp_problems = record_csp_violations(page)
    page.goto(site + "/embed")
    wait_for_hits(page, "#preview-widget", 5)
    assert page.frame_locator("#preview-frame").locator("a.title").count() == 5
    # The widget's styles apply under the page's strict policy.
    assert style_of(page, "#preview-widget", "button", "backgroundColor") == DEFAULT_ACCENT
    page.fill("#opt-gene", "TP53")
    page.fill("#opt-limit", "2")
    snippet = page.locator("#snippet-script")
    expected = api_search(site, gene="TP53", per_page="2")
    page.wait_for_function(
        "() => document.querySelector('#snippet-script').value.includes('limit=\"2\"')"
    )
    with urllib.request.urlopen(f"{site}/embed/snippet?gene=TP53&limit=2", timeout=10) as answer:
        served = json.load(answer)
    assert snippet.input_value() == served["script"]
    assert page.locator("#snippet-iframe").input_value() == served["iframe"]
    page.locator("#preview-widget .status").filter(
        has_text=f"2 of {expected['total']} figures"
    ).wait_for()
    hrefs = widget_hrefs(page, "#preview-widget")
    assert hrefs == [site + h["links"]["page"] for h in expected["hits"]]
    assert page.locator("#preview-frame").get_attribute("src") == served["frame_url"]
    assert page.url.endswith("/embed?gene=TP53&limit=2")  # a reload shows the same
    # A bad option is named, next to the form.
    page.fill("#opt-limit", "50")
    alert = page.locator("#options-error")
    alert.filter(has_text="limit").wait_for()
    assert alert.inner_text() == (
        "Parameter limit is wrong: limit must be a whole number from 1 to 20, got '50'"
    )
    assert page.get_attribute("#opt-limit", "aria-invalid") == "true"
    assert csp_problems == []


def test_copy_button_copies_the_snippet(browser: Any, site: str):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(site + "/embed?gene=STAT3")
        page.click("button[data-copy=snippet-script]")
        page.locator("button[data-copy=snippet-script]").filter(has_text="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.locator("#snippet-script").input_value()
        assert 'gene="STAT3"' in copied
    finally:
        context.close()


def test_embed_page_without_javascript_renders_snippets_from_the_form(page_no_js: Any, site: str):
    page_no_js.goto(site + "/embed")
    page_no_js.fill("#opt-gene", "TP53")
    page_no_js.click("#options button[type=submit]")
    page_no_js.wait_for_url("**/embed?*gene=TP53*")
    assert 'gene="TP53"' in page_no_js.locator("#snippet-script").input_value()
    frame = page_no_js.frame_locator("#preview-frame")
    assert frame.locator(".scope").inner_text() == "Figures of gene TP53"


@pytest.mark.parametrize("path", ["/embed", "/embed/frame?gene=STAT3", "/embed/frame?limit=x"])
def test_no_serious_accessibility_violations(page: Any, site: str, path: str):
    page.goto(site + path)
    if path == "/embed":
        wait_for_hits(page, "#preview-widget", 5)
    # The preview iframe is checked on its own (/embed/frame), where axe is injected.
    assert serious_violations(page, {"iframes": False}) == []


def test_frame_under_its_policy_reports_no_violation(page: Any, site: str):
    csp_problems = record_csp_violations(page)
    page.goto(site + "/embed/frame?q=apoptosis")
    assert page.locator("a.title").count() == 5
    assert page.locator("button").evaluate("b => getComputedStyle(b).backgroundColor") == (
        DEFAULT_ACCENT
    )
    assert csp_problems == []


def test_screenshots_of_embed_page(browser: Any, site: str, artefacts: Path):
    for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone")
        try:
            page = context.new_page()
            page.goto(site + "/embed?gene=STAT3&limit=3")
            wait_for_hits(page, "#preview-widget", 3)
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            path = artefacts / f"embed-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000
        finally:
            context.close()
