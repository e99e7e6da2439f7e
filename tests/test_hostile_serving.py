"""Hostile traffic against `pfocr serve` (gunicorn) and behind ``deploy/nginx.conf``: the
API fuzzed from its OpenAPI document, the limits (bodies, URLs, headers, paging, slow
clients, request rate), security headers on every page, and no stack trace anywhere.

One server (2 workers) and one nginx for the whole module, on 127.0.0.1, stopped by pid.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from indexer import pipeline
from server.web import MAX_BODY_BYTES
from tests.conftest import SAMPLE_RECORDS, STAT3_RECORD
from tests.servers import Nginx, Served, fetch, nginx, pfocr_serve

# Per API operation, valid and invalid: bounded (~10 s); PFOCR_FUZZ_EXAMPLES for more.
EXAMPLES = int(os.environ.get("PFOCR_FUZZ_EXAMPLES", "20"))
SLOW_CLIENT_LIMIT = 20  # seconds: the server's (10 s) and nginx's (10 s) with slack
PAGES = [
    "/",
    "/?q=insulin&organism=Homo+sapiens",
    f"/figures/{STAT3_RECORD}",
    "/genes/STAT3",
    "/about",
    "/embed",
    "/embed/frame?gene=STAT3",
]
LENIENCY_CHECKS = [positive_data_acceptance, negative_data_rejection]
TRACE_MARKS = ("Traceback", 'File "/', "site-packages", "werkzeug", "gunicorn/")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "index"
    report = pipeline.build([SAMPLE_RECORDS], root, workers=1)
    assert report.figures_rejected == 0
    return root


@pytest.fixture(scope="module")
def served(index: Path) -> Iterator[Served]:
    with pfocr_serve(index, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with nginx(tmp_path_factory.mktemp("nginx"), [served.url.removeprefix("http://")]) as server:
        yield server


def operations(served: Served) -> list:
    schema = schemathesis.openapi.from_url(f"{served.url}/api/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_fuzzed_requests_get_no_5xx_and_documented_answers(served: Served):
    """schemathesis draws requests from the OpenAPI document, valid and not, for every
    operation: no answer is a 5xx, every answer is as documented (status, content type,
    headers, body schema) and none carries a stack trace."""
    found = operations(served)
    assert {(op.method.upper(), op.path) for op in found} >= {
        ("GET", "/api/search"),
        ("POST", "/api/search"),
        ("GET", "/api/genes/{text}"),
        ("GET", "/api/figures/{figid}"),
        ("GET", "/api/suggest"),
        ("GET", "/api/status"),
        ("GET", "/healthz"),
    }
    for operation, mode in itertools.product(found, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run: a failure is reproducible
            database=None,
        )
        def check(case) -> None:
            response = case.call(base_url=served.url, timeout=30)
            # Not checked: that a valid request is accepted (some rules span parameters,
            # year_min <= year_max, which OpenAPI cannot say) and that an invalid one is
            # refused (blank values count as not given, as forms send them; a filter's
            # limit counts distinct values). Every answer is checked against the document.
            case.validate_response(response, excluded_checks=LENIENCY_CHECKS)
            assert not any(mark in response.text for mark in TRACE_MARKS)

        try:
            check()
        except Unsatisfiable:  # an operation without parameters has no invalid request
            assert mode is GenerationMode.NEGATIVE, operation.path


def raw_request(url: str, data: bytes) -> bytes:
    """Send ``data`` as is on a new connection to ``url``'s host; the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def error_of(body: bytes) -> dict:
    error = json.loads(body)["error"]
    assert set(error) == {"status", "code", "parameter", "message", "position"}
    return error


@pytest.fixture(params=["gunicorn", "nginx"])
def base(request: pytest.FixtureRequest) -> str:
    if request.param == "gunicorn":
        return request.getfixturevalue("served").url
    return request.getfixturevalue("proxy").url


def test_an_oversized_body_is_413_in_the_error_shape(base: str):
    status, _, body = fetch(f"{base}/api/search", data=b" " * (MAX_BODY_BYTES + 1))
    assert status == 413
    assert error_of(body)["code"] == "body_too_large"


def test_an_overlong_url_is_414_in_the_error_shape(base: str):
    status, _, body = fetch(f"{base}/api/search?q={'a' * 9000}")
    assert status == 414
    assert error_of(body)["code"] == "uri_too_long"


