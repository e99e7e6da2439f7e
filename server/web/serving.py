"""Run the app under waitress, a production WSGI server (Flask's own is for development)."""

from __future__ import annotations

import os
import sys

from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from server.web import create_app

DEFAULT_HOST = "127.0.0.1"  # local only unless asked: the API has no authentication
DEFAULT_PORT = 5000
# Whoosh is pure Python, so threads share the GIL. Costly queries run one at a time (the
# service makes the others wait, briefly), so threads beyond the waiting ones stay free
# for quick requests and /healthz instead of queueing behind them.
DEFAULT_THREADS = 8
# A thread waiting for the GIL gets it after this long at most (Python's default: 5 ms):
# shorter lets /healthz and quick queries take their turns sooner beside a costly one.
GIL_SWITCH_SECONDS = 0.001


def make_server(
    index_root: str | os.PathLike[str] | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    threads: int = DEFAULT_THREADS,
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server for the app over ``index_root``, bound but not yet serving."""
    app = create_app(index_root)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="pfocr",
        # Flask answers oversized bodies in the API's error shape; this plain-text backstop
        # only bounds what waitress buffers (to a temp file) before Flask sees the request.
        max_request_body_size=16 * app.config["MAX_CONTENT_LENGTH"],
    )


def serve(
    index_root: str | os.PathLike[str] | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    threads: int = DEFAULT_THREADS,
) -> None:
    """Serve the API on ``host:port`` until interrupted."""
    server = make_server(index_root, host=host, port=port, threads=threads)
    # waitress logs its own listen line at INFO, which no handler shows by default.
    print(f"Serving PFOCR search on http://{server.effective_host}:{server.effective_port}")
    try:
        server.run()  # returns on Ctrl-C, having stopped its worker threads
    finally:
        server.close()
