"""The merge gate: the one place that decides the exit status from the targets.

Two rules. `point` (`--codemode-gate`): the registered point targets, as the users wrote them.
`interval` (`--codemode-gate-mode=interval`): a category passes only when its whole 95 % interval
clears the target, fails when all of it is below, and is inconclusive otherwise; pytest itself uses
exit statuses 0-5, so "nothing failed but the data cannot decide" gets its own, 6.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_codemode_eval.aggregate import CategorySummary, Summary

EXIT_GATE_PASSED = 0
EXIT_GATE_MISSED = 1
EXIT_GATE_INCONCLUSIVE = 6


@dataclass(frozen=True)
class Miss:
    category: str
    actual: float
    target: float
    ci95: tuple[float, float] | None = None
    decision: str | None = None  # set under the interval rule
    cases_needed: int | None = None

    def line(self) -> str:
        if self.decision is None:
            return (
                f"codemode gate: {self.category} {self.actual * 100:.1f}% "
                f"< target {self.target * 100:.1f}%"
            )
        low, high = self.ci95 or (0.0, 1.0)
        line = (
            f"codemode gate: {self.category} {self.decision}: {self.actual * 100:.1f}% "
            f"[{low * 100:.1f}–{high * 100:.1f}] vs target {self.target * 100:.1f}%"
        )
        if self.decision == "inconclusive":
            line += (
                f" (about {self.cases_needed} cases at this score would decide)"
                if self.cases_needed is not None
                else " (at this score no number of cases can show a pass)"
            )
        return line


def gate_misses(summary: Summary) -> list[Miss]:
    """Every category (and overall) that has a target and does not meet it as a point."""
    return [
        Miss(row.name, row.score, row.target)
        for row in summary.rows
        if row.target is not None and row.passed is False
    ]


def interval_misses(summary: Summary) -> list[Miss]:
    """Every category (and overall) with a target whose interval decision is not `pass`."""
    return [_interval_miss(row) for row in summary.rows if row.decision not in (None, "pass")]


def _interval_miss(row: CategorySummary) -> Miss:
    assert row.target is not None
    return Miss(row.name, row.score, row.target, row.ci95, row.decision, row.cases_needed)


def judged_nothing(summary: Summary) -> bool:
    """True when no row with a target could be judged (a partial run, or no targets at all
    for the rows that ran): such a gate must not pass."""
    with_targets = [row for row in summary.rows if row.target is not None]
    return bool(with_targets) and not any(row.judged for row in with_targets)


def not_evaluated_lines(summary: Summary) -> list[str]:
    return [
        f"codemode gate: {row.name} not evaluated: {row.n} of {row.suite_n} cases gave a result"
        for row in summary.not_evaluated
    ]


def gate_lines(summary: Summary, mode: str) -> list[str]:
    misses = interval_misses(summary) if mode == "interval" else gate_misses(summary)
    lines = [miss.line() for miss in misses]
    if judged_nothing(summary):
        lines.append("codemode gate: nothing was judged: no category with a target ran complete")
    return lines


def gate_exit_status(summary: Summary, mode: str = "point") -> int:
    if summary.missing or judged_nothing(summary):
        return EXIT_GATE_MISSED
    if mode == "interval":
        decisions = {miss.decision for miss in interval_misses(summary)}
        if "fail" in decisions:
            return EXIT_GATE_MISSED
        return EXIT_GATE_INCONCLUSIVE if decisions else EXIT_GATE_PASSED
    return EXIT_GATE_MISSED if gate_misses(summary) else EXIT_GATE_PASSED


def combine_exit_statuses(statuses: list[int]) -> int:
    """A failure (1) outranks an inconclusive gate (6), which outranks a pass (0)."""
    if EXIT_GATE_MISSED in statuses:
        return EXIT_GATE_MISSED
    if EXIT_GATE_INCONCLUSIVE in statuses:
        return EXIT_GATE_INCONCLUSIVE
    return EXIT_GATE_PASSED
