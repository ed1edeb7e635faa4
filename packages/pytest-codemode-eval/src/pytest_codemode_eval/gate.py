"""The merge gate: the one place that decides pass/fail from the targets alone."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_codemode_eval.aggregate import Summary

EXIT_GATE_PASSED = 0
EXIT_GATE_MISSED = 1


@dataclass(frozen=True)
class Miss:
    category: str
    actual: float
    target: float

    def line(self) -> str:
        return (
            f"codemode gate: {self.category} {self.actual * 100:.1f}% "
            f"< target {self.target * 100:.1f}%"
        )


def gate_misses(summary: Summary) -> list[Miss]:
    """Every category (and overall) that has a target and does not meet it."""
    misses = [
        Miss(row.name, row.score, row.target)
        for row in summary.rows
        if row.target is not None and row.passed is False
    ]
    return misses


def gate_exit_status(summary: Summary) -> int:
    return EXIT_GATE_MISSED if gate_misses(summary) or summary.missing else EXIT_GATE_PASSED
