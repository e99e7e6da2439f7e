"""The costly-query gate: turns counted across threads and processes, and given back by a
process that dies holding one."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from server.search.gate import ProcessGate, ThreadGate
from tests.conftest import ROOT

WAIT = 0.05


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_gate_gives_as_many_turns_as_it_has_slots(kind: str, tmp_path: Path):
    gate = ThreadGate(2) if kind == "thread" else ProcessGate(tmp_path / "gate", 2)
    assert gate.acquire(WAIT) and gate.acquire(WAIT)
    assert not gate.acquire(WAIT)
    gate.release()
    assert gate.acquire(WAIT)
    gate.release()
    gate.release()


def test_threads_of_one_process_take_turns(tmp_path: Path):
    gate = ProcessGate(tmp_path / "gate", 1)
    assert gate.acquire(WAIT)
    got: list[bool] = []
    other = threading.Thread(target=lambda: got.append(gate.acquire(WAIT)))
    other.start()
    other.join()
    assert got == [False]
    gate.release()
    other = threading.Thread(target=lambda: got.append(gate.acquire(WAIT)) or gate.release())
    other.start()
    other.join()
    assert got == [False, True]


def test_a_waiting_turn_starts_as_soon_as_one_is_free(tmp_path: Path):
    gate = ProcessGate(tmp_path / "gate", 1)
    holding = threading.Event()

    def hold_briefly() -> None:
        assert gate.acquire(WAIT)
        holding.set()
        time.sleep(0.1)
        gate.release()  # a turn is given back by the thread that took it

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    holding.wait(5)
    assert gate.acquire(5)
    gate.release()
    holder.join()


def test_a_process_killed_in_its_turn_gives_it_back(tmp_path: Path):
    folder = tmp_path / "gate"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from server.search.gate import ProcessGate
                assert ProcessGate({str(folder)!r}, 1).acquire(5)
                print("holding", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        gate = ProcessGate(folder, 1)
        assert not gate.acquire(WAIT)  # another process holds the only turn
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert gate.acquire(5)  # the kernel let go of its lock
        gate.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()
