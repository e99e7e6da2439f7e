"""What operators see of the running app: Prometheus metrics at ``/metrics`` and one JSON
access-log line per request.

Metrics (``pfocr serve`` runs several worker processes: prometheus_client's multiprocess
mode sums them, reading the folder named by ``PROMETHEUS_MULTIPROC_DIR``, which ``pfocr
serve`` makes and removes; without it, one process's own metrics):

- ``pfocr_http_requests_total{route,method,status}``: ``route`` is the Flask rule that
  answered (``/api/genes/<path:text>``), never the raw path, so the number of series
  stays bounded whatever clients ask; ``method`` is one of the methods the app serves
  or ``other``;
- ``pfocr_http_request_duration_seconds{route}``: a histogram, to the last byte sent;
- ``pfocr_index_documents``: figures in the generation served (the highest of the live
  workers');
- ``pfocr_index_generation_info{generation,version}``: 1 for each generation a live worker
  serves, 0 for those no longer served;
- ``pfocr_costly_rejected_total``: costly queries turned away (503 ``busy``);
- ``pfocr_heap_returned_bytes_total``: heap memory workers gave back to the system after
  a quiet spell (``server.web.heap``);
- ``pfocr_cache_lookups_total{cache,result}``: lookups of each worker's caches
  (``answers``, ``matches``: ``SearchService.cache_counts``), ``result`` ``hit`` or
  ``miss``; ``pfocr_cache_entries{cache}``: what the live workers' caches hold, summed.
  Each worker keeps its own caches: the hit ratio says what their memory buys.

The access log: logger ``pfocr.access``, one JSON object per line with ``time``,
``method``, ``path``, ``query``, ``route``, ``status``, ``duration_ms``, ``bytes``,
``worker_pid``, ``generation`` (the index version the answer was read from, or null) and
``results`` (the answer's ``X-Total-Count``, where there is one). ``pfocr serve`` sends
it to stderr or to ``--access-log FILE``; nothing is written until a handler is added.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, request

if TYPE_CHECKING:
    from server.search.service import SearchService

ACCESS_LOGGER = "pfocr.access"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WARM_UP_KEY = "pfocr.warm_up"  # a WSGI environ key: a worker's own warm-up request
_STARTED_KEY = "pfocr.started"  # a WSGI environ key: when the app took the request
_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS"})
# Seconds: from a cached answer (well under a millisecond) to the slowest exports.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_MAX_LOGGED_QUERY = 2000  # characters of a query string kept in the log

access_log = logging.getLogger(ACCESS_LOGGER)
access_log.propagate = False  # its lines go where serving sends them, not to the app's log

metrics = Blueprint("metrics", __name__)


class Telemetry:
    """The metrics of one app, and the hooks that keep them."""

    def __init__(self, service: SearchService) -> None:
        # Imported here, not at the top: prometheus_client chooses its multiprocess mode
        # when first imported, and `pfocr serve` sets PROMETHEUS_MULTIPROC_DIR first.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "pfocr_http_requests",
            "HTTP requests answered, by Flask route, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "pfocr_http_request_duration_seconds",
            "Time from a request's start to the last byte of its answer, by Flask route.",
            ["route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.documents = Gauge(
            "pfocr_index_documents",
            "Figures in the index generation served.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.generation = Gauge(
            "pfocr_index_generation_info",
            "1 for each index generation a live worker serves.",
            ["generation", "version"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.rejected = Counter(
            "pfocr_costly_rejected",
            "Costly queries turned away because none of the costly turns came free in time.",
            registry=registry,
        )
        self.heap_returned = Counter(
            "pfocr_heap_returned_bytes",
            "Heap memory workers gave back to the system after a quiet spell, in bytes.",
            registry=registry,
        )
        self.cache_lookups = Counter(
            "pfocr_cache_lookups",
            "Lookups of the workers' caches of answers and matches, by cache and result.",
            ["cache", "result"],
            registry=registry,
        )
        self.cache_entries = Gauge(
            "pfocr_cache_entries",
            "Entries in the live workers' caches of answers and matches, summed.",
            ["cache"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._served: tuple[str, str] | None = None  # (generation, version) last reported
        self._cache_lock = threading.Lock()
        self._cache_counted: dict[str, tuple[int, int]] = {}  # cache -> (hits, misses)
        self._cache_held: dict[str, int] = {}  # cache -> entries last reported
        self.answered = _Children(self.requests)
        self.timed = _Children(self.duration)
        self.looked_up = _Children(self.cache_lookups)
        self.held = _Children(self.cache_entries)

    def observe_generation(self) -> None:
        """Report the generation this process serves now (it may have swapped)."""
        snapshot = self.service.generations.viewed() or self.service.generations.held()
        if snapshot is None:
            return
        served = (snapshot.path.name, snapshot.version)
        if served == self._served:
            return
        if self._served is not None:
            self.generation.labels(*self._served).set(0)
        self.generation.labels(*served).set(1)
        self.documents.set(snapshot.documents)
        self._served = served

    def observe_caches(self, count: bool = True) -> None:
        """Add the caches' lookups since the last call to the counters (without
        ``count``: only note them, as a worker does after its own warm-up requests)."""
        with self._cache_lock:
            for cache, (hits, misses, entries) in self.service.cache_counts().items():
                hits_before, misses_before = self._cache_counted.get(cache, (0, 0))
                if count and hits > hits_before:
                    self.looked_up(cache, "hit").inc(hits - hits_before)
                if count and misses > misses_before:
                    self.looked_up(cache, "miss").inc(misses - misses_before)
                self._cache_counted[cache] = (hits, misses)
                if self._cache_held.get(cache) != entries:  # each set writes the shared file
                    self.held(cache).set(entries)
                    self._cache_held[cache] = entries

    def exposition(self) -> tuple[bytes, str]:
        """The metrics page: every worker's, summed, under ``pfocr serve``."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        self.observe_generation()
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        else:
            registry = self.registry
        return generate_latest(registry), CONTENT_TYPE_LATEST


