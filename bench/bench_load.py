"""Load benchmark: `pfocr serve` under a realistic mix of requests, with locust.

    python -m bench.bench_load --index /work/bench_out/serving-index \\
        [--users 32] [--seconds 60] [--modes w1,w2,nginx] [--rounds 1] [--json out.json]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: locust) and, for the ``nginx``
mode, Debian's nginx. For each mode, in the same run and one after the other:

- ``w1``: ``pfocr serve --workers 1``;
- ``w2``: ``pfocr serve --workers 2``;
- ``nginx``: two replicas (``--workers 1`` each, over the same index folder) behind
  ``deploy/nginx.conf`` (its listen and upstream lines set here, as a user would).

locust runs headless in its own process (``bench/locustfile.py``): ``--users`` clients
in a closed loop (no think time), bounded by ``--seconds`` and by a number of requests
per client. The mix (``MIX``): distinct searches of the search benchmark's query
classes (``bench/search_workload.py``: two common words, two rare words, gene, word +
organism + years, browse, ten genes at least three; each on a few pages, so that repeats are rare), figure pages and records,
gene pages, autocomplete prefixes, and exports (CSV) of rare-word searches, about one
page of figures each, and gene-set enrichments of gene lists seeded by a figure's genes
(``enrichment_requests``).

Printed per mode: requests per second, p50/p95/p99 (ms) and failures per endpoint and in
total; the server's CPU (all its processes, in cores) over the run; the share of lookups
its caches of answers and matches answered (``pfocr_cache_lookups_total``); and each worker's
memory (USS, PSS, RSS in MB, ``psutil.memory_full_info``) at the end of the load, its USS
split into private heap (dirty pages: what the worker truly adds) and index file pages
that only it has read so far (clean: the OS's page cache, shared once another process
reads them, and reclaimable), and again after a quiet spell (``server.web.heap``: an
idle worker gives its heap's free pages back). Then the ratio of ``w2`` to ``w1``
throughput, and what each worker beyond the first adds (USS) as a share of the first's
RSS, at the end of the load and once quiet. Every server listens on
127.0.0.1 and is stopped by its pid; the locust process too. locust runs on the same
machine and takes CPU from the server: its CPU is printed beside the server's, with the
load average (other work on the machine). The machine is shared: compare modes of the
same run only, and see ``--rounds``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.search_workload import draw_workload
from bench.served import STOP_TIMEOUT, Server, free_port, pfocr_serve, wait
from indexer.index.store import IndexStore
from server.search.models import SearchRequest
from server.search.snapshot import Snapshot
from server.web.heap import IDLE_TRIM_SECONDS

ROOT = Path(__file__).resolve().parent.parent
NGINX = os.environ.get("PFOCR_NGINX", "/usr/sbin/nginx")
MIX = {  # endpoint -> weight (a share of the requests)
    "search": 50,
    "figure page": 8,
    "figure api": 4,
    "gene page": 8,
    "suggest": 24,
    "export csv": 4,
    "enrichment": 2,
}
ENRICH_LISTS = 200  # distinct gene lists
ENRICH_LIST_SIZES = (20, 50, 100, 300)
ENRICH_MIN_FIGURE_GENES = 10  # the figures whose genes seed a list
PAGES = 3  # each distinct search is also asked for pages 2..PAGES
MAX_REQUESTS_PER_USER = 20_000
QUIET_SECONDS = 2 * IDLE_TRIM_SECONDS + 1  # after the load: long enough for a worker to trim


# -- the requests ----------------------------------------------------------------------------


def search_path(req: SearchRequest, **extra: Any) -> str:
    params: list[tuple[str, Any]] = []
    if req.q:
        params.append(("q", req.q))
    for name, values in req.filters.items():
        params += [(name, v) for v in values]
    for name in ("year_min", "year_max", "min_genes"):
        if getattr(req, name) is not None:
            params.append((name, getattr(req, name)))
    params += [("page", req.page), ("per_page", req.per_page), ("facets", ",".join(req.facets))]
    params += list(extra.items())
    return "/api/search?" + urllib.parse.urlencode(params)


def plan(index: Path, distinct: int, seed: int) -> dict[str, Any]:
    """Every request the clients will ask, per endpoint, in the order they ask them."""
    rng = random.Random(seed)
    snap = Snapshot(IndexStore(index).require_current())
    try:
        classes = draw_workload(snap, distinct, seed).classes
        searches = [
            search_path(SearchRequest(**{**_fields(r), "page": p}))
            for p in range(1, PAGES + 1)
            for requests in classes.values()
            for r in requests
        ]
        rng.shuffle(searches)
        live = np.flatnonzero(snap.live)
        figids = [snap.figids[d] for d in rng.sample(live.tolist(), min(2000, len(live)))]
        genes = snap.facets["gene"]
        symbols = [genes.values[o] for o in np.argsort(-genes.totals)[:1000]]
        prefixes = sorted({s[:n].lower() for s in symbols for n in (1, 2, 3) if len(s) >= n})
        rng.shuffle(prefixes)
        rare = [r.q for r in classes.get("two_rare", [])] or ["pathway"]
        requests = {
            "search": [["GET", p, None] for p in searches],
            "figure page": [["GET", f"/figures/{urllib.parse.quote(f)}", None] for f in figids],
            "figure api": [["GET", f"/api/figures/{urllib.parse.quote(f)}", None] for f in figids],
            "gene page": [
                ["GET", f"/genes/{urllib.parse.quote(s, safe='')}?page={1 + i % 2}", None]
                for i, s in enumerate(rng.sample(symbols, len(symbols)))
            ],
            "suggest": [["GET", f"/api/suggest?q={urllib.parse.quote(p)}", None] for p in prefixes],
            "export csv": [
                ["GET", "/api/search?" + urllib.parse.urlencode({"q": w, "format": "csv"}), None]
                for w in rare
            ],
            "enrichment": enrichment_requests(snap, rng),
        }
    finally:
        snap.close()
    mix = {name: weight for name, weight in MIX.items() if requests[name]}
    return {"mix": mix, "requests": requests}


def enrichment_requests(snap: Snapshot, rng: random.Random) -> list[list[Any]]:
    """The enrichment requests of the mix: ``[method, path, JSON body or None]``. Each is
    a gene list as a biologist brings one, ``ENRICH_LIST_SIZES`` long, as one text of one
    gene per line: up to half of it the genes of one figure (a pathway the list should
    find; at least ``ENRICH_MIN_FIGURE_GENES``), the rest drawn from the index's genes
    (the noise of a real experiment)."""
    genes = snap.facets["gene"]
    rich = np.flatnonzero(np.diff(genes.doc_ptr) >= ENRICH_MIN_FIGURE_GENES)
    rich = rich[snap.live[rich]]
    if len(rich) == 0 or len(genes) == 0:
        return []
    requests = []
    for figure in rng.sample(rich.tolist(), min(ENRICH_LISTS, len(rich))):
        size = rng.choice(ENRICH_LIST_SIZES)
        own = genes.doc_vals[genes.doc_ptr[figure] : genes.doc_ptr[figure + 1]].tolist()
        own = rng.sample(own, min(len(own), max(size // 2, ENRICH_MIN_FIGURE_GENES)))
        noise = [rng.randrange(len(genes)) for _ in range(size - len(own))]
        symbols = list(dict.fromkeys(genes.values[o] for o in own + noise))
        requests.append(["POST", "/api/enrich", {"genes": "\n".join(symbols)}])
    return requests


def _fields(req: SearchRequest) -> dict[str, Any]:
    return {
        "q": req.q,
        "filters": {k: list(v) for k, v in req.filters.items()},
        "year_min": req.year_min,
        "year_max": req.year_max,
        "min_genes": req.min_genes,
        "per_page": req.per_page,
        "facets": list(req.facets),
    }


# -- servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def nginx(replicas: list[Server], folder: Path) -> Iterator[str]:
    """``deploy/nginx.conf`` (listen and upstream lines set) in front of ``replicas``."""
    for sub in ("logs", "tmp", "cache", "deploy"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    text = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*)listen [^;]+;", rf"\1listen 127.0.0.1:{port};", text)
    servers = "".join(
        f"        server {r.url.removeprefix('http://')} max_fails=1 fail_timeout=10s;\n"
        for r in replicas
    )
    text = re.sub(r"(?m)(^\s*server \S+[^;\n]*;\n)+", servers, text, count=1)
    (folder / "deploy" / "nginx.conf").write_text(text, encoding="utf-8")
    # In the foreground; started by root, its workers as root too (not nobody, who
    # cannot write into this private temporary folder).
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    command = [NGINX, "-p", f"{folder}/", "-c", "deploy/nginx.conf", "-g", directives]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(lambda: _listening(port), 30, "nginx", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class CpuMeter:
    """CPU seconds used by the server processes over the run (sampled, so that workers
    replaced meanwhile still count)."""

    servers: list[Server]
    seen: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> CpuMeter:
        self.start_cpu = self._sample()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> float:
        for server in self.servers:
            for proc in server.processes():
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    self.seen[proc.pid] = times.user + times.system
        return sum(self.seen.values())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.cores = (self._sample() - self.start_cpu) / (time.monotonic() - self.started)


def memory(servers: list[Server]) -> list[dict[str, float]]:
    out = []
    for server in servers:
        for proc in server.worker_processes():
            with contextlib.suppress(psutil.Error):
                info = proc.memory_full_info()
                mb = 1024 * 1024
                out.append(
                    {
                        "pid": proc.pid,
                        "uss": info.uss / mb,
                        "pss": info.pss / mb,
                        "rss": info.rss / mb,
                        **private_pages(proc.pid),
                    }
                )
    return out


def private_pages(pid: int) -> dict[str, float]:
    """A process's private memory in MB: dirty pages (its heap) and clean ones (files it
    alone has mapped and read), from Linux's ``/proc/PID/smaps_rollup``."""
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    try:
        lines = rollup.read_text().splitlines()[1:]
    except OSError:
        return {}
    kib = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines)}
    return {"heap": kib["Private_Dirty"] / 1024, "file": kib["Private_Clean"] / 1024}