def test_an_oversized_header_is_refused_in_the_error_shape(base: str):
    status, _, body = fetch(f"{base}/api/status", headers={"X-Big": "b" * 9000})
    assert status in (400, 431)
    assert error_of(body)["status"] == status


@pytest.mark.parametrize(("query", "parameter"), [("q=" + "x" * 1001, "q"), ("page=10001", "page")])
def test_query_length_and_page_depth_are_bounded(base: str, query: str, parameter: str):
    status, _, body = fetch(f"{base}/api/search?{query}")
    assert status == 400
    assert error_of(body)["parameter"] == parameter


def test_a_client_sending_a_byte_a_second_is_dropped_soon(served: Served, proxy: Nginx):
    """Against gunicorn and nginx at once (each gives a request 10 s), while a normal
    client is answered as usual meanwhile."""
    request = b"GET /api/search?q=insulin HTTP/1.1\r\nHost: pfocr\r\nX-Slow: " + b"s" * 60

    def drip(url: str) -> float:
        host, port = url.removeprefix("http://").split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.settimeout(1)
            for byte in request:
                try:
                    conn.sendall(bytes([byte]))
                    if conn.recv(4096) == b"":
                        break  # closed by the server
                except TimeoutError:
                    continue  # nothing yet: the next byte
                except OSError:
                    break  # reset by the server
                if time.monotonic() - started > 2 * SLOW_CLIENT_LIMIT:
                    break
        return time.monotonic() - started

    with ThreadPoolExecutor(2) as pool:
        held = list(pool.map(drip, [served.url, proxy.url]))
        assert fetch(f"{served.url}/healthz")[0] == 200  # the others are served meanwhile
    assert all(seconds < SLOW_CLIENT_LIMIT for seconds in held), held


def test_nginx_limits_each_client_address(proxy: Nginx):
    """127.0.0.1 is exempt (health checks, the benchmark); another address is limited
    to 20 requests a second with bursts of 40."""
    host, port = proxy.url.removeprefix("http://").split(":")
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()

    def status_from(source: str) -> int:
        with socket.create_connection(
            (host, int(port)), timeout=10, source_address=(source, 0)
        ) as c:
            c.sendall(request)
            return int(c.recv(64).split(b" ")[1])

    limited = [status_from("127.0.0.2") for _ in range(60)]
    assert limited.count(429) >= 10 and limited[:40].count(200) >= 35
    assert all(status_from("127.0.0.1") == 200 for _ in range(60))


def test_nginx_compresses_json_and_pages(proxy: Nginx):
    for path in ("/api/search?q=signaling", "/", "/api/openapi.json"):
        status, headers, _ = fetch(proxy.url + path, headers={"Accept-Encoding": "gzip"})
        assert (status, headers.get("Content-Encoding")) == (200, "gzip"), path


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_are_kept_behind_nginx(served: Served, proxy: Nginx, path: str):
    direct = fetch(served.url + path)
    behind = fetch(proxy.url + path)
    assert direct[0] == behind[0] == 200
    for header in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
    ):
        assert behind[1].get(header) == direct[1].get(header), (path, header)
    assert behind[1]["Content-Security-Policy"]
    assert not any(mark in behind[2].decode() for mark in TRACE_MARKS)
    assert "Server" not in behind[1] or "/" not in behind[1]["Server"]  # no version told


def test_a_static_file_is_cached_by_nginx(proxy: Nginx):
    html = fetch(proxy.url + "/")[2].decode()
    start = html.index("/static/site.css?v=")
    path = html[start : html.index('"', start)]

    def caching() -> list[str]:
        log = (proxy.prefix / "logs" / "access.log").read_text().splitlines()
        return [json.loads(line)["cache"] for line in log if path in line]

    before = len(caching())
    statuses = [fetch(proxy.url + path)[0] for _ in range(2)]
    assert statuses == [200, 200]
    deadline = time.monotonic() + 10  # nginx logs a request after its last byte is sent
    while len(caching()) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    found = caching()[before:]
    assert len(found) == 2 and found[-1] == "HIT", found


def test_malformed_requests_get_no_stack_trace(served: Served, proxy: Nginx):
    for url in (served.url, proxy.url):
        for data in (
            b"GET /api/search?q=%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Connection: close\r\n\r\n[[[[[",
            b"BREW /api/search HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /api/search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\nzz\r\n",
            b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ):
            answer = raw_request(url, data)
            status = int(answer.split(b" ", 2)[1])
            assert status < 500, (url, data, answer[:300])
            assert not any(mark.encode() in answer for mark in TRACE_MARKS), answer[:500]
