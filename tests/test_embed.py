"""/embed, /embed/frame and the widget's files, through Flask's test client."""

from __future__ import annotations

import gzip
import html.parser
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from indexer import pipeline
from server.search.models import SearchRequest
from server.web import create_app
from server.web.embed import (
    WIDGET_FILES,
    WIDGET_MAJOR,
    WIDGET_SCRIPT,
    compressed_size,
    snippet_parts,
)
from tests.conftest import STAT3_RECORD, sample_path

SCRIPT_PAYLOAD = "<script>alert(1)</script>"
ATTRIBUTE_PAYLOAD = '"><img src=x onerror=alert(1)>'
MAX_COMPRESSED_BYTES = 15_000


def write_payload_record(folder: Path) -> str:
    """A copy of a real STAT3 record whose caption and titles carry script payloads."""
    text = sample_path(STAT3_RECORD).read_text(encoding="utf-8")
    record = yaml.safe_load(text.split("\n---", 1)[0].removeprefix("---\n"))
    record["figtitle"] = f"STAT3 {SCRIPT_PAYLOAD} title {ATTRIBUTE_PAYLOAD}"
    record["papertitle"] = f"Paper {ATTRIBUTE_PAYLOAD} {SCRIPT_PAYLOAD}"
    record["caption"] = f"Caption {SCRIPT_PAYLOAD} before STAT3 and {ATTRIBUTE_PAYLOAD} after."
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "payload.yaml").write_text(yaml.safe_dump(record), encoding="utf-8")
    return record["figid"]


def build_payload_index(tmp: Path) -> Path:
    write_payload_record(tmp / "records")
    report = pipeline.build([tmp / "records"], tmp / "index", workers=1)
    assert report.figures_indexed == 1, report.rejected
    return tmp / "index"


@pytest.fixture(scope="module")
def app_over() -> Iterator[Callable[[Path], Flask]]:
    """Apps over index roots; their index files are closed after the tests."""
    apps: list[Flask] = []

    def make(root: Path) -> Flask:
        apps.append(create_app(root, test_config={"TESTING": True}))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["pfocr"].close()


@pytest.fixture(scope="module")
def app(sample_index: Path, app_over: Callable[[Path], Flask]) -> Flask:
    return app_over(sample_index)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class _Tags(html.parser.HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, Any]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def frame_figids(page: str) -> list[str]:
    return [
        attrs["href"].removeprefix("/figures/")
        for tag, attrs in tags(page)
        if tag == "a" and "title" in (attrs.get("class") or "").split()
    ]


# -- the iframe form ----------------------------------------------------------------------


def test_frame_shows_the_services_hits_linked_to_their_figure_pages(app: Flask):
    client = app.test_client()
    response = client.get("/embed/frame?gene=STAT3&organism=Homo+sapiens&limit=3")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    expected = app.extensions["pfocr"].search(
        SearchRequest(filters={"gene": ["STAT3"], "organism": ["Homo sapiens"]}, per_page=3)
    )
    assert frame_figids(page) == [hit["figid"] for hit in expected["hits"]]
    assert len(expected["hits"]) == 3
    assert f"3 of {expected['total']} figures" in page
    # The visitor's own query keeps the embedder's filters.
    hidden = {a["name"]: a["value"] for t, a in tags(page) if a.get("type") == "hidden"}
    assert hidden == {"gene": "STAT3", "organism": "Homo sapiens", "limit": "3"}


def test_frame_all_figures_link_is_the_search_page_with_the_same_filters(client: FlaskClient):
    page = client.get("/embed/frame?q=signaling&gene=STAT3&limit=2").get_data(as_text=True)
    more = [a["href"] for t, a in tags(page) if t == "a" and a.get("class") == "more"]
    assert more == ["/?q=signaling&gene=STAT3"]
    total = re.search(r"All ([\d,]+) figures on PFOCR", page)
    assert total is not None
    search = client.get(more[0])
    assert search.status_code == 200
    assert f">{total.group(1)} figures</h2>" in search.get_data(as_text=True)