def run_locust(url: str, plan_file: Path, users: int, seconds: int, out: Path) -> dict[str, Any]:
    prefix = out / "locust"
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
        "--headless", "--only-summary", "--skip-log-setup", "-u", str(users), "-r", str(users),
        "-t", f"{seconds}s", "--stop-timeout", "5", "--host", url, "--csv", str(prefix),
        "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {
        **os.environ,
        "PFOCR_LOAD_PLAN": str(plan_file),
        "PFOCR_LOAD_MAX_REQUESTS": str(MAX_REQUESTS_PER_USER),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, err = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=STOP_TIMEOUT)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # locust is the child just waited for
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise SystemExit(f"locust wrote no statistics:\n{err.decode(errors='replace')[-3000:]}")
    with open(stats_file, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"rows": rows, "elapsed": elapsed, "client_cpu": client_cpu}


def summarise(rows: list[dict[str, str]], seconds: int) -> dict[str, dict[str, float]]:
    out = {}
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "all"
        count = int(row["Request Count"])
        if not count:
            continue
        out[name] = {
            "requests": count,
            "rps": count / seconds,
            "p50": float(row["50%"]),
            "p95": float(row["95%"]),
            "p99": float(row["99%"]),
            "failures": int(row["Failure Count"]),
        }
    return out


