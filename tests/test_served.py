"""Benchmarks and tests take a served index as ready once every worker has answered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.served import every_worker_answered


@pytest.fixture
def status_server() -> Iterator[tuple[str, list[dict]]]:
    """A stand-in on 127.0.0.1 whose ``/healthz`` answers, in turn, what the test
    queues: the worker pid and status a real worker would say."""
    answers: list[dict] = []

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answers.pop(0)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_ready_only_once_each_worker_has_answered(status_server) -> None:
    """One worker answering again and again says nothing of the other, still warming up
    (it accepts no connection meanwhile); nor does a degraded answer."""
    url, answers = status_server
    answers += [
        {"status": "ok", "worker_pid": 11},
        {"status": "ok", "worker_pid": 11},
        {"status": "degraded", "worker_pid": 12},
        {"status": "ok", "worker_pid": 12},
    ]
    answered: set[int] = set()
    seen = [every_worker_answered(url, {11, 12}, 2, answered) for _ in range(4)]
    assert seen == [False, False, False, True] and answered == {11, 12}


def test_not_ready_while_the_master_has_not_started_every_worker(status_server) -> None:
    url, answers = status_server
    answered = {11}
    assert not every_worker_answered(url, {11}, 2, answered)
    assert answers == []  # nobody was asked