def test_every_path_the_widget_script_names_is_a_route_of_the_site(app: Flask):
    """The script builds its links by hand (it runs on other sites): each must exist."""
    script = (WIDGET_FILES / WIDGET_SCRIPT).read_text(encoding="utf-8")
    paths = set(re.findall(r"\$\{this\.server\}(/[^?`$]*)", script))
    assert paths == {"/", "/api/search"}
    adapter = app.url_map.bind("localhost")
    for path in paths:
        adapter.match(path, method="GET")  # raises NotFound for a path no route serves


def test_frame_highlights_matched_words(client: FlaskClient):
    page = client.get("/embed/frame?q=apoptosis&limit=1").get_data(as_text=True)
    assert "<mark>apoptosis</mark>" in page.lower()


def test_frame_says_when_nothing_matches(client: FlaskClient):
    page = client.get("/embed/frame?q=zzzznotaword").get_data(as_text=True)
    assert "No figures found." in page
    assert frame_figids(page) == []


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("limit=abc", "limit", "limit must be a whole number from 1 to 20, got &#39;abc&#39;"),
        ("limit=0", "limit", "limit must be a whole number from 1 to 20, got &#39;0&#39;"),
        ("limit=21", "limit", "limit must be a whole number from 1 to 20, got &#39;21&#39;"),
        ("limit=%C2%B2", "limit", "limit must be a whole number from 1 to 20, got &#39;²&#39;"),
        ("limit=1.5", "limit", "limit must be a whole number from 1 to 20, got &#39;1.5&#39;"),
        ("year_min=soon", "year_min", "year_min must be a whole number between 1000 and 9999"),
        ("year_min=2020&year_max=2010", "year_min", "year_min (2020) must not be after year_max"),
        ("gen=STAT3", "gen", "unknown parameter &#39;gen&#39; (did you mean &#39;gene&#39;?)"),
        ("q=a&q=b", "q", "q is given 2 times; give it once"),
        ("q=" + "x" * 1001, "q", "q is 1,001 characters long; at most 1,000 are allowed"),
    ],
)
def test_frame_answers_a_bad_parameter_with_an_html_400_naming_it(
    client: FlaskClient, query: str, parameter: str, message: str
):
    response = client.get(f"/embed/frame?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"Parameter <code>{parameter}</code> is wrong: {message}" in page
    assert 'role="alert"' in page


def test_embed_page_answers_a_bad_parameter_with_400_and_keeps_what_was_typed(
    client: FlaskClient,
):
    response = client.get("/embed?gene=TP53&limit=50")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Parameter <code>limit</code> is wrong: limit must be a whole number" in page
    fields = {a["name"]: a.get("value") for t, a in tags(page) if t == "input"}
    assert fields["gene"] == "TP53"
    assert fields["limit"] == "50"


# -- record text stays text ---------------------------------------------------------------


def test_snippet_parts_keep_only_mark_and_unescape_the_rest():
    assert snippet_parts("a &lt;b&gt; <mark>STAT3</mark> &amp; &quot;x&quot;") == [
        ("a <b> ", False),
        ("STAT3", True),
        (' & "x"', False),
    ]
    # Whatever else looks like markup comes back as text, for the template to escape.
    assert snippet_parts("<img src=x onerror=alert(1)><mark>y</mark>") == [
        ("<img src=x onerror=alert(1)>", False),
        ("y", True),
    ]


def test_frame_shows_script_payloads_in_a_record_as_text(
    tmp_path: Path, app_over: Callable[[Path], Flask]
):
    client = app_over(build_payload_index(tmp_path)).test_client()
    page = client.get("/embed/frame?q=STAT3").get_data(as_text=True)
    assert len(frame_figids(page)) == 1
    assert "<script" not in page
    assert "<img" not in page
    assert "onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<mark>STAT3</mark>" in page  # highlighting survives next to the payloads
    assert [t for t, _ in tags(page)].count("img") == 0


def test_snippets_escape_the_options_they_quote(client: FlaskClient):
    response = client.get("/embed/snippet", query_string={"q": '"><script>x</script>'})
    assert response.status_code == 200
    body = response.get_json()
    assert body["attributes"] == {"q": '"><script>x</script>'}
    assert 'q="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in body["script"]
    assert body["script"].count("<script") == 1  # ours, the one loading the widget
    assert "<script>x" not in body["iframe"]


def test_snippets_of_chosen_options(client: FlaskClient):
    body = client.get("/embed/snippet?gene=STAT3&organism=Homo+sapiens&year_min=2015").get_json()
    assert body["script"] == (
        '<script src="http://localhost/embed/v1/pfocr-search.js" defer></script>\n'
        '<pfocr-search gene="STAT3" organism="Homo sapiens" year-min="2015"></pfocr-search>'
    )
    assert body["frame_url"] == (
        "http://localhost/embed/frame?gene=STAT3&organism=Homo+sapiens&year_min=2015"
    )
    assert f'src="{body["frame_url"].replace("&", "&amp;")}"' in body["iframe"]


def test_snippets_of_a_bad_option_answer_the_api_error_shape(client: FlaskClient):
    response = client.get("/embed/snippet?limit=x")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["parameter"] == "limit"
    assert error["message"] == "limit must be a whole number from 1 to 20, got 'x'"


# -- no inline code, framing rules --------------------------------------------------------


@pytest.mark.parametrize("path", ["/embed", "/embed/frame?gene=STAT3", "/embed/frame?limit=x"])
def test_pages_need_no_inline_script_or_style(client: FlaskClient, path: str):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    for tag, attrs in tags(response.get_data(as_text=True)):
        assert tag != "style"
        assert "style" not in attrs
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), "an inline script"


