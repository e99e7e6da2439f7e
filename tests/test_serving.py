"""`pfocr serve` under load, as it runs in production: gunicorn workers in their own
processes, rebuilds and updates while clients ask, workers and builds killed, replicas
behind Debian's nginx with ``deploy/nginx.conf``, and a bad index at start.

Every server listens on 127.0.0.1, is started as a child process and stopped by its pid;
every wait and every load is bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from indexer.index.arrays import ARRAYS_DIR
from indexer.index.store import IndexStore
from server.web import heap, serving
from tests.conftest import (
    ROOT,
    STAT3_RECORD,
    copy_sample_with_stat3,
    edit_front_matter,
)
from tests.servers import (
    Load,
    copy_index,
    fetch,
    fetch_json,
    nginx,
    pfocr_serve,
    serve_command,
    wait_until,
)

FIGURES = 40
BUILD_TIMEOUT = 120
SWAP_SECONDS = 15  # a new generation reaches every worker within this (watcher: 1 s)
NEW_FIGID = f"{STAT3_RECORD}__new"


def pfocr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pfocr", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )


def mark(records: Path, marker: str) -> None:
    """Title the STAT3 figure after ``marker``, so an answer shows its generation."""
    edit_front_matter(
        records / f"{STAT3_RECORD}.md", lambda r: {**r, "figtitle": f"STAT3 network {marker}"}
    )


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return copy_sample_with_stat3(tmp_path / "records", FIGURES)


@pytest.fixture
def index(records: Path, tmp_path: Path) -> Path:
    root = tmp_path / "index"
    mark(records, "g0")
    done = pfocr("build", str(records), "--index", str(root), "--quiet", "--workers", "1")
    assert done.returncode == 0, done.stderr
    return root


def version_now(root: Path) -> str:
    current = IndexStore(root).current()
    assert current is not None
    return json.loads((current / "meta.json").read_text())["generation"]


def search_urls(base: str) -> list[str]:
    return [
        f"{base}/api/search?gene=STAT3&per_page=5",
        f"{base}/api/search?q=signaling&facets=organism,year",
        f"{base}/api/figures/{STAT3_RECORD}",
        f"{base}/api/suggest?q=st",
        f"{base}/api/genes/STAT3?per_page=3",
        f"{base}/?q=pathway",
    ]


def stat3_title(body: dict) -> str | None:
    return next((h["title"] for h in body["hits"] if h["figid"] == STAT3_RECORD), None)


def test_rebuild_and_update_under_load_fail_nothing_and_reach_every_worker(
    records: Path, index: Path
):
    markers = {version_now(index): "g0"}
    with pfocr_serve(index, workers=2) as served, Load(search_urls(served.url)) as load:
        time.sleep(1)
        for marker in ("g1", "g2"):
            mark(records, marker)
            done = pfocr("build", str(records), "--index", str(index), "--quiet", "--workers", "1")
            assert done.returncode == 0, done.stderr
            markers[version_now(index)] = marker
            time.sleep(1)
        shutil.copy(records / f"{STAT3_RECORD}.md", records / f"{NEW_FIGID}.md")
        edit_front_matter(records / f"{NEW_FIGID}.md", lambda r: {**r, "figid": NEW_FIGID})
        done = pfocr("update", str(records), "--index", str(index), "--quiet")
        assert done.returncode == 0, done.stderr
        markers[version_now(index)] = "g2"
        final = version_now(index)

        # Every worker serves the update, without a restart.
        workers = served.workers()
        seen: dict[int, str] = {}

        def every_worker_serves_the_update() -> bool:
            _, status = fetch_json(f"{served.url}/api/status")
            seen[status["worker_pid"]] = status["version"]
            return set(seen) == workers and set(seen.values()) == {final}

        wait_until(every_worker_serves_the_update, SWAP_SECONDS, pause=0.02)
        for _ in range(10):  # whichever worker answers
            assert fetch(f"{served.url}/api/figures/{NEW_FIGID}")[0] == 200
        time.sleep(0.5)
    assert load.failures() == [], load.failures()[:3]
    assert len(load.answers) > 100
    versions = defaultdict(set)
    for answer in load.answers:
        if "/api/search?gene=STAT3" not in answer.url:
            continue
        body = json.loads(answer.body)
        title = stat3_title(body)
        assert title is not None
        versions[body["version"]].add(title)
    assert len(versions) >= 2, versions  # the load did see the swaps
    for version, titles in versions.items():  # one generation per answer, never a mix
        assert titles == {f"STAT3 network {markers[version]}"}, (version, titles)


def test_a_killed_worker_is_replaced_and_requests_succeed_again(index: Path):
    with pfocr_serve(index, workers=2) as served, Load(search_urls(served.url), clients=4) as load:
        time.sleep(1)
        before = served.workers()
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic() - load.started
        wait_until(lambda: len(served.workers() - before) == 1, 30, served.output)
        replaced_at = time.monotonic() - load.started
        replacement = (served.workers() - before).pop()
        wait_until(
            lambda: fetch_json(f"{served.url}/api/status")[1]["worker_pid"] == replacement,
            30,
            pause=0.01,
        )
        time.sleep(1)
    assert replaced_at - killed_at < 10
    late = [a for a in load.answers if a.at > replaced_at + 1]
    assert late and all(a.status == 200 for a in late), [a for a in late if a.status != 200][:3]
    # Only requests the dying worker had in hand may fail, never later ones.
    assert all(a.at < killed_at + 1 for a in load.failures()), load.failures()[:3]


@pytest.mark.skipif(serving._heartbeat_dir() is None, reason="no writable /dev/shm here")
def test_a_worker_beats_its_heart_in_memory(index: Path):
    """Each worker's heartbeat file (touched twice a request) is in memory, not on a disk
    an index build may keep busy."""
    with pfocr_serve(index, workers=2) as served:
        workers = served.workers()
        beats = {pid: _heartbeat_files(pid) for pid in workers}
    assert len(workers) == 2
    for pid, files in beats.items():
        assert files and all(f.startswith(f"{serving.HEARTBEAT_DIR}/") for f in files), (pid, files)


def _heartbeat_files(pid: int) -> list[str]:
    """The gunicorn heartbeat files process ``pid`` holds open (unlinked once made)."""
    folder = Path(f"/proc/{pid}/fd")
    links = [os.readlink(fd) for fd in folder.iterdir() if fd.is_symlink()]
    return [link for link in links if "/wgunicorn-" in link]


def test_two_replicas_over_a_copied_index_answer_identically(index: Path, tmp_path: Path):
    replica = copy_index(index, tmp_path / "replica")
    with (
        pfocr_serve(index, workers=1) as first,
        pfocr_serve(replica, workers=1) as second,
    ):
        for path in [
            *[url.removeprefix("BASE") for url in search_urls("BASE")],
            "/api/search?q=insulin+OR+apoptosis&sort=-year&facets=gene,disease",
            "/api/search?gene=STAT3&format=csv",
            f"/figures/{STAT3_RECORD}",
            "/api/openapi.json",
        ]:
            # Behind a load balancer both see one Host (pages print absolute URLs).
            host = {"Host": "pfocr.example"}
            one, two = fetch(first.url + path, headers=host), fetch(second.url + path, headers=host)
            assert one[0] == two[0] == 200, path
            assert one[2] == two[2], path
            assert one[1].get("ETag") == two[1].get("ETag"), path
        one, two = (fetch_json(s.url + "/api/status")[1] for s in (first, second))
        assert one["version"] == two["version"] and one["worker_pid"] != two["worker_pid"]


def test_behind_nginx_a_replica_killed_under_load_costs_no_request(index: Path, tmp_path: Path):
    replica = copy_index(index, tmp_path / "replica")
    with (
        pfocr_serve(index, workers=1) as first,
        pfocr_serve(replica, workers=1) as second,
        nginx(tmp_path / "nginx", [first.url[7:], second.url[7:]]) as proxy,
        Load(search_urls(proxy.url), clients=8, seconds=60) as load,
    ):
        time.sleep(1.5)
        first.kill()
        killed_at = time.monotonic() - load.started
        time.sleep(2.5)
    assert load.failures() == [], (load.failures()[:3], proxy.error_log()[-2000:])
    after = [a for a in load.answers if a.at > killed_at]
    assert len(after) > 20 and all(a.status == 200 for a in after)


def test_builds_killed_at_several_points_leave_the_old_index_served(records: Path, index: Path):
    before = version_now(index)
    with pfocr_serve(index, workers=1) as served, Load(search_urls(served.url), clients=2) as load:
        for delay in (0.05, 0.2, 0.4, 0.7):
            build = subprocess.Popen(
                [sys.executable, "-m", "pfocr", "build", str(records), "--index", str(index)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            build.kill()
            build.wait(timeout=BUILD_TIMEOUT)
            now = version_now(index)
            if build.returncode == 0 or now != before:
                continue  # it finished before the kill: nothing to check this time
            status, body = fetch_json(f"{served.url}/api/status")
            assert (status, body["version"], body["status"]) == (200, before, "ok")
        mark(records, "after")
        done = pfocr("build", str(records), "--index", str(index), "--quiet")
        assert done.returncode == 0, done.stderr
        wait_until(
            lambda: (
                stat3_title(fetch_json(f"{served.url}/api/search?gene=STAT3")[1])
                == "STAT3 network after"
            ),
            SWAP_SECONDS,
        )
    assert load.failures() == [], load.failures()[:3]
    leftovers = [p.name for p in (index / "generations").iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


@pytest.mark.parametrize("damage", ["missing", "no-generation", "corrupt", "corrupt-with-older"])
def test_a_bad_index_at_start_is_a_message_and_an_exit_status(
    damage: str, index: Path, tmp_path: Path
):
    root = index
    if damage == "missing":
        root = tmp_path / "nothing-here"
    elif damage == "no-generation":
        shutil.rmtree(IndexStore(index).current())
    else:
        store = IndexStore(index)
        partial = store.new_generation()
        shutil.copytree(store.current(), partial, dirs_exist_ok=True)
        figids = partial / ARRAYS_DIR / "docs" / "figids.strings.npy"
        figids.write_bytes(figids.read_bytes()[:100])
        store.publish(partial)
        if damage == "corrupt":
            for path in store.complete_generations():
                if path != store.current():
                    shutil.rmtree(path)
    done = subprocess.run(
        serve_command(root, "--port", "0", "--workers", "1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("pfocr: "), done.stderr
    if damage.startswith("corrupt"):
        assert (
            "figids.strings.npy" in done.stderr and "rebuild it with `pfocr build`" in done.stderr
        )
    else:
        assert "pfocr build" in done.stderr


def metrics_showing(url: str, lines: list[str], seconds: float = 10.0) -> str:
    """``/metrics`` once it shows every one of ``lines``, or as it is after ``seconds``. A
    request is counted once its last byte is sent (exports stream), so the other worker
    can answer ``/metrics`` before the one that answered the request has counted it
    (it did, once in CI: the 404 just asked was missing)."""
    deadline = time.monotonic() + seconds
    while True:
        metrics = fetch(f"{url}/metrics")[2].decode()
        if all(line in metrics for line in lines) or time.monotonic() > deadline:
            return metrics
        time.sleep(0.05)


def test_metrics_and_access_log_cover_every_worker(index: Path, tmp_path: Path):
    log = tmp_path / "access.log"
    asked = 0
    with pfocr_serve(index, "--access-log", str(log), workers=2) as served:
        answered: set[int] = set()
        while answered != served.workers() and asked < 400:  # until both have answered

            def status(_: int) -> int:
                return fetch_json(f"{served.url}/api/status")[1]["worker_pid"]

            with ThreadPoolExecutor(8) as pool:
                answered |= set(pool.map(status, range(8)))
            asked += 8
        status, _, searched = fetch(f"{served.url}/api/search?q=signaling")
        assert status == 200
        assert fetch(f"{served.url}/api/genes/NO_SUCH_GENE")[0] == 404
        status_counted = (
            f'pfocr_http_requests_total{{method="GET",route="/api/status",status="200"}} '
            f"{float(asked)}"
        )
        missing_counted = 'route="/api/genes/<path:text>",status="404"'
        metrics = metrics_showing(served.url, [status_counted, missing_counted])
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    status_lines = [line for line in lines if line["path"] == "/api/status"]
    assert len(status_lines) == asked
    assert {line["worker_pid"] for line in status_lines} == answered  # one file, both workers
    (search,) = [line for line in lines if line["path"] == "/api/search"]
    assert search["status"] == 200 and search["results"] > 0 and search["duration_ms"] > 0
    assert search["bytes"] == len(searched)  # read once the answer is sent
    assert search["generation"] == version_now(index) and search["query"] == "q=signaling"
    (missing,) = [line for line in lines if line["path"] == "/api/genes/NO_SUCH_GENE"]
    assert (missing["status"], missing["route"]) == (404, "/api/genes/<path:text>")
    # Summed over both workers; the route is the rule, never the path asked.
    assert status_counted in metrics
    assert missing_counted in metrics
    assert "NO_SUCH_GENE" not in metrics
    assert f"pfocr_index_documents {float(FIGURES)}" in metrics
    assert f'pfocr_index_generation_info{{generation="{version_now(index)}"' in metrics
    assert "pfocr_costly_rejected_total 0.0" in metrics
    assert 'pfocr_cache_lookups_total{cache="answers",result="miss"}' in metrics
    assert 'pfocr_cache_entries{cache="answers"}' in metrics
    assert 'pfocr_http_request_duration_seconds_bucket{le="0.1",route="/api/search"}' in metrics


def test_an_idle_worker_gives_its_heap_back(index: Path):
    """Once no request has run for a while, a worker hands its heap's free pages back to
    the system, and counts them (the first quiet spell frees what start-up used)."""
    with pfocr_serve(index, workers=1) as served:
        assert fetch(f"{served.url}/api/search?q=signaling")[0] == 200
        for _ in range(3):  # each look at /metrics is a request: the spell starts again
            time.sleep(2 * heap.IDLE_TRIM_SECONDS + 0.5)  # the trimmer looks twice a spell
            metrics = fetch(f"{served.url}/metrics")[2].decode()
            (returned,) = [
                float(line.split()[1])
                for line in metrics.splitlines()
                if line.startswith("pfocr_heap_returned_bytes_total ")
            ]
            if returned:
                break
    assert returned > 0


PROCESS_SETTINGS = """
import gc, json, sys, types
from server.web import create_app, heap, serving
# glibc's settings cannot be read back: note what each call returned (what they do is
# tests/test_heap.py's, in a process of its own, whose heap this one's start-up cannot fill)
glibc = {}
for name in ("fix_mmap_threshold", "limit_arenas"):
    def noted(call=getattr(heap, name), name=name):
        glibc[name] = call()
        return glibc[name]
    setattr(heap, name, noted)
