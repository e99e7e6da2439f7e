"""Real servers for tests: `pfocr serve` (gunicorn) and Debian's nginx with
``deploy/nginx.conf``, each started as a child process on 127.0.0.1, waited for with a
bound, and stopped by its pid (its process group, for gunicorn's workers).

Also a small load generator: client threads asking a fixed list of URLs in turn for a
bounded time, keeping every answer (status, body) and every failure.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.served import every_worker_answered, stop
from tests.conftest import ROOT

NGINX = os.environ.get("PFOCR_NGINX", "/usr/sbin/nginx")
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
START_TIMEOUT = 90  # seconds for every worker of a server to answer
STOP_TIMEOUT = 30
REQUEST_TIMEOUT = 30
SERVING_LINE = re.compile(r"Serving PFOCR search on (http://127\.0\.0\.1:\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def fetch_json(url: str) -> tuple[int, Any]:
    status, _, body = fetch(url)
    return status, json.loads(body)


@dataclass
class Served:
    """A `pfocr serve` process group."""

    process: subprocess.Popen[str]
    url: str
    output: list[str]
    answered: set[int] = field(default_factory=set)  # the workers seen answering

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> set[int]:
        try:
            return {child.pid for child in psutil.Process(self.pid).children()}
        except psutil.NoSuchProcess:
            return set()

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a machine dying)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)


def serve_command(index: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pfocr", "serve", "--index", str(index), *args]


@contextlib.contextmanager
def pfocr_serve(index: Path, *args: str, port: int = 0, workers: int = 2) -> Iterator[Served]:
    """`pfocr serve` over ``index`` (its own number of threads a worker), its workers all
    answering; stopped on leaving."""
    command = serve_command(
        index, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args
    )
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the workers are stopped with it
    )
    output: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_copy_lines, args=(process, lines, output), daemon=True)
    reader.start()
    try:
        url = _wait_for_line(process, lines, output)
        served = Served(process, url, output)
        wait_until(
            lambda: every_worker_answered(served.url, served.workers(), workers, served.answered),
            START_TIMEOUT,
            output,
        )
        yield served
    finally:
        stop(process)
        reader.join(timeout=STOP_TIMEOUT)
        if process.stdout:
            process.stdout.close()


def _copy_lines(process: subprocess.Popen[str], lines: queue.Queue[str], output: list) -> None:
    for line in process.stdout or ():
        output.append(line)
        lines.put(line)


def _wait_for_line(process: subprocess.Popen[str], lines: queue.Queue[str], output: list) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert process.poll() is None, f"pfocr serve exited:\n{''.join(output)}"
            continue
        if found := SERVING_LINE.search(line):
            return found.group(1)
    raise AssertionError(f"pfocr serve did not start in {START_TIMEOUT} s:\n{''.join(output)}")


def wait_until(
    condition: Callable[[], bool], timeout: float, output: Sequence[str] = (), pause: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if condition():
                return
        time.sleep(pause)
    raise AssertionError(f"not within {timeout} s\n{''.join(output)}")


# -- nginx ---------------------------------------------------------------------------------


def nginx_config(listen: int, replicas: Sequence[str]) -> str:
    """``deploy/nginx.conf`` with its `listen` line and upstream `server` lines replaced,
    as a user edits it (every other line as shipped)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    text, listens = re.subn(r"(?m)^(\s*)listen [^;]+;", rf"\1listen 127.0.0.1:{listen};", text)
    assert listens == 1, "deploy/nginx.conf must have exactly one listen line"
    servers = re.findall(r"(?m)^\s*server (\S+)( [^;]*)?;$", text)
    assert servers, "no upstream server lines in deploy/nginx.conf"
    lines = "".join(f"        server {r} max_fails=1 fail_timeout=10s;\n" for r in replicas)
    text = re.sub(r"(?m)(^\s*server \S+[^;\n]*;\n)+", lines, text, count=1)
    return text


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    url: str
    prefix: Path
    errors: list[str] = field(default_factory=list)

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def nginx(prefix: Path, replicas: Sequence[str]) -> Iterator[Nginx]:
    """Debian's nginx with the shipped configuration in front of ``replicas``
    (``host:port``), run as ``nginx -p PREFIX -c deploy/nginx.conf`` in the foreground."""
    if not Path(NGINX).exists():  # .ci/run installs it
        raise RuntimeError(f"{NGINX} not found: install Debian's nginx (see .ci/run)")
    for folder in ("logs", "tmp", "cache", "deploy"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    port = free_port()
    (prefix / "deploy" / "nginx.conf").write_text(nginx_config(port, replicas), encoding="utf-8")
    command = [NGINX, "-p", f"{prefix}/", "-c", "deploy/nginx.conf", "-g", foreground_as_us()]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Nginx(process, f"http://127.0.0.1:{port}", prefix)
    try:
        wait_until(lambda: _listening(port), START_TIMEOUT)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish what they do
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if process.stderr:
            process.stderr.close()


def foreground_as_us() -> str:
    """nginx's -g directives for a child process: in the foreground, and, when started
    by root (CI), its workers as root too rather than nobody, who cannot reach a test's
    private temporary folders."""
    return "daemon off;" + (" user root;" if os.geteuid() == 0 else "")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def copy_index(source: Path, target: Path) -> Path:
    """An identical replica's index: the folder copied as rsync would (links kept)."""
    shutil.copytree(source, target, symlinks=True)
    return target


# -- load ----------------------------------------------------------------------------------


@dataclass
class Answer:
    url: str
    status: int  # 0: no answer (connection refused or reset, timeout)
    body: bytes
    error: str = ""
    at: float = 0.0


@dataclass
class Load:
    """``clients`` threads asking ``urls`` in turn until stopped (or ``seconds``)."""

    urls: Sequence[str]
    clients: int = 8
    seconds: float = 60.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def _client(self, offset: int) -> None:
        deadline = self.started + self.seconds
        i = offset
        while not self._stop.is_set() and time.monotonic() < deadline:
            url = self.urls[i % len(self.urls)]
            i += 1
            at = time.monotonic() - self.started
            try:
                status, _, body = fetch(url)
                self.answers.append(Answer(url, status, body, at=at))
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short
                self.answers.append(Answer(url, 0, b"", f"{type(exc).__name__}: {exc}", at))

    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.status == 0 or a.status >= 500]