def test_only_the_frame_may_be_framed_by_other_sites(client: FlaskClient):
    frame = client.get("/embed/frame")
    assert frame.headers["Content-Security-Policy"].endswith("frame-ancestors *")
    assert "script-src" not in frame.headers["Content-Security-Policy"]  # default-src 'none'
    assert "X-Frame-Options" not in frame.headers
    page = client.get("/embed")
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert page.headers["X-Frame-Options"] == "DENY"


def test_embed_page_is_a_page_of_the_site_and_the_frame_has_no_chrome(client: FlaskClient):
    site = client.get("/about").get_data(as_text=True)
    page = client.get("/embed").get_data(as_text=True)
    frame = client.get("/embed/frame?gene=STAT3").get_data(as_text=True)

    def chrome(html: str) -> list[tuple[str, str]]:
        wanted = {"site-header", "site-footer", "skip-link", "site-nav"}
        return [(t, a["class"]) for t, a in tags(html) if a.get("class") in wanted]

    def stylesheets(html: str) -> list[str]:
        return [a["href"] for t, a in tags(html) if t == "link" and a.get("rel") == "stylesheet"]

    assert chrome(page) == chrome(site) != []
    assert stylesheets(page)[0] == stylesheets(site)[0]  # the site's own stylesheet, hashed
    assert ("a", "/embed") in [(t, a.get("href")) for t, a in tags(page)]  # in the nav
    assert chrome(frame) == []
    assert [u for u in stylesheets(frame) if "site.css" in u] == []


def test_embed_page_without_an_index_still_explains(
    tmp_path: Path, app_over: Callable[[Path], Flask]
):
    client = app_over(tmp_path / "none").test_client()
    response = client.get("/embed")
    assert response.status_code == 200
    assert "Script and custom element" in response.get_data(as_text=True)


# -- the widget's files -------------------------------------------------------------------


def test_widget_script_is_small_once_compressed(client: FlaskClient):
    script = (WIDGET_FILES / WIDGET_SCRIPT).read_bytes()
    compressed = len(gzip.compress(script, compresslevel=9))
    assert compressed < MAX_COMPRESSED_BYTES, f"{compressed:,} bytes compressed"
    assert compressed_size(WIDGET_SCRIPT) == compressed
    page = client.get("/embed").get_data(as_text=True)
    assert f"({round(compressed / 1000, 1)}&nbsp;kB" in page  # the page says how small


