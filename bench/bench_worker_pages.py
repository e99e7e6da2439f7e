"""Which of the master's memory pages a serving worker copies, and what is on them.

    python -m bench.bench_worker_pages --index PATH [--requests 300]

A process does what ``pfocr serve``'s master does before forking (imports the app, loads
the shared word data, freezes the collector), then forks a twin that only waits and a
worker that does what a gunicorn worker does (its process settings, the app, the
generation loaded and warmed) and answers ``--requests`` requests of ``bench_load``'s
mix through the app, one after another. Then each page of the master's writable memory is
compared between worker and twin (``/proc/PID/pagemap``: a page whose frame differs was
copied by a write in the worker); the master names the objects on the copied pages.

Reading page frames needs root (CAP_SYS_ADMIN); without it the script says so and stops.
The objects named are those the collector tracks, what they refer to, and the code
objects' constants and names (by address: an object spanning pages counts on each); a
copied page with none of them on it holds memory that is no object: free blocks that the
worker's new objects filled, containers' item tables, numpy buffers.
"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_FRAME = (1 << 55) - 1


def writable_private_mappings(pid: int) -> Iterator[tuple[int, int, str]]:
    """``(start, end, name)`` of each private writable mapping of ``pid``."""
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if fields[1].startswith("rw") and fields[1].endswith("p"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                name = fields[5] if len(fields) > 5 else ""
                yield start, end, os.path.basename(name) if name.startswith("/") else name


def frames(pid: int, start: int, end: int) -> tuple[int, ...]:
    """The pagemap entries of ``pid``'s pages from ``start`` to ``end``."""
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        pagemap.seek(start // PAGE * 8)
        data = pagemap.read((end - start) // PAGE * 8)
    return struct.unpack(f"{len(data) // 8}Q", data)


def frames_readable() -> bool:
    """Whether this process sees page frame numbers (zero without CAP_SYS_ADMIN)."""
    probe = bytearray(PAGE)  # touched: present
    address = id(probe)
    entry = frames(os.getpid(), address // PAGE * PAGE, address // PAGE * PAGE + PAGE)[0]
    return bool(entry & _PRESENT and entry & _FRAME)


def copied_pages(master: int, twin: int, worker: int) -> tuple[list[int], dict[str, int]]:
    """The addresses of the master's pages that the worker holds in other frames than
    the twin (which shares the master's as they were at the fork), and their count per
    mapping."""
    copied: list[int] = []
    per_mapping: collections.Counter[str] = collections.Counter()
    for start, end, name in writable_private_mappings(master):
        try:
            theirs, ours = frames(twin, start, end), frames(worker, start, end)
        except OSError:  # [vsyscall] and the like
            continue
        for index, (a, b) in enumerate(zip(theirs, ours, strict=True)):
            if a & b & _PRESENT and (a & _FRAME) != (b & _FRAME):
                copied.append(start + index * PAGE)
                per_mapping[name or "anonymous"] += 1
    return copied, per_mapping


def objects_by_page(pages: set[int]) -> dict[int, collections.Counter[str]]:
    """For each of ``pages``, the bytes of each kind of object on it."""
    found: dict[int, Any] = {}
    kinds: dict[int, str] = {}

    def add_code(code: types.CodeType) -> None:
        if id(code) in found:
            return
        found[id(code)] = code
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                add_code(constant)
                continue
            for item in (constant, *(constant if isinstance(constant, tuple) else ())):
                found.setdefault(id(item), item)
                kinds.setdefault(id(item), "code constant")
        for name in (*code.co_names, *code.co_varnames, *code.co_freevars, *code.co_cellvars):
            found.setdefault(id(name), name)
            kinds.setdefault(id(name), "code name")

    for obj in gc.get_objects():
        found[id(obj)] = obj
        for referent in gc.get_referents(obj):
            if isinstance(referent, types.CodeType):
                add_code(referent)
            found.setdefault(id(referent), referent)
    inline = (tuple, str, bytes, int, types.CodeType)  # items in the object itself
    by_page: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for address, obj in found.items():
        size = sys.getsizeof(obj) if isinstance(obj, inline) else type(obj).__basicsize__
        kind = kinds.get(address) or type(obj).__name__
        first, last = address // PAGE * PAGE, (address + size - 1) // PAGE * PAGE
        for page in range(first, last + 1, PAGE):
            if page in pages:
                by_page[page][kind] += size
    return by_page


PLAN = (
    "import json, sys; from bench.bench_load import plan; from pathlib import Path; "
    "json.dump(plan(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])), sys.stdout)"
)


def write_plan(index: Path, requests: int, seed: int, folder: Path) -> Path:
    """bench_load's requests, drawn in another process: drawn in the master, their
    strings would be the master's objects, which the worker would copy by reading them."""
    path = folder / "plan.json"
    distinct = str(max(20, requests // 10))
    with path.open("w") as out:
        subprocess.run(
            [sys.executable, "-c", PLAN, str(index), distinct, str(seed)],
            stdout=out,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    return path


def serve_requests(index: Path, requests: int, seed: int, plan: Path) -> None:
    """In the worker: start as a gunicorn worker does, then answer ``requests`` of the
    load mix through the app (read whole and closed, as a WSGI server does)."""
    from werkzeug.test import EnvironBuilder

    from server.web import create_app, serving

    serving.configure_process()
    app = create_app(index)
    serving.warm_up(app)
    if not requests:
        return
    mix = json.loads(plan.read_text())
    names = list(mix["mix"])
    weights = [mix["mix"][name] for name in names]
    queues = {name: itertools.cycle(mix["requests"][name]) for name in names}
    rng = random.Random(seed)
    for _ in range(requests):
        method, path, body = next(queues[rng.choices(names, weights)[0]])
        environ = EnvironBuilder(path=path, method=method, json=body).get_environ()
        answer = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(answer)
        answer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index root")
    parser.add_argument("--requests", type=int, default=300, help="of bench_load's mix")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not frames_readable():
        print("page frames are not readable here (run as root): nothing measured")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="worker-pages-"))
    plan = write_plan(args.index, args.requests, args.seed, folder)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(folder))
    from server.web import serving

    # what the master does before forking its workers
    serving.share_with_workers(serving.check_servable(args.index))
    twin_waits, release_twin = os.pipe()
    twin = os.fork()
    if twin == 0:
        os.read(twin_waits, 1)
        os._exit(0)
    worker_done, tell_done = os.pipe()
    worker_waits, release_worker = os.pipe()
    worker = os.fork()
    if worker == 0:
        try:
            serve_requests(args.index, args.requests, args.seed, plan)
        finally:
            os.write(tell_done, b"x")
            os.read(worker_waits, 1)
            os._exit(0)
    os.read(worker_done, 1)
    try:
        copied, per_mapping = copied_pages(os.getpid(), twin, worker)
    finally:
        os.write(release_worker, b"x")
        os.write(release_twin, b"x")
        os.waitpid(worker, 0)
        os.waitpid(twin, 0)
        shutil.rmtree(folder, ignore_errors=True)
    report(copied, per_mapping, args.requests)
    return 0


def report(copied: list[int], per_mapping: dict[str, int], requests: int) -> None:
    mb = PAGE / 2**20
    print(json.dumps({"requests": requests, "copied_mb": round(len(copied) * mb, 1)}))
    print(f"the worker copied {len(copied) * mb:.1f} MB of the master's pages, by mapping:")
    for name, pages in sorted(per_mapping.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name:50s} {pages * mb:6.1f} MB")
    gc.unfreeze()  # the collector's view of the master's objects, to name them
    by_page = objects_by_page(set(copied))
    kinds: collections.Counter[str] = collections.Counter()
    for weights in by_page.values():
        kinds[weights.most_common(1)[0][0]] += 1
    unnamed = (len(copied) - len(by_page)) * mb
    print(f"by the objects mostly on them ({unnamed:.1f} MB of pages hold none of them):")
    for kind, pages in kinds.most_common(12):
        print(f"  {kind:30s} {pages * mb:6.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