def measure(mode: str, args: argparse.Namespace, plan_file: Path, work: Path) -> dict[str, Any]:
    log = work / f"{mode}.log"
    with contextlib.ExitStack() as stack:
        if mode in ("w1", "w2"):
            servers = [stack.enter_context(pfocr_serve(args.index, int(mode[1]), log))]
            url = servers[0].url
        elif mode == "nginx":
            servers = [stack.enter_context(pfocr_serve(args.index, 1, log)) for _ in range(2)]
            url = stack.enter_context(nginx(servers, work / "nginx"))
        else:
            raise SystemExit(f"unknown mode {mode!r}: w1, w2 or nginx")
        out = work / mode
        out.mkdir(exist_ok=True)
        with CpuMeter(servers) as cpu:
            result = run_locust(url, plan_file, args.users, args.seconds, out)
        used = memory(servers)
        caches = cache_lookups(servers)
        time.sleep(QUIET_SECONDS)
        quiet = memory(servers)
    return {
        "endpoints": summarise(result["rows"], args.seconds),
        "cpu_cores": cpu.cores,
        "client_cpu_cores": result["client_cpu"] / result["elapsed"],
        "load_average": os.getloadavg()[0],
        "memory": used,
        "memory_quiet": quiet,
        "caches": caches,
    }


