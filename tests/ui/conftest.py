"""Browser tests: Debian's Chromium (``/usr/bin/chromium``) driven by Playwright.

Playwright is used with ``executable_path`` only: it never downloads a browser. Every
server here listens on 127.0.0.1; the browser is started with the flags that keep it off
the network (no background networking, component updates or sync).

Fixtures:

- ``ui_index``: an index root built once from the bundled sample records;
- ``site``: the base URL of the app over ``ui_index``, served by waitress on a free port;
- ``serve_app(root)``: serve another app (another index) the same way;
- ``other_origin(html)``: serve a static HTML page from a second port (another origin);
- ``browser`` / ``page`` / ``page_no_js``: a headless Chromium and fresh pages;
- ``artefacts``: a temporary folder for screenshots (never inside the repository);
- ``site_page`` / ``no_js_page``: pages that reach 127.0.0.1 only (as if images were
  blocked), the first with a :class:`Watch` of its console errors and page errors.
"""

from __future__ import annotations

import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from indexer import pipeline
from tests.conftest import SAMPLE_RECORDS

LOCAL = "http://127.0.0.1:"
CHROMIUM = os.environ.get("PFOCR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

playwright_sync = pytest.importorskip("playwright.sync_api")

if not Path(CHROMIUM).exists():  # .ci/run installs it; say so loudly rather than skip
    raise RuntimeError(f"{CHROMIUM} not found: install Debian's chromium (see .ci/run)")


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui_index")
    report = pipeline.build([SAMPLE_RECORDS], root, workers=1)
    assert report.figures_rejected == 0, report.rejected
    return root


@pytest.fixture(scope="session")
def serve_app() -> Iterator[Callable[..., str]]:
    """Serve an app over an index root on a free 127.0.0.1 port; returns its base URL."""
    from server.web.serving import make_server, serve_in_thread, stop_in_thread

    servers: list[Any] = []

    def start(root: Path) -> str:
        server = make_server(root, port=0)
        host, port = server.socket.getsockname()[:2]
        assert host == "127.0.0.1"
        servers.append((server, serve_in_thread(server)))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        stop_in_thread(server, thread)


@pytest.fixture(scope="session")
def site(ui_index: Path, serve_app: Callable[..., str]) -> str:
    return serve_app(ui_index)


@pytest.fixture(scope="session")
def other_origin() -> Iterator[Callable[[str], str]]:
    """Serve an HTML page from its own port (a different origin from ``site``)."""
    folder = Path(tempfile.mkdtemp(prefix="pfocr-origin-"))
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(folder), **k
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    count = 0

    def publish(html: str) -> str:
        nonlocal count
        count += 1
        name = f"page{count}.html"
        (folder / name).write_text(html, encoding="utf-8")
        return f"http://127.0.0.1:{httpd.server_address[1]}/{name}"

    yield publish
    httpd.shutdown()
    httpd.server_close()  # shutdown() only stops the loop; this closes the socket
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def page_no_js(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Screenshots go here (``PFOCR_ARTEFACTS`` or a temporary folder), never into git."""
    folder = Path(os.environ.get("PFOCR_ARTEFACTS") or tempfile.mkdtemp(prefix="pfocr-ui-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def offline(context: Any) -> list[str]:
    """Abort every request to another host; returns the list of what was blocked."""
    blocked: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return blocked


def serious_violations(page: Any, options: dict[str, Any] | None = None) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = Axe().run(page, options={"resultTypes": ["violations"], **(options or {})})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


class Watch:
    """Console errors (CSP violations among them), dialogs and page errors of one page."""

    def __init__(self, page: Any) -> None:
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def problems(self) -> list[str]:
        # Blocked image requests fail on purpose; anything else is a problem.
        console = [m for m in self.console if "net::ERR_FAILED" not in m]
        return console + self.errors + [f"dialog: {d}" for d in self.dialogs]


@pytest.fixture
def site_page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    offline(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page, Watch(page)
    context.close()


@pytest.fixture
def no_js_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    offline(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
