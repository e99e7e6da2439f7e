"""What huge or hostile input costs: snippets of huge captions, and checking huge values.

    python -m bench.bench_hostile_input [--runs 3]

Prints, for each case, the fastest of ``--runs`` runs in seconds. Captions repeat the
real caption of the bundled STAT3 figure; values are what a 1 MiB JSON body can carry.
No index, no HTTP, no network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from server.search.hits import snippet
from server.search.models import InvalidParameter, text
from server.web import params

STAT3_RECORD = (
    Path(__file__).resolve().parent.parent
    / "sample_data/pfocr/PMC7513516__12943_2020_1258_Fig1_HTML.md"
)
MEGABYTE = 1024 * 1024


def caption_of(size: int) -> str:
    front_matter = STAT3_RECORD.read_text(encoding="utf-8").split("---")[1]
    caption = yaml.safe_load(front_matter)["caption"] + " "
    return (caption * (size // len(caption) + 1))[:size]


def fastest(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.suppress(InvalidParameter):  # refusing is the work measured
            work()
        times.append(time.perf_counter() - start)
    return min(times)


def cases() -> dict[str, Callable[[], object]]:
    found: dict[str, Callable[[], object]] = {}
    for size in (MEGABYTE // 4, 400_000, 2 * MEGABYTE):
        caption = caption_of(size)
        found[f"snippet of a {size / MEGABYTE:.2f} MB caption"] = lambda c=caption: snippet(
            c, {"stat3", "signal"}, set()
        )
    for label, char in (("ASCII", "y"), ("Latin", "é"), ("emoji", "\U0001f600")):
        value = char * MEGABYTE
        found[f"text check of 1M {label} characters"] = lambda v=value: text("q", v)
    body = json.dumps({"x" * MEGABYTE: 1}).encode()
    found["1 MB unknown parameter name"] = lambda: params.check_known(
        params.from_json_body(body), params.EXPORT_PARAMS
    )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    for label, work in cases().items():
        fastest(work, 1)  # warm memos, as a running server has them
        print(f"{label:<40} {fastest(work, args.runs):8.4f} s")


if __name__ == "__main__":
    main()
