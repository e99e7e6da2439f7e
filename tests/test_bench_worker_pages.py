"""The worker-pages diagnostic: a worker's copies of the master's pages found and named."""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import subprocess
import sys

import pytest

from bench import bench_worker_pages
from tests.conftest import ROOT, ShapeBuilder


def test_a_worker_serving_requests_copies_pages_and_they_are_named(
    index_shapes: ShapeBuilder,
):
    if not bench_worker_pages.frames_readable():
        pytest.skip("page frame numbers need root (CAP_SYS_ADMIN) here")
    index = index_shapes("one-segment")
    command = ["-m", "bench.bench_worker_pages", "--index", str(index), "--requests", "40"]
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    summary = json.loads(lines[0])
    assert summary["requests"] == 40 and summary["copied_mb"] > 1  # code runs: it copies
    assert any(line.split()[0] == "code" for line in lines[2:] if line.startswith("  "))


def test_the_copies_are_pages_whose_frames_differ():
    """A page written after a fork is in another frame than the parent's; one only read
    stays in the same frame."""
    if not bench_worker_pages.frames_readable():
        pytest.skip("page frame numbers need root (CAP_SYS_ADMIN) here")
    page = bench_worker_pages.PAGE
    pages = mmap.mmap(-1, 4 * page, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    pages.write(b"x" * len(pages))  # every page present
    start = ctypes.addressof(ctypes.c_char.from_buffer(pages))
    written, tell_written = os.pipe()
    release, tell_release = os.pipe()
    child = os.fork()
    if child == 0:
        pages[page] = ord("y")  # the second page written
        os.write(tell_written, b"x")
        os.read(release, 1)
        os._exit(0)
    try:
        assert os.read(written, 1) == b"x"
        ours = bench_worker_pages.frames(os.getpid(), start, start + len(pages))
        theirs = bench_worker_pages.frames(child, start, start + len(pages))
        differ = [a != b for a, b in zip(ours, theirs, strict=True)]
    finally:
        os.write(tell_release, b"x")
        os.waitpid(child, 0)
    assert differ == [False, True, False, False]
