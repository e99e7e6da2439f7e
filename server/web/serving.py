"""Serving the app: gunicorn pre-fork workers for ``pfocr serve``, waitress in-process.

``pfocr serve --workers N`` (:func:`serve`) runs N gunicorn worker processes (one per
core by default) over one listening socket. Choices, and why:

- **Processes for the cores, a few threads each (``gthread``).** Whoosh and our numpy
  code hold the GIL, so only processes use several cores. Each worker also has
  ``--threads`` (2) threads: CPU-bound requests in one worker take turns under its GIL
  (``sys.setswitchinterval`` of 1 ms, set in each worker, lets ``/healthz`` and quick
  queries in beside a slow one), but a thread sending an export or waiting on a slow
  client no longer stops the worker, and the worker's main loop keeps telling the master
  it is alive, so a long export is not taken for a hung worker (as with ``sync``). Not
  more: requests taking turns under one GIL slow each other more than they overlap
  (``bench_load --modes w2``, alternated: 4 threads 186-251 req/s, p99 320-460 ms; 3
  threads 220; 2 threads 242-279, p99 260-390 ms; 1 thread 240-285).
- **New connections go to a worker with a free thread.** Workers share one listening
  socket and a kept-alive connection stays with the worker that took it; a worker busy
  on every thread takes a new connection only after ``ACCEPT_WAIT_SECONDS`` (20 ms),
  leaving it to one that can answer now. 32 clients connecting at once were split 27 to
  5 (or 22 to 10), the larger share waiting on one core while the other was idle at
  times; now 16 to 16, p99 292 ms against 415-618 (in one run each, 20 s of searches).
- **Each worker loads the generation after the fork, before its first request**
  (``post_worker_init``): its pin on the generation is its own (the master holds none),
  and the first query is as fast as the tenth. A thread per worker watches ``current``
  and loads a new generation in the background.
- **Memory given back between bursts** (:mod:`server.web.heap`): each worker maps its
  large blocks on their own and, once idle for 2 s, hands its heap's free pages back.
- **Costly queries take turns across workers**: a :class:`server.search.gate.ProcessGate`
  of ``--costly-slots`` turns (default: workers - 1, at least 1) in the run folder, so at
  least one worker is always free for cheap requests; a worker killed mid-query gives its
  turn back (``flock``).
- **Slow clients.** gunicorn hands a connection to a thread once its first bytes arrive
  (up to 5 s of waiting costs no thread); :class:`SearchWorker` then gives the whole
  request, head and body, ``REQUEST_READ_SECONDS`` (10 s) and drops the connection
  after that, and an answer must keep moving (each write within ``SEND_STALL_SECONDS``).
  So a client sending one byte a second holds one thread for 10 s, never a worker.
  Behind nginx (``deploy/nginx.conf``) nginx reads whole requests and buffers answers
  first, so slow clients never reach gunicorn at all.
- **Limits**: request line ``8190`` bytes (gunicorn's most; a longer URL is 414, in the
  API's error shape: send long gene lists with ``POST /api/search``), 100 header fields
  of at most 8190 bytes each (431); bodies are bounded by the app (413).
- **Shutdown**: SIGTERM or Ctrl-C lets requests in flight finish for up to
  ``GRACEFUL_SECONDS``; SIGHUP starts new workers and stops the old ones gracefully (the
  code itself is the master's: upgrading it needs a restart). ``--max-requests N``
  recycles a worker after about N requests (with 10% jitter, so they do not all restart
  at once); off by default, since every cache is bounded.

The run folder (a temporary folder made and removed by :func:`serve`) holds the
Prometheus multiprocess files (``PROMETHEUS_MULTIPROC_DIR``) and the costly-query slots.

waitress (:func:`make_server`) serves the app inside the calling process, in threads:
for tests and benchmarks that need the server in their own process, where gunicorn
(which forks, and owns the process's signals) cannot run. :func:`serve_in_thread` and
:func:`stop_in_thread` run and stop it.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import json
import logging
import multiprocessing
import os
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from indexer.index.store import IndexError_
from server.search.gate import ProcessGate
from server.search.service import load_shared_data
from server.web import create_app, heap, telemetry
from server.web.errors import ApiError

DEFAULT_HOST = "127.0.0.1"  # local only unless asked: the API has no authentication
DEFAULT_PORT = 5000
DEFAULT_THREADS = 2  # per worker (see the module's docstring)
# A thread waiting for the GIL gets it after this long at most (Python's default: 5 ms):
# shorter lets /healthz and quick queries take their turns sooner beside a costly one.
GIL_SWITCH_SECONDS = 0.001
# Allocations between two runs of the cycle collector's youngest generation (Python's
# default: 700). A search allocates tens of thousands of short-lived objects, so the
# default ran a full collection over every cached answer every few requests: a fifth of
# the mix's CPU time (bench_load's requests in one process, gc.callbacks timed). Garbage
# without cycles is freed at once by reference counting either way.
GC_YOUNG_THRESHOLD = 20_000
REQUEST_READ_SECONDS = 10.0  # a request's head and body, from when a thread takes it
SEND_STALL_SECONDS = 30.0  # one write of an answer (a chunk of an export, say)
SEND_BUFFER_BYTES = 1 << 20  # asked of the kernel per connection (Linux caps it at wmem_max)
ACCEPT_WAIT_SECONDS = 0.02  # a worker with no free thread waits this long to take a connection
KEEPALIVE_SECONDS = 5  # an idle kept-alive connection (nginx keeps its own for less)
GRACEFUL_SECONDS = 20  # requests in flight at shutdown get this long to finish
WORKER_TIMEOUT_SECONDS = 30  # a worker whose main loop is silent this long is replaced
MAX_REQUEST_LINE = 8190  # gunicorn's largest
# Where a worker's heartbeat file lives: its main loop touches the file (utime) after
# every event, twice a request. On a disk-backed /tmp a busy disk (an index being built
# beside the server) can stall each touch, and the requests waiting on that loop, as
# gunicorn's documentation warns; in memory it cannot. /healthz while another process
# wrote and fsynced 256 MB files without end, 2,500 requests each, alternated: p99 5.6
# and 4.4 ms against 6.9 and 5.9 with /tmp on this machine's virtual disk.
HEARTBEAT_DIR = Path("/dev/shm")  # Linux's shared memory; elsewhere gunicorn's default
CHECK_TIMEOUT_SECONDS = 300  # loading the index once before serving
RUN_PREFIX = "pfocr-serve-"
MASTER_PID_FILE = "master.pid"
SERVING_LINE = "Serving PFOCR search on http://{host}:{port} ({workers} workers)"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int | None = None  # None: one per core
    threads: int = DEFAULT_THREADS
    access_log: Path | None = None  # None: stderr
    max_requests: int = 0  # 0: never recycle a worker
    costly_slots: int | None = None  # None: workers - 1, at least 1


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def serve(index_root: str | os.PathLike[str], options: ServeOptions = ServeOptions()) -> int:
    """Serve the site and API over ``index_root`` until stopped; the exit status.

    Raises ``IndexError_`` (with a message, before any worker starts) if the current
    generation cannot be loaded."""
    workers = options.workers or cores()
    modules = check_servable(index_root)
    master = os.getpid()
    _remove_dead_run_folders()
    run_dir = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    (run_dir / MASTER_PID_FILE).write_text(str(master))
    (run_dir / "metrics").mkdir()
    os.environ[telemetry.MULTIPROC_ENV] = str(run_dir / "metrics")
    _configure_logging(options.access_log)
    share_with_workers(modules)
    application = SearchApplication(index_root, options, workers, run_dir)
    try:
        application.run()
    except SystemExit as stop:
        if os.getpid() != master:
            raise  # a worker leaving: the master's folder is not its to remove
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        if os.getpid() == master:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def share_with_workers(modules: Iterable[str] = ()) -> None:
    """Load in the master what no generation changes, so the forked workers share its
    memory pages instead of each loading a copy: the ``modules`` a worker imports (those
    :func:`check_servable`'s child imported: Whoosh's readers, prometheus_client, Flask's
    test client for the warm-up... each worker imported about 90 of its own) and the
    shared word data; then freeze the collector's view of it, whose bookkeeping would
    otherwise write to (and so copy) every page it scans."""
    for name in modules:
        if name not in sys.modules:
            with contextlib.suppress(Exception):  # the worker imports it again, or fails
                importlib.import_module(name)
    load_shared_data()
    gc.collect()
    gc.freeze()


def _remove_dead_run_folders() -> None:
    """The run folders of servers killed with SIGKILL (whose master is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
        try:
            pid = int((folder / MASTER_PID_FILE).read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge: another user's, or being made right now


class SearchApplication(BaseApplication):
    """gunicorn over our app, configured in code (no gunicorn.conf.py, no command line)."""

    def __init__(
        self, index_root: str | os.PathLike[str], options: ServeOptions, workers: int, run_dir: Path
    ) -> None:
        self.index_root = index_root
        self.options = options
        self.workers = workers
        self.run_dir = run_dir
        super().__init__()

    def load_config(self) -> None:
        options = self.options
        settings: dict[str, Any] = {
            "bind": [_bind_address(options.host, options.port)],
            "workers": self.workers,
            "worker_class": SearchWorker,
            "threads": options.threads,
            "timeout": WORKER_TIMEOUT_SECONDS,
            "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": KEEPALIVE_SECONDS,
            "limit_request_line": MAX_REQUEST_LINE,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
            "worker_tmp_dir": _heartbeat_dir(),
            "max_requests": options.max_requests,
            "max_requests_jitter": options.max_requests // 10,
            "preload_app": False,  # each worker builds its app, and pins, after the fork
            # Files through write(), so their head goes with their first bytes (_WholeAnswer)
            "sendfile": False,
            "accesslog": None,  # our own JSON lines (server.web.telemetry)
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "pfocr-serve",
            "when_ready": _when_ready,
            "post_worker_init": _post_worker_init,
            "child_exit": _child_exit,
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn 24+: no ~/.gunicorn socket
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        slots = self.options.costly_slots or max(1, self.workers - 1)
        gate = ProcessGate(self.run_dir / "costly", slots)
        return create_app(self.index_root, costly_gate=gate)


def _heartbeat_dir() -> str | None:
    """:data:`HEARTBEAT_DIR` if this process may make files in it, else None (gunicorn's
    default: the temporary directory)."""
    usable = HEARTBEAT_DIR.is_dir() and os.access(HEARTBEAT_DIR, os.W_OK | os.X_OK)
    return str(HEARTBEAT_DIR) if usable else None


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _when_ready(arbiter: Any) -> None:
    host, port = arbiter.LISTENERS[0].sock.getsockname()[:2]
    line = SERVING_LINE.format(host=host, port=port, workers=arbiter.cfg.workers)
    print(line, flush=True)


def _post_worker_init(worker: Any) -> None:
    """In each worker, after the fork and before its first request: the process-wide
    settings, the generation loaded, warmed and watched."""
    configure_process()
    warm_up(worker.wsgi)
    worker.wsgi.extensions["pfocr"].generations.watch()
    returned = worker.wsgi.extensions["pfocr_telemetry"].heap_returned
    worker.trimmer = heap.IdleTrimmer(on_trim=returned.inc).start()


def configure_process() -> None:
    """The process-wide settings of a process that serves requests."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)
    heap.fix_mmap_threshold()
    heap.limit_arenas()  # before the worker starts its threads


def warm_up(app: Flask) -> None:
    """Load the generation and answer a few requests inside the process (not counted
    nor logged), so that the first real request pays for nothing the tenth does not:
    the generation's load, templates, routing."""
    service = app.extensions["pfocr"]
    try:
        service.refresh()
    except IndexError_ as exc:  # logged by the service; /healthz answers 503 meanwhile
        log.error("worker %d starts without an index it can serve: %s", os.getpid(), exc)
        return
    client = app.test_client()
    for path in ("/api/search?per_page=1", "/api/suggest?q=a", "/", "/healthz"):
        client.get(path, environ_overrides={telemetry.WARM_UP_KEY: True})
    app.extensions["pfocr_telemetry"].observe_generation()


def _child_exit(arbiter: Any, worker: Any) -> None:
    """In the master: forget the live gauges of a worker that exited (or was killed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class SearchWorker(ThreadWorker):
    """gunicorn's threaded worker, with a deadline on reading each request, a bound on
    each write, answers written whole (:class:`_WholeAnswer`), and the API's error shape
    for requests gunicorn refuses itself."""

    trimmer: heap.IdleTrimmer | None = None  # from post_worker_init on
    in_flight = 0  # requests handed to the threads and not finished (main thread only)
    busy_since = 0.0  # when the last request took the last free thread

    def init_process(self) -> None:
        gunicorn_wsgi.Response = _WholeAnswer  # what gunicorn's ``wsgi.create`` makes
        super().init_process()

    # New connections to a worker with a free thread (see the module's docstring). A busy
    # worker still takes one after ACCEPT_WAIT_SECONDS: its kept-alive clients may keep
    # it busy for good, and new clients must not wait on that.

    def set_accept_enabled(self, enabled: bool) -> None:
        if enabled and self.in_flight >= self.cfg.threads:
            enabled = time.monotonic() - self.busy_since >= ACCEPT_WAIT_SECONDS
        super().set_accept_enabled(enabled)

    def enqueue_req(self, conn: Any) -> None:
        self.in_flight += 1
        super().enqueue_req(conn)
        if self.in_flight >= self.cfg.threads and self._accepting:
            self.busy_since = time.monotonic()
            super().set_accept_enabled(False)  # the run loop looks again after each event

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, _ClientSocket):
            conn.sock = _ClientSocket.adopt(conn.sock)
        conn.sock.read_deadline = time.monotonic() + REQUEST_READ_SECONDS
        if self.trimmer is None:
            return super().handle(conn)
        with self.trimmer.serving():
            return super().handle(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refused = _refusal(exc)
        if refused is None:
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("refused a request from %s: %s", (addr or ("",))[0], exc)
        body = json.dumps(refused.body()).encode()
        head = (
            f"HTTP/1.1 {refused.status} {refused.code.replace('_', ' ').capitalize()}\r\n"
            "Connection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n\r\n"
        )
        try:
            client.sendall(head.encode("latin-1") + body)
        except OSError:
            self.log.debug("could not send the refusal")


def _refusal(exc: BaseException) -> ApiError | None:
    """The API error for a request gunicorn refuses before the app sees it, if ours."""
    if isinstance(exc, LimitRequestLine):
        return ApiError(
            414,
            "uri_too_long",
            f"the request line is over {MAX_REQUEST_LINE:,} bytes; "
            "send long queries and gene lists with POST /api/search",
        )
    if isinstance(exc, LimitRequestHeaders):
        return ApiError(
            431,
            "request_header_fields_too_large",
            f"too many request headers, or one over {MAX_REQUEST_LINE:,} bytes",
        )
    return None


class _WholeAnswer(gunicorn_wsgi.Response):
    """gunicorn's response, its head written with the first bytes of its body in one
    write. Written apart, a worker killed between the two writes leaves nginx a head
    without its body, which nginx can no longer retry on another replica: the client
    sees a broken answer instead of the other replica's."""

    _head = b""

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        sock, self.sock = self.sock, _Kept()
        try:
            super().send_headers()  # "sent" to _Kept: held until the body
        finally:
            self._head, self.sock = self.sock.data, sock

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, b""
        if head and not self.chunked:
            gunicorn_util.write(self.sock, head + data)
            return
        if head:
            gunicorn_util.write(self.sock, head)
        super()._emit_body(data)

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        head, self._head = self._head, b""
        if head:  # an answer without a body (HEAD, 304, an empty stream): its head alone
            gunicorn_util.write(self.sock, head)
        super().close()  # then the end of a chunked body


class _Kept:
    """Takes what gunicorn writes, to write it later."""

    def __init__(self) -> None:
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data


class _ClientSocket(socket.socket):
    """A client connection whose request must have arrived by ``read_deadline`` (after
    it, reads see the end of the stream, so gunicorn drops the connection, or the app
    answers 400 for a body cut short) and whose answer's every write must finish within
    ``SEND_STALL_SECONDS``."""

    read_deadline: float | None = None

    @classmethod
    def adopt(cls, sock: socket.socket) -> _ClientSocket:
        blocking = sock.getblocking()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.setblocking(blocking)
        # Room for a whole answer in the kernel: it is handed over in one write, so a
        # worker killed right after still delivers it, and nginx never sees half of one.
        adopted.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        return adopted

    def recv(self, size: int, flags: int = 0) -> bytes:
        deadline = self.read_deadline
        if deadline is not None and not self._readable_by(deadline):
            return b""
        return super().recv(size, flags)

    def _readable_by(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        poller = select.poll()
        poller.register(self, select.POLLIN)
        return bool(poller.poll(left * 1000))

    def sendall(self, data: Any, flags: int = 0) -> None:
        blocking = self.getblocking()
        self.settimeout(SEND_STALL_SECONDS)
        try:
            super().sendall(data, flags)
        except TimeoutError:
            raise BrokenPipeError(errno.EPIPE, "the client stopped reading") from None
        finally:
            self.setblocking(blocking)


def check_servable(index_root: str | os.PathLike[str]) -> list[str]:
    """Build the app, load the current generation and warm it once, in a child process,
    so that a missing or damaged index (or a bad setting) stops ``pfocr serve`` with a
    message before any worker starts; the names of the modules the child had imported
    then (what a worker will import). The master itself never holds a generation."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_try_serving, args=(index_root, sender), daemon=True)
    child.start()
    sender.close()
    modules: list[str] = []
    try:
        if receiver.poll(CHECK_TIMEOUT_SECONDS):
            problem, modules = receiver.recv()
        else:
            problem = f"cannot serve {index_root}: loading it took over {CHECK_TIMEOUT_SECONDS} s"
    except EOFError:  # the child died without a word (killed, out of memory)
        problem = f"cannot serve {index_root}: the process loading it died"
    finally:
        receiver.close()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    if problem:
        raise IndexError_(problem)
    return modules


def _try_serving(index_root: str | os.PathLike[str], sender: Any) -> None:
    logging.disable(logging.CRITICAL)  # the one message goes back to the parent
    problem = None
    try:
        app = create_app(index_root)
        app.extensions["pfocr"].generations.require_current()
        warm_up(app)  # what a worker does before its first request imports the rest
    except IndexError_ as exc:
        problem = str(exc)
    except Exception as exc:  # a bad setting, say: the message, never a traceback
        problem = f"{type(exc).__name__}: {exc}"
    sender.send((problem, sorted(sys.modules)))
    sender.close()


def _configure_logging(access_log: Path | None) -> None:
    """The app's own log and gunicorn's to stderr; the JSON access lines to stderr or to
    ``access_log`` (opened here, before the fork, appended to by every worker)."""
    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: logging.Handler = (
        logging.StreamHandler(sys.stderr)
        if access_log is None
        else logging.FileHandler(access_log, encoding="utf-8")
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    telemetry.access_log.handlers[:] = [handler]
    telemetry.access_log.setLevel(logging.INFO)


def make_server(
    index_root: str | os.PathLike[str] | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    threads: int = 8,
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server for the app over ``index_root`` inside this process, bound but
    not yet serving (tests and benchmarks; ``pfocr serve`` runs gunicorn)."""
    app = create_app(index_root)
    configure_process()
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


def serve_in_thread(server: BaseWSGIServer | MultiSocketServer) -> threading.Thread:
    """Run ``server`` (from :func:`make_server`) in a daemon thread; stop it with
    :func:`stop_in_thread`."""
    thread = threading.Thread(target=server.run, name="pfocr-waitress-loop", daemon=True)
    thread.start()
    return thread


def stop_in_thread(
    server: BaseWSGIServer | MultiSocketServer, thread: threading.Thread, timeout: float = 10.0
) -> None:
    """Stop a server run by :func:`serve_in_thread`: every socket closed from inside its
    loop, which then returns, and its task threads ended. ``server.close()`` from another
    thread races the loop's poll and leaves the loop and its tasks running (waitress
    #468): a benchmark's server so left went on using descriptor numbers it had closed,
    and a later server in the process lost its own (EBADF)."""
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout)
    server.task_dispatcher.shutdown()
