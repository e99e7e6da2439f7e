"""The bare apps ``bench_http_floor`` serves under gunicorn: the least a WSGI app and a
Flask app can do to answer, so the table shows what gunicorn and Flask cost alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

BODY = b'{"status":"ok"}\n'


def wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


flask_hello = Flask(__name__)


@flask_hello.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
