"""``pfocr serve`` as the benchmarks run it: on 127.0.0.1 at a free port, ready once every
worker has answered ``/healthz`` with a generation it can search (a client keeps its
connection to the worker that accepted it: starting the load while one worker still warms
up would give the other every client), stopped by its process group on leaving."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300  # seconds: loading a 100k generation in every worker
STOP_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    ready_seconds: float = 0.0  # from starting the command to every worker answering
    answered: set[int] = field(default_factory=set)  # the workers seen answering

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        """The master, then its workers."""
        try:
            master = psutil.Process(self.process.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_processes(self) -> list[psutil.Process]:
        return self.processes()[1:]


@contextlib.contextmanager
def pfocr_serve(
    index: Path, workers: int, log: Path, access_log: str | os.PathLike[str] = os.devnull
) -> Iterator[Server]:
    """``pfocr serve --workers N`` over ``index`` (its output appended to ``log``)."""
    port = free_port()
    command = [
        sys.executable, "-m", "pfocr", "serve", "--index", str(index), "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--access-log", str(access_log),
    ]  # fmt: skip
    started = time.perf_counter()
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=output, start_new_session=True
        )
    server = Server(process, port, workers)
    try:
        wait(lambda: _ready(server), START_TIMEOUT, f"pfocr serve (see {log})", process)
        server.ready_seconds = time.perf_counter() - started
        yield server
    finally:
        stop(process)


def _ready(server: Server) -> bool:
    workers = {process.pid for process in server.worker_processes()}
    return every_worker_answered(server.url, workers, server.workers, server.answered)


def every_worker_answered(url: str, workers: set[int], expected: int, answered: set[int]) -> bool:
    """Whether all ``expected`` workers are up and each of ``workers`` has answered
    ``/healthz`` with a generation it can search. Each call asks once, on a new
    connection, adding the worker that answers to ``answered``: one worker answering says
    nothing of another still warming up, which accepts no connection meanwhile."""
    if len(workers) < expected:
        return False
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
        status = json.load(reply)
    if status["status"] == "ok":
        answered.add(status["worker_pid"])
    return workers <= answered


def wait(
    condition: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen
) -> None:
    """Until ``condition()`` holds (an OSError counts as not yet); exits the benchmark if
    ``process`` ends first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError):
            if condition():
                return
        time.sleep(0.05)
    raise SystemExit(f"{what} not ready within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL to the group for anything left."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):  # a worker left behind
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=STOP_TIMEOUT)
