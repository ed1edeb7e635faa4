"""Tool-routing confusion matrix: which tool the model reached for, against the one it should have.

Rows are the expected tool of each single-tool case ("no tool" for cases that expect none);
columns are the first catalog tool the output called (wrapped or direct), or what the output was
instead (prose, malformed, truncated, timeout, error). Every sample counts (with repeats, a case
counts once per repeat). Chains do not fit one row, so they are summarised by verdict on their
own line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_codemode_eval.aggregate import CaseResult

NO_TOOL = "no tool"
UNKNOWN_TOOL = "unknown tool"
# Outcomes that are not a call of a catalog tool, as columns, in this order after the tools.
OUTCOME_COLUMNS = ("prose", "malformed", "truncated", "timeout", "error", UNKNOWN_TOOL)
_OUTCOME_OF_VERDICT = {
    "prose": "prose",
    "no_call": "prose",
    "malformed": "malformed",
    "truncated": "truncated",
    "timeout": "timeout",
    "error": "error",
}


@dataclass(frozen=True)
class Confusion:
    rows: tuple[str, ...]
    columns: tuple[str, ...]  # non-empty columns only
    counts: Mapping[tuple[str, str], int]
    chains: Mapping[str, int]  # verdict -> samples, for cases that expect a chain

    def count(self, row: str, column: str) -> int:
        return self.counts.get((row, column), 0)

    @property
    def empty(self) -> bool:
        return not self.counts and not self.chains

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": list(self.rows),
            "columns": list(self.columns),
            "counts": [[self.count(row, column) for column in self.columns] for row in self.rows],
            "chains": dict(self.chains),
        }


def outcome_column(result: CaseResult) -> str:
    """The column a sample falls in: its first catalog tool, or what it produced instead."""
    verdict = str(result.verdict)
    if verdict in _OUTCOME_OF_VERDICT:
        return _OUTCOME_OF_VERDICT[verdict]
    return result.tools_called[0] if result.tools_called else UNKNOWN_TOOL


def confusion_matrix(results: Iterable[CaseResult]) -> Confusion:
    counts: dict[tuple[str, str], int] = {}
    chains: dict[str, int] = {}
    rows: list[str] = []
    for result in results:
        if len(result.expected) > 1:
            chains[str(result.verdict)] = chains.get(str(result.verdict), 0) + 1
            continue
        row = result.expected[0] if result.expected else NO_TOOL
        if row not in rows:
            rows.append(row)
        key = (row, outcome_column(result))
        counts[key] = counts.get(key, 0) + 1
    return Confusion(tuple(rows), _columns(rows, counts), counts, chains)


def _columns(rows: list[str], counts: Mapping[tuple[str, str], int]) -> tuple[str, ...]:
    """Expected tools first (so the diagonal reads down the table), then other tools called,
    then the outcomes that are no tool at all."""
    used = {column for _, column in counts}
    tools = [row for row in rows if row in used and row != NO_TOOL]
    others = sorted(used - set(tools) - set(OUTCOME_COLUMNS) - {NO_TOOL})
    outcomes = [column for column in OUTCOME_COLUMNS if column in used]
    return (*tools, *others, *outcomes)


def render_confusion_markdown(confusion: Confusion) -> str:
    """The matrix as a markdown table; the diagonal (the right tool) in bold."""
    lines = [
        "## Tool routing: confusion matrix",
        "",
        "Rows: the tool each single-tool case expects. Columns: the first catalog tool the "
        "output called (wrapped or direct), or what it produced instead. Bold: the right tool.",
        "",
    ]
    if confusion.rows:
        header = ["expected \\ called", *confusion.columns]
        lines += [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        for row in confusion.rows:
            cells = [
                _cell(confusion.count(row, column), row == column) for column in confusion.columns
            ]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    if confusion.chains:
        total = sum(confusion.chains.values())
        mix = ", ".join(f"{verdict} {n}" for verdict, n in sorted(confusion.chains.items()))
        lines += ["", f"**Chains** ({total} sample{'s' if total != 1 else ''}): {mix}"]
    return "\n".join(lines)


def _cell(count: int, diagonal: bool) -> str:
    if not count:
        return "·"
    return f"**{count}**" if diagonal else str(count)
