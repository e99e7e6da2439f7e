"""The generation lifecycle: a generation some process reads is never deleted, a reader
sees one generation per consistent block, and a swap lets go of the old one."""

from __future__ import annotations

import gc
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from indexer import pipeline
from indexer.index.store import GenerationGone, IndexStore, pin, unpin
from server.search.generations import Generations
from server.search.models import SearchRequest
from server.search.service import SearchService
from tests.conftest import (
    ROOT,
    STAT3_RECORD,
    copy_sample_with_stat3,
    edit_front_matter,
)

FIGURES = 12
READER_TIMEOUT = 60


@pytest.fixture
def records(tmp_path: Path) -> Path:
    return copy_sample_with_stat3(tmp_path / "records", FIGURES)


def build(records: Path, root: Path, title: str | None = None) -> Path:
    """Build ``records`` into ``root`` (the STAT3 figure titled ``title``); the new
    generation's folder."""
    if title is not None:
        path = records / f"{STAT3_RECORD}.md"
        edit_front_matter(path, lambda r: {**r, "figtitle": title})
    report = pipeline.build([records], root, workers=1, progress=False)
    assert report.published
    current = IndexStore(root).current()
    assert current is not None
    return current


def names(root: Path) -> set[str]:
    return {p.name for p in IndexStore(root).complete_generations()}


def title(service: SearchService) -> str:
    return service.figure(STAT3_RECORD)["title"]


def test_unpinned_generations_beyond_the_two_newest_are_removed(records: Path, tmp_path: Path):
    root = tmp_path / "index"
    first = build(records, root)
    second = build(records, root)
    third = build(records, root)
    assert names(root) == {second.name, third.name}
    assert not first.exists()


def test_a_pinned_generation_outlives_two_more_builds(records: Path, tmp_path: Path):
    root = tmp_path / "index"
    first = build(records, root)
    fd = pin(first)
    second, third = build(records, root), build(records, root)
    assert names(root) == {first.name, second.name, third.name}
    unpin(fd)
    fourth = build(records, root)
    assert names(root) == {third.name, fourth.name}


def test_a_reader_keeps_its_generation_across_two_builds_then_lets_go(
    records: Path, tmp_path: Path
):
    root = tmp_path / "index"
    first = build(records, root, title="first title")
    service = SearchService(root)
    with service.consistent():  # a long request (an export, say) reading the first one
        assert title(service) == "first title"
        build(records, root, title="second title")
        third = build(records, root, title="third title")
        assert first.name in names(root)  # older than the two newest, but read
        assert title(service) == "first title"  # the same generation all along
        assert service.status()["generation"] == first.name
    assert title(service) == "third title"  # the next request moves on
    gc.collect()
    fourth = build(records, root)
    assert names(root) == {third.name, fourth.name}  # the first one let go of
    service.close()


def test_a_generation_pinned_by_another_process_is_kept_until_it_dies(
    records: Path, tmp_path: Path
):
    root = tmp_path / "index"
    first = build(records, root)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from server.search.service import SearchService
                service = SearchService({str(root)!r})
                print(service.status()["generation"], flush=True)
                sys.stdin.read()  # serve until told to stop
                """
            ),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == first.name
        build(records, root)
        build(records, root)
        assert first.exists()
        reader.send_signal(signal.SIGKILL)  # dies without letting go: the kernel does
        reader.wait(timeout=READER_TIMEOUT)
        build(records, root)
        assert not first.exists()
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(timeout=READER_TIMEOUT)
        for stream in (reader.stdin, reader.stdout):
            if stream is not None:
                stream.close()


def test_pinning_a_removed_generation_says_so(records: Path, tmp_path: Path):
    root = tmp_path / "index"
    first = build(records, root)
    shutil.rmtree(first)
    with pytest.raises(GenerationGone):
        pin(first)


def test_calls_outside_a_consistent_block_follow_current(records: Path, tmp_path: Path):
    root = tmp_path / "index"
    build(records, root, title="before")
    service = SearchService(root)
    assert title(service) == "before"
    build(records, root, title="after")
    assert title(service) == "after"
    assert service.search(SearchRequest(q="after"))["total"] >= 1
    service.close()


def test_a_load_is_warmed_and_reported(records: Path, tmp_path: Path):
    root = tmp_path / "index"
    generation = build(records, root)
    warmed = []
    generations = Generations(root, prepare=warmed.append)
    snapshot = generations.snapshot()
    assert warmed == [snapshot]
    assert generations.served() == {"generation": generation.name, "version": snapshot.version}
    assert generations.snapshot() is snapshot  # held, not loaded again
    generations.close()