root = sys.argv[1]
if sys.argv[2] == "worker":  # what gunicorn calls in each worker after the fork
    app = create_app(root)
    serving._post_worker_init(types.SimpleNamespace(wsgi=app))
    app.extensions["pfocr"].generations.close()
else:
    serving.make_server(root, port=0).close()
print(json.dumps([gc.get_threshold()[0], sys.getswitchinterval(), glibc]))
"""


@pytest.mark.parametrize("process", ["worker", "waitress"])
def test_a_serving_process_has_its_settings(index: Path, process: str):
    """Each serving process switches threads every millisecond, runs the cycle collector
    rarely (its default pass over every cached answer was a fifth of the CPU), and fixes
    glibc's mmap threshold (its heaps fragmented) and arenas, glibc accepting both."""
    from server.web import heap, serving

    done = subprocess.run(
        [sys.executable, "-c", PROCESS_SETTINGS, str(index), process],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    threshold, switch, glibc = json.loads(done.stdout.splitlines()[-1])
    assert threshold == serving.GC_YOUNG_THRESHOLD
    assert switch == pytest.approx(serving.GIL_SWITCH_SECONDS)
    assert glibc == {"fix_mmap_threshold": True, "limit_arenas": True}
    assert heap.MALLOC_MMAP_THRESHOLD <= 2 << 20


WORKER_IMPORTS = """
import json, os, sys
from server.web import create_app, serving
root = sys.argv[1]
modules = serving.check_servable(root)
serving.share_with_workers(modules)
reading, writing = os.pipe()
if os.fork() == 0:  # a worker: what it imports that its master had not
    before = set(sys.modules)
    serving.warm_up(create_app(root))
    os.write(writing, json.dumps(sorted(set(sys.modules) - before)).encode())
    os._exit(0)
os.close(writing)
print(json.dumps([modules, json.loads(os.read(reading, 1 << 20))]))
"""


def test_a_worker_imports_nothing_its_master_has_not(index: Path):
    """Modules a worker imported itself (Whoosh's readers, prometheus_client, the test
    client of its warm-up: about 90) were each worker's own memory; the master imports
    those the check's child imported, so its workers share them."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS, str(index)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    checked, imported_by_worker = json.loads(done.stdout.splitlines()[-1])
    assert {"whoosh.codec.whoosh3", "prometheus_client", "flask.testing"} <= set(checked)
    assert imported_by_worker == []


def test_modules_a_worker_cannot_import_are_left_to_it():
    """A name the master cannot import (gone since the check, say) is skipped: the worker
    meets the same error in its own start, where it is reported."""
    script = (
        "import sys; from server.web import serving; "
        "serving.share_with_workers(['no_such_module_for_pfocr', 'colorsys']); "
        "print('colorsys' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]


class _Future:
    def add_done_callback(self, callback) -> None:
        pass

    def cancelled(self) -> bool:
        return True  # finish_request then closes the connection


class _Pool:
    def submit(self, *args) -> _Future:
        return _Future()


class _Connection:
    def close(self, graceful: bool = False) -> None:
        pass


def _idle_worker(threads: int) -> serving.SearchWorker:
    """A SearchWorker's accepting state alone (no sockets, no threads)."""
    worker = object.__new__(serving.SearchWorker)
    worker.cfg = types.SimpleNamespace(threads=threads)
    worker.sockets, worker._accepting = [], True
    worker.tpool, worker.nr_conns = _Pool(), 0
    return worker


def test_a_worker_busy_on_every_thread_leaves_new_connections_a_moment(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(serving.time, "monotonic", lambda: now[0])
    worker = _idle_worker(threads=2)
    worker.enqueue_req(_Connection())
    assert worker._accepting  # a thread is still free
    worker.enqueue_req(_Connection())
    assert not worker._accepting
    worker.set_accept_enabled(True)  # the run loop asks again after each event
    assert not worker._accepting
    now[0] += serving.ACCEPT_WAIT_SECONDS + 0.001
    worker.set_accept_enabled(True)  # still busy, but new clients must not wait for good
    assert worker._accepting
    worker.enqueue_req(_Connection())  # one more: busy again from now
    assert not worker._accepting
    worker.finish_request(_Connection(), _Future())
    worker.finish_request(_Connection(), _Future())
    worker.set_accept_enabled(True)  # a thread is free
    assert worker._accepting and worker.in_flight == 1


def test_clients_connecting_at_once_are_shared_by_the_workers(index: Path):
    """Kept-alive connections stay with the worker that took them: a burst of clients
    is spread over the workers, not taken mostly by the first to wake."""
    clients = 24
    with pfocr_serve(index, workers=2) as served:
        host, port = served.url.removeprefix("http://").split(":")
        start = threading.Barrier(clients)

        def client(_: int) -> int:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            start.wait()
            for page in range(1, 9):
                connection.request("GET", f"/api/search?q=signaling+pathway&page={page}")
                assert connection.getresponse().read()
            connection.request("GET", "/api/status")
            pid = json.loads(connection.getresponse().read())["worker_pid"]
            connection.close()
            return pid

        with ThreadPoolExecutor(clients) as pool:
            shares = Counter(pool.map(client, range(clients)))
    # without the wait: 22 and 2 in three runs of four; with it, 10 to 12 the fewer
    assert len(shares) == 2 and min(shares.values()) >= clients // 3, shares
