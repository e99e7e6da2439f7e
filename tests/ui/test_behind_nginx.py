"""The site and the widget as users get them in production: `pfocr serve` (gunicorn)
behind Debian's nginx with ``deploy/nginx.conf``. Pages and the widget run under their
Content-Security-Policy with no violation in the console, and no script error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STAT3_RECORD
from tests.servers import nginx, pfocr_serve
from tests.ui.test_widget import record_csp_violations, wait_for_hits

PAGES = [
    "/?q=insulin",
    f"/figures/{STAT3_RECORD}",
    "/genes/STAT3",
    "/about",
    "/embed",
    "/embed/frame?gene=STAT3",
]


@pytest.fixture(scope="module")
def production(ui_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        pfocr_serve(ui_index, workers=2) as served,
        nginx(tmp_path_factory.mktemp("nginx"), [served.url.removeprefix("http://")]) as proxy,
    ):
        yield proxy.url


@pytest.mark.parametrize("path", PAGES)
def test_pages_run_under_their_policy_behind_nginx(page: Any, production: str, path: str):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = record_csp_violations(page)
    response = page.goto(production + path)
    assert response.status == 200
    assert response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    if path.startswith("/?q="):  # the page's script works: autocomplete answers
        page.locator("input[name=q]").first.fill("STA")
        page.locator("[role=option]").first.wait_for()
    assert violations == [] and errors == []


def test_the_widget_on_another_site_runs_behind_nginx(
    page: Any, production: str, other_origin: Callable[[str], str]
):
    policy = f"default-src 'none'; script-src {production}; connect-src {production}"
    url = other_origin(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>
<meta http-equiv="Content-Security-Policy" content="{policy}">
<script src="{production}/embed/v1/pfocr-search.js" defer></script>
</head><body><pfocr-search id="w" gene="STAT3" limit="2"></pfocr-search></body></html>"""
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = record_csp_violations(page)
    page.goto(url)
    wait_for_hits(page, "#w", 2)
    assert violations == [] and errors == []
