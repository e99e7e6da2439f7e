"""What a build, update or check did: counts, timings and every rejected record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from indexer.errors import RecordError


@dataclass
class Report:
    command: str
    sources: list[str]
    index: str | None = None
    files_read: int = 0
    records_read: int = 0
    figures_indexed: int = 0  # added or replaced by this run
    figures_unchanged: int = 0  # update only: kept as they were
    figures_removed: int = 0  # update only: their records are gone
    documents: int = 0  # figures in the index after the run
    rejected: list[dict[str, Any]] = field(default_factory=list)
    published: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step of the run
    started_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    seconds: float = 0.0

    @property
    def figures_rejected(self) -> int:
        return len(self.rejected)

    def stopwatch(self) -> Callable[[str], None]:
        """A function that records the seconds since its last call as ``phases[name]``."""
        last = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal last
            now = time.perf_counter()
            self.phases[name] = round(now - last, 3)
            last = now

        return lap

    def reject(self, error: RecordError) -> None:
        self.rejected.append(error.as_dict())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["figures_rejected"] = self.figures_rejected
        return data

    def summary(self) -> str:
        parts = [
            f"{self.files_read} files read",
            f"{self.figures_indexed} figures indexed",
        ]
        if self.command == "update":
            parts += [f"{self.figures_unchanged} unchanged", f"{self.figures_removed} removed"]
        parts.append(f"{self.figures_rejected} figures rejected")
        if self.command != "check":
            parts.append(f"{self.documents} in the index")
        return f"{self.command}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"