# The widget's theme properties and the site's tokens (site.css) they default to.
SITE_COLOURS = {
    "text": "ink",
    "muted": "ink-faint",
    "accent": "accent",
    "border": "line",
    "mark": "mark",
    "focus": "focus",
}


def test_widget_and_frame_default_to_the_sites_colours():
    """One product: the widget and the frame look like the site until an embedder themes them."""
    site_css = (WIDGET_FILES.parent / "site.css").read_text(encoding="utf-8")
    tokens = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{3,6});", site_css))
    script = (WIDGET_FILES / WIDGET_SCRIPT).read_text(encoding="utf-8")
    defaults = re.findall(r"var\(--pfocr-([\w-]+), (#[0-9a-f]{3,6})\)", script)
    assert {name for name, _ in defaults} == set(SITE_COLOURS) | {"background", "accent-text"}
    for name, colour in defaults:
        if name in SITE_COLOURS:
            assert colour == tokens[SITE_COLOURS[name]], f"--pfocr-{name}"
    # The frame (no script, so no custom properties from a host) uses the same colours.
    frame_css = (WIDGET_FILES / "embed-frame.css").read_text(encoding="utf-8")
    assert set(re.findall(r"#[0-9a-f]{3,6}", frame_css)) <= set(
        re.findall(r"#[0-9a-f]{3,6}", script)
    )


def test_script_version_matches_the_major_version_in_its_url():
    script = (WIDGET_FILES / WIDGET_SCRIPT).read_text(encoding="utf-8")
    version = re.search(r'const VERSION = "(\d+)\.(\d+)\.(\d+)";', script)
    assert version is not None
    assert f"v{version.group(1)}" == WIDGET_MAJOR
    assert script.startswith(f"/*! <pfocr-search> {'.'.join(version.groups())}:")


def test_stable_script_url_is_cached_for_a_day_and_revalidated(client: FlaskClient):
    with client.get("/embed/v1/pfocr-search.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.data == (WIDGET_FILES / WIDGET_SCRIPT).read_bytes()
        assert response.headers["Cache-Control"].startswith("public, max-age=86400")
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        etag = response.get_etag()[0]
    with client.get("/embed/v1/pfocr-search.js", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


@pytest.mark.parametrize("path", ["/embed", "/embed/frame?gene=STAT3"])
def test_our_pages_name_widget_files_as_the_site_names_its_own(client: FlaskClient, path: str):
    """One way for our pages: ``static_url`` (content hash, a year), as site.css is linked."""
    page = client.get(path).get_data(as_text=True)
    urls = [a.get("src") or a.get("href") for t, a in tags(page) if t in ("script", "link")]
    widget_urls = [url for url in urls if url.startswith("/static/widget/")]
    assert widget_urls and len(widget_urls) == len([u for u in urls if "site.css" not in u])
    for url in widget_urls:
        assert re.fullmatch(r"/static/widget/[\w.-]+\?v=[0-9a-f]{12}", url)
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            name = url.split("?")[0].rsplit("/", 1)[1]
            assert response.data == (WIDGET_FILES / name).read_bytes()


def test_widget_files_without_their_hash_are_left_to_revalidate(client: FlaskClient):
    with client.get("/static/widget/pfocr-search.js?v=000000000000") as stale:
        assert stale.status_code == 200
        assert "immutable" not in (stale.headers.get("Cache-Control") or "")


@pytest.mark.parametrize(
    "path",
    [
        "/embed/v1/nothing.js",
        "/embed/static/0000000000000000/nothing.js",
        # The one-time digest URLs are gone: our pages use static_url, other sites /v1/.
        "/embed/static/0000000000000000/pfocr-search.js",
        "/embed/v1/..%2F..%2Fembed.py",
        "/embed/v2/pfocr-search.js",
        "/embed/v1/embed-page.js",  # only the script is for other sites
    ],
)
def test_only_the_widget_script_is_served_under_embed(client: FlaskClient, path: str):
    with client.get(path) as response:
        assert response.status_code == 404
