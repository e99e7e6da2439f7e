"""The wheel works on its own: built, installed (not editable) into a fresh virtual
environment, it indexes the bundled sample and serves the site from its packaged templates.

Slow (~30-60 s: a build and a pip install); every wait is bounded and the server is
stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_RECORDS

INSTALL_TIMEOUT = 600  # seconds; pip may have to fetch the dependencies
COMMAND_TIMEOUT = 120
START_TIMEOUT = 60
# What the wheel is built from: the project, without local state.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "index_data", "out"
)
SERVING_LINE = re.compile(r"Serving PFOCR search on (http://127\.0\.0\.1:\d+)")


def run(command: list[str | Path], cwd: Path, timeout: int = COMMAND_TIMEOUT) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_environment() -> dict[str, str]:
    """This environment less anything that would let the source tree be imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"  # the serving line must arrive before the process ends
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh virtual environment with the wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "--no-deps", "--quiet", "-w", dist, source], work, INSTALL_TIMEOUT)
    (wheel,) = dist.glob("pfocr_search-*.whl")
    environment = work / "venv"
    venv.create(environment, with_pip=True)
    bin_dir = environment / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", wheel], work, INSTALL_TIMEOUT)
    return bin_dir


def test_installed_package_is_not_the_source_tree(installed: Path, tmp_path: Path):
    where = run(
        [installed / "python", "-c", "import server.web; print(server.web.__file__)"], tmp_path
    )
    assert Path(where.strip()).is_relative_to(installed.parent)
    templates = Path(where.strip()).parent / "templates" / "search.html"
    assert templates.is_file()


def test_installed_package_ships_the_linguistic_data(installed: Path, tmp_path: Path):
    """The gene nomenclature, spelling pairs and query stop words load from the wheel
    (indexer/data/README.md), without the scripts that derive them."""
    script = "\n".join(
        [
            "from indexer.nomenclature import GeneNomenclature, TABLE",
            "from indexer.language import QUERY_STOP_WORDS, SPELLINGS, american_spelling",
            "print(TABLE.parent)",
            "print(GeneNomenclature.load().lookup('HER2')[0].symbol)",
            "print(american_spelling('tumour'), 'what' in QUERY_STOP_WORDS)",
        ]
    )
    data, gene, words = run([installed / "python", "-c", script], tmp_path).splitlines()
    assert Path(data).is_relative_to(installed.parent)
    assert (gene, words) == ("ERBB2", "tumor True")
    shipped = sorted(path.name for path in Path(data).iterdir())
    assert shipped == ["ncbi_human_genes.tsv.gz", "query_stopwords.txt", "spelling_variants.tsv"]


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the installed `pfocr serve` over an index built by `pfocr build`."""
    work = tmp_path_factory.mktemp("served")
    index = work / "index"
    run([installed / "pfocr", "build", SAMPLE_RECORDS, "--index", index, "--quiet"], work)
    server = subprocess.Popen(
        # Port 0: the kernel picks a free one, and the serving line names it.
        [
            str(installed / "pfocr"),
            "serve",
            "--index",
            str(index),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=work,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=copy_lines, args=(server, lines), daemon=True)
    reader.start()
    try:
        yield wait_for_serving_line(server, lines)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        reader.join(timeout=10)  # the pipe ends with the process
        if server.stdout:
            server.stdout.close()


def copy_lines(server: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in server.stdout or ():
        lines.put(line)


def wait_for_serving_line(server: subprocess.Popen[str], lines: queue.Queue[str]) -> str:
    seen = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert server.poll() is None, f"pfocr serve exited:\n{''.join(seen)}"
            continue
        seen.append(line)
        if found := SERVING_LINE.search(line):
            return found.group(1)
    raise AssertionError(f"pfocr serve did not start in {START_TIMEOUT} s:\n{''.join(seen)}")


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers["Content-Type"], reply.read().decode("utf-8")


def test_front_page_is_rendered_from_the_packaged_templates(served: str):
    status, content_type, html = get(f"{served}/")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert '<h1 id="search-title">Search pathway figures</h1>' in html
    assert "214 figures" in html  # filled in from the index: a real render
    stylesheet = re.search(r'href="(/static/site\.css\?v=[^"]+)"', html)
    assert stylesheet, "the page links no packaged stylesheet"
    status, content_type, _ = get(f"{served}{stylesheet.group(1)}")
    assert (status, content_type) == (200, "text/css; charset=utf-8")


def test_search_answers_json(served: str):
    status, content_type, text = get(f"{served}/api/search?q=insulin")
    assert (status, content_type) == (200, "application/json")
    result = json.loads(text)
    assert result["query"]["q"] == "insulin"
    assert result["total"] > 0
    assert "insulin" in json.dumps(result["hits"][0]).lower()
