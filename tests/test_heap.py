"""The serving process's heap: given back to the system once idle, never under load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from server.web.heap import IdleTrimmer
from tests.conftest import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def trimmer(clock: Clock, freed: list[int]) -> IdleTrimmer:
    return IdleTrimmer(2.0, on_trim=freed.append, trim=lambda: 4096, clock=clock)


def test_the_heap_is_trimmed_once_per_quiet_spell_after_requests():
    clock, freed = Clock(), []
    idle = trimmer(clock, freed)
    clock.now += 2.0
    assert idle.trim_if_idle() == 4096  # what start-up used
    with idle.serving():
        clock.now += 0.5
    clock.now += 1.9
    assert idle.trim_if_idle() is None  # quiet for 1.9 s only
    clock.now += 0.1
    assert idle.trim_if_idle() == 4096
    clock.now += 60
    assert idle.trim_if_idle() is None  # nothing served since
    assert freed == [4096, 4096]


def test_the_heap_is_never_trimmed_while_a_request_runs():
    clock, freed = Clock(), []
    idle = trimmer(clock, freed)
    with idle.serving():
        clock.now += 600  # a long export
        assert idle.trim_if_idle() is None
        with idle.serving():  # and another beside it, ending first
            clock.now += 5
        clock.now += 5
        assert idle.trim_if_idle() is None
    assert idle.trim_if_idle() is None  # just ended
    clock.now += 2
    assert idle.trim_if_idle() == 4096 and freed == [4096]


TRIM_FREES = """
import ctypes, json
from server.web import heap
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(64 << 10) for _ in range(1024)]  # 64 MB below the mmap threshold
for block in blocks:
    ctypes.memset(block, 1, 64 << 10)  # resident
for block in blocks[:-1]:
    libc.free(block)  # free, but below the last block: glibc keeps it
print(json.dumps(heap.trim()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trimming_gives_the_heaps_free_pages_back():
    done = subprocess.run(
        [sys.executable, "-c", TRIM_FREES], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) > 48 << 20  # of the 64 MB freed


THREADS_ALLOCATE = """
import ctypes, sys, threading
from server.web import heap
if sys.argv[1] == "limited":
    assert heap.limit_arenas()
def allocate():
    kept = [bytearray(100_000) for _ in range(50)]  # malloc'd in this thread's arena
    barrier.wait()  # all at once, so that none can take over another's arena
barrier = threading.Barrier(4)
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
@pytest.mark.parametrize(("mode", "arenas"), [("limited", 1), ("default", 2)])
def test_a_serving_process_keeps_its_threads_to_one_arena(mode: str, arenas: int):
    """(and without the limit, threads allocating together get arenas of their own)"""
    done = subprocess.run(
        [sys.executable, "-c", THREADS_ALLOCATE, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = done.stderr.count("Arena ")
    assert found == arenas if mode == "limited" else found >= arenas, done.stderr


MMAP_THRESHOLD = """
import ctypes, json, sys
from server.web import heap
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
# A hole in the heap, as a worker's start-up leaves: 6 MB of small blocks freed below one
# still in use (glibc keeps them, coalesced, for later requests of any size that fits).
blocks = [libc.malloc(64 << 10) for _ in range(96)]
kept = libc.malloc(64 << 10)
for block in blocks:
    libc.free(block)
if sys.argv[1] == "fixed":
    assert heap.fix_mmap_threshold()
# Left to itself, glibc raises its threshold to the size of a freed mapped block, and a
# smaller block then comes from the heap, growing it; fixed, the block is mapped. Read from
# the block's own header: glibc's IS_MMAPPED bit (0x2) in the size word before it.
freed, asked = (int(n) << 20 for n in sys.argv[2:4])
libc.free(libc.malloc(freed))
block = libc.malloc(asked)
print(json.dumps(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mmap threshold")
@pytest.mark.parametrize(("mode", "mapped"), [("fixed", 2), ("default", 0)])
def test_blocks_over_the_fixed_threshold_are_mapped_whatever_the_heap_holds(mode, mapped):
    """A block the heap cannot hold (larger than any hole in it) is mapped once the
    threshold is fixed, and comes from the heap without the fix (glibc raised its
    threshold when a larger mapped block was freed)."""
    done = subprocess.run(
        # 20 MB: more than any hole a start-up leaves; 30 MB: under the 32 MB up to which
        # glibc raises its threshold (a block of 2 MB after 4 came from such a hole)
        [sys.executable, "-c", MMAP_THRESHOLD, mode, "30", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == mapped
