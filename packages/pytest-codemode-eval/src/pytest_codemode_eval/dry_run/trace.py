"""What one dry run of Code Mode code did: the tool calls it made, what it printed, how it ended.

Plain data with no sandbox import, so the scorer and the reports read it without loading
pydantic-monty. `to_dict` makes every recorded value JSON-safe (a set or bytes from the sandbox
becomes its repr) because the trace travels in the results file.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class RunStatus(enum.StrEnum):
    COMPLETED = "completed"  # ran to the end: the recorded calls are what the code does
    RAISED = "raised"  # the code raised (or hit a limit): a runtime error of the model's code
    UNSUPPORTED = "unsupported"  # valid Python the sandbox cannot run: scored statically
    CRASHED = "crashed"  # the sandbox worker died: noted, scored statically


@dataclass(frozen=True)
class RecordedCall:
    """A catalog tool as the code really called it, with the values bound at run time."""

    tool: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "args": [json_safe(value) for value in self.args],
            "kwargs": {name: json_safe(value) for name, value in self.kwargs.items()},
        }


@dataclass(frozen=True)
class DryRun:
    status: RunStatus
    calls: tuple[RecordedCall, ...] = ()
    stdout: str = ""
    error: str | None = None  # "AttributeError: 'list' object has no attribute 'success'"
    line: int | None = None  # the line of the code that raised
    seconds: float = 0.0

    @property
    def error_line(self) -> str:
        """The exception as one line, with where it happened."""
        where = f" (line {self.line})" if self.line else ""
        return f"{self.error or 'unknown error'}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "calls": [call.to_dict() for call in self.calls],
            "stdout": self.stdout,
            "error": self.error,
            "line": self.line,
            "seconds": round(self.seconds, 4),
        }


def json_safe(value: Any) -> Any:
    """The value itself when JSON can carry it, else its repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: json_safe(item) for key, item in value.items()}
    return repr(value)
