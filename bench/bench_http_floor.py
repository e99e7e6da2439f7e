"""What a request costs over HTTP on this machine before any search, layer by layer.

``bench_search`` times each query over HTTP against ``pfocr serve`` beside tantivy in
process; this says how much of such a time no engine can take off. The same client (one
kept-alive libcurl connection, as ``bench_search``'s) asks, in alternating rounds:

- ``nginx``: Debian's nginx answering ``return 200`` (skipped where it is not
  installed): the floor of a compiled server on this machine;
- ``gunicorn, WSGI``: a WSGI function answering ``ok`` under gunicorn's threaded worker
  (``gthread``, one worker, our thread count): gunicorn alone;
- ``gunicorn, Flask``: the same with a one-route Flask app: the framework beside it;
- ``pfocr serve``: ``pfocr serve --workers 1`` over ``--index``: ``/healthz`` (our
  app, worker and hooks, no search) and searches answered from the answers cache (the
  web layer of a search: its parameters, JSON and headers, without the engine).

Each is timed back to back and after an idle gap (``--gap``, 20 ms by default). On a
virtual machine an idle gap makes the same work several times slower (the cores' caches
are cold and the host must wake a halted virtual CPU), and ``bench_search``'s HTTP
requests come after the other engines' turns, so its idle column is the one to compare.
Medians, with the 10th-90th percentiles, over every round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.bench_search import Client
from bench.served import ROOT, free_port, pfocr_serve, stop, wait
from server.web.serving import DEFAULT_THREADS

NGINX = os.environ.get("PFOCR_NGINX", "/usr/sbin/nginx")
START_TIMEOUT = 60
SERVE_LOG = ROOT / "bench" / "out" / "http-floor-serve.log"  # pfocr serve's output, appended
# Searches answered from the answers cache: one hit (the web layer's fixed cost) and a
# page of twenty (with their genes: the JSON of a whole page).
CACHED_SEARCHES = ("/api/search?q=signaling&per_page=1", "/api/search?q=signaling&per_page=20")
NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;
  fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


@dataclass(frozen=True)
class Target:
    """One path of one server, as the table names it."""

    name: str
    port: int
    path: str


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    gaps = (0.0, args.gap / 1000)
    with (
        tempfile.TemporaryDirectory(prefix="pfocr-floor-") as scratch,
        _servers(Path(scratch), args.index, args.threads) as targets,
    ):
        times = _measure(targets, gaps, args.rounds, args.requests)
    rows = _rows(targets, gaps, times)
    print(_table(rows, args))
    if args.json:
        args.json.write_text(json.dumps({"gap_ms": args.gap, "rows": rows}, indent=2))
    return 0


# -- the servers --------------------------------------------------------------------------


@contextlib.contextmanager
def _servers(scratch: Path, index: Path, threads: int) -> Iterator[list[Target]]:
    """Every server started, on 127.0.0.1, and stopped by its process on leaving."""
    with contextlib.ExitStack() as stack:
        targets = []
        if Path(NGINX).exists():
            port = stack.enter_context(_nginx(scratch / "nginx"))
            targets.append(Target("nginx", port, "/"))
        for label, app in (("WSGI", "wsgi_hello"), ("Flask", "flask_hello")):
            port = stack.enter_context(_gunicorn(f"bench.http_floor_apps:{app}", threads))
            targets.append(Target(f"gunicorn, {label}", port, "/healthz"))
        SERVE_LOG.parent.mkdir(parents=True, exist_ok=True)  # kept: it says why a start failed
        served = stack.enter_context(pfocr_serve(index, 1, SERVE_LOG))
        for path in ("/healthz", *CACHED_SEARCHES):
            targets.append(Target("pfocr serve", served.port, path))
        yield targets


@contextlib.contextmanager
def _nginx(prefix: Path) -> Iterator[int]:
    (prefix / "tmp").mkdir(parents=True)
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    command = [NGINX, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait(lambda: _answers(port, "/"), START_TIMEOUT, "nginx", process)
        yield port
    finally:
        stop(process)


@contextlib.contextmanager
def _gunicorn(app: str, threads: int) -> Iterator[int]:
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--worker-class", "gthread", "--threads", str(threads), "--keep-alive", "5",
        "--no-control-socket", app,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait(lambda: _answers(port, "/healthz"), START_TIMEOUT, f"gunicorn {app}", process)
        yield port
    finally:
        stop(process)


def _answers(port: int, path: str) -> bool:
    import pycurl  # the bench extra's, as bench_search's client

    client = Client(port)
    try:
        client.time(path, settle_first=False)
        return True
    except pycurl.error:  # not listening yet
        return False
    finally:
        client.close()


# -- the measurement ----------------------------------------------------------------------


def _measure(
    targets: list[Target], gaps: tuple[float, ...], rounds: int, requests: int
) -> dict[tuple[int, float], list[float]]:
    """Milliseconds per request, by (target, gap): each round asks every target at every
    gap in turn, so that a slow minute of the machine falls on all of them."""
    times: dict[tuple[int, float], list[float]] = {
        (i, gap): [] for i in range(len(targets)) for gap in gaps
    }
    clients = [Client(t.port) for t in targets]
    try:
        for i, target in enumerate(targets):  # connected, and a search's answer cached
            clients[i].time(target.path, settle_first=False)
        for _ in range(rounds):
            for i, target in enumerate(targets):
                for gap in gaps:
                    for _ in range(requests):
                        if gap:
                            time.sleep(gap)
                        ms = clients[i].time(target.path, settle_first=False)
                        times[i, gap].append(ms)
    finally:
        for client in clients:
            client.close()
    return times


def _rows(
    targets: list[Target], gaps: tuple[float, ...], times: dict[tuple[int, float], list[float]]
) -> list[dict[str, object]]:
    rows = []
    for i, target in enumerate(targets):
        row: dict[str, object] = {"server": target.name, "path": target.path}
        for gap, label in zip(gaps, ("back_to_back", "idle"), strict=True):
            values = times[i, gap]
            p10, p90 = np.percentile(values, [10, 90])
            row[label] = {"median": statistics.median(values), "p10": p10, "p90": p90}
        rows.append(row)
    return rows


def _table(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    lines = [
        f"HTTP floor on this machine, ms per request ({args.rounds} rounds of "
        f"{args.requests} requests per cell; idle: {args.gap:g} ms between requests)",
        f"{'server':20s} {'path':38s} {'back to back':>20s} {'idle':>20s}",
    ]
    for row in rows:
        cells = [_cell(row[key]) for key in ("back_to_back", "idle")]  # type: ignore[arg-type]
        lines.append(f"{row['server']!s:20s} {row['path']!s:38s} {cells[0]:>20s} {cells[1]:>20s}")
    return "\n".join(lines)


def _cell(stats: dict[str, float]) -> str:
    return f"{stats['median']:.2f} ({stats['p10']:.2f}-{stats['p90']:.2f})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index root to serve")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40, help="per cell and round")
    parser.add_argument("--gap", type=float, default=20.0, help="idle milliseconds")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="the bare apps' gunicorn threads"
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    return parser


if __name__ == "__main__":
    sys.exit(main())