def cache_lookups(servers: list[Server]) -> dict[str, dict[str, float]]:
    """The servers' cache lookups so far (``pfocr_cache_lookups_total``, summed over
    them): cache -> {"hit": n, "miss": n}."""
    found: dict[str, dict[str, float]] = {}
    for server in servers:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "pfocr_cache_lookups_total":
                    counts = found.setdefault(sample.labels["cache"], {"hit": 0.0, "miss": 0.0})
                    counts[sample.labels["result"]] += sample.value
    return found


def print_mode(mode: str, result: dict[str, Any]) -> None:
    print(
        f"\n{mode}: server CPU {result['cpu_cores']:.2f} cores, locust CPU "
        f"{result['client_cpu_cores']:.2f} cores, load average {result['load_average']:.1f}"
    )
    header = f"  {'endpoint':12} {'requests':>8} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'fail':>5}"
    print(header)
    for name, row in sorted(result["endpoints"].items(), key=lambda kv: kv[0] == "all"):
        print(
            f"  {name:12} {row['requests']:8d} {row['rps']:7.1f} {row['p50']:6.0f} "
            f"{row['p95']:6.0f} {row['p99']:6.0f} {row['failures']:5d}"
        )
    for cache, counts in sorted(result.get("caches", {}).items()):
        asked = counts["hit"] + counts["miss"]
        share = f" ({100 * counts['hit'] / asked:.0f}%)" if asked else ""
        print(f"  {cache} cache: {counts['hit']:.0f} hits of {asked:.0f} lookups{share}")
    for when, key in (("at the end", "memory"), ("once quiet", "memory_quiet")):
        print_memory(when, result[key])


def print_memory(when: str, workers: list[dict[str, float]]) -> None:
    print(f"  memory {when}:")
    for m in workers:
        private = f" (heap {m['heap']:.0f}, index pages {m['file']:.0f})" if "heap" in m else ""
        print(
            f"    worker {m['pid']}: USS {m['uss']:.0f} MB{private}, PSS {m['pss']:.0f} MB, "
            f"RSS {m['rss']:.0f} MB"
        )
    if len(workers) > 1:
        first, others = workers[0], workers[1:]
        adds = statistics.median(m["uss"] / first["rss"] for m in others)
        print(f"    a worker beyond the first adds USS {100 * adds:.0f}% of the first's RSS")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index root to serve")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--modes", default="w1,w2,nginx")
    parser.add_argument("--rounds", type=int, default=1, help="run every mode this many times")
    parser.add_argument("--distinct", type=int, default=50, help="distinct queries per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "nginx" in modes and not Path(NGINX).exists():
        raise SystemExit(f"{NGINX} not found: install Debian's nginx, or leave out the nginx mode")

    work = Path(tempfile.mkdtemp(prefix="pfocr-bench-load-"))
    try:
        print(f"planning the requests over {args.index} ...", flush=True)
        plan_file = work / "plan.json"
        load_plan = plan(args.index, args.distinct, args.seed)
        plan_file.write_text(json.dumps(load_plan))
        counts = {k: len(v) for k, v in load_plan["requests"].items()}
        print(f"  distinct requests per endpoint: {counts}; mix: {load_plan['mix']}")
        print(f"  {args.users} users, {args.seconds} s per mode, {psutil.cpu_count()} cores")
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for round_ in range(args.rounds):
            for mode in modes:
                print(f"round {round_ + 1}: {mode} ...", flush=True)
                results[mode].append(measure(mode, args, plan_file, work))
                print_mode(mode, results[mode][-1])
        if "w1" in results and "w2" in results:
            ratios = [
                b["endpoints"]["all"]["rps"] / a["endpoints"]["all"]["rps"]
                for a, b in zip(results["w1"], results["w2"], strict=True)
            ]
            print(
                f"\nthroughput --workers 2 / --workers 1: median {statistics.median(ratios):.2f}x "
                f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