class _Children:
    """A labelled metric's children, each looked up once by its label values: the
    metric's own ``labels()`` checks and locks on every call, which every request paid
    several times over. The values are few (Flask rules, methods, statuses, caches)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.made: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.made.get(values)
        if child is None:  # two threads may both ask: labels() gives both the same child
            child = self.made[values] = self.metric.labels(*values)
        return child


def init_app(app: Flask, service: SearchService) -> Telemetry:
    telemetry = Telemetry(service)
    app.extensions["pfocr_telemetry"] = telemetry
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(metrics)
    return telemetry


@metrics.get("/metrics")
def metrics_page() -> Response:
    body, content_type = current_app.extensions["pfocr_telemetry"].exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _start() -> None:
    request.environ[_STARTED_KEY] = time.perf_counter()


def _finish(response: Response) -> Response:
    """Count the answer and log it once its last byte is sent (exports stream)."""
    telemetry: Telemetry = current_app.extensions["pfocr_telemetry"]
    asked = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    if asked.environ.get(WARM_UP_KEY):
        telemetry.observe_caches(count=False)
        return response
    started = asked.environ.get(_STARTED_KEY) or time.perf_counter()
    route = asked.url_rule.rule if asked.url_rule is not None else "<unmatched>"
    method = asked.method if asked.method in _METHODS else "other"
    status = response.status_code
    snapshot = telemetry.service.generations.viewed()
    telemetry.observe_generation()
    telemetry.observe_caches()
    if status == 503 and "Retry-After" in response.headers:  # only `busy` says when to retry
        telemetry.rejected.inc()
    line: dict[str, Any] = {
        "method": asked.method[:16],
        "path": asked.path,
        "query": asked.query_string.decode("latin-1")[:_MAX_LOGGED_QUERY],
        "route": route,
        "status": status,
        "worker_pid": os.getpid(),
        "generation": None if snapshot is None else snapshot.version,
        "results": _whole(response.headers.get("X-Total-Count")),
    }

    answer = weakref.ref(response)  # not the response itself: it holds ``done``

    def done() -> None:
        seconds = time.perf_counter() - started
        telemetry.answered(route, method, str(status)).inc()
        telemetry.timed(route).observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            line["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            line["duration_ms"] = round(seconds * 1000, 2)
            sent = answer()
            line["bytes"] = None if sent is None else sent.content_length
            access_log.info(json.dumps(line, ensure_ascii=False))

    response.call_on_close(done)
    return response


def _whole(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None
