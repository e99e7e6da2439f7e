"""The one error type for a record that cannot be indexed."""

from __future__ import annotations


class RecordError(Exception):
    """A record was rejected: where it is, which field, and what is wrong."""

    def __init__(self, location: str, field: str | None, problem: str) -> None:
        super().__init__(location, field, problem)
        self.location = location
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        field = f" [{self.field}]" if self.field else ""
        return f"{self.location}{field}: {self.problem}"

    def as_dict(self) -> dict[str, str | None]:
        return {"location": self.location, "field": self.field, "problem": self.problem}
