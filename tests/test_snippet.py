"""Snippets of huge captions: building one must cost time linear in the caption's length."""

from __future__ import annotations

import time

import yaml

from server.search.hits import snippet
from tests.conftest import STAT3_RECORD, sample_path

STEMS = {"stat3", "signal"}  # words found all over the STAT3 figure's caption


def real_caption() -> str:
    front_matter = sample_path(STAT3_RECORD).read_text(encoding="utf-8").split("---")[1]
    return yaml.safe_load(front_matter)["caption"]


def caption_of(size: int) -> str:
    caption = real_caption() + " "
    return (caption * (size // len(caption) + 1))[:size]


def fastest(text: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        snippet(text, STEMS, set())
        times.append(time.perf_counter() - start)
    return min(times)


def test_snippet_time_grows_linearly_with_the_caption():
    # 8x the text: linear work takes ~8x the time, pairwise (quadratic) work ~64x. The
    # bound is generous so a busy machine cannot fail it; the fastest of a few runs
    # smooths out pauses.
    small, large = caption_of(256 * 1024), caption_of(2 * 1024 * 1024)
    assert large.count("STAT3") > 10_000
    snippet(small, STEMS, set())  # warm the word-form memo, as a running server has
    ratio = fastest(large, 3) / fastest(small, 3)
    assert ratio < 32, f"8x the caption took {ratio:.1f}x the time"


def test_huge_caption_snippet_centres_on_the_matches():
    text = "nothing here " * 20_000 + "STAT3 signaling " * 50 + "nothing here " * 20_000
    html = snippet(text, STEMS, set())
    assert html.startswith("…") and html.endswith("…")
    assert html.count("<mark>") >= 10
