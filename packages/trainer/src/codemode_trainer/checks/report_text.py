"""Plain-text summaries of row-numbered problems: one table of kinds, then a few examples each.

Validation and preflight can report thousands of problems for a real dataset; a person needs
the kinds, how many of each and where, not a thousand lines. Computing lives in the checking
modules; this module only renders what they found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """What a renderer needs from any row-numbered finding."""

    kind: str
    severity: str
    where: str  # "12" or "valid.jsonl:12"
    message: str
    detail: str = ""


@dataclass(frozen=True)
class KindSummary:
    kind: str
    severity: str
    problems: tuple[Problem, ...]

    @property
    def rows(self) -> list[str]:
        return list(dict.fromkeys(problem.where for problem in self.problems))


def summarise(problems: Iterable[Problem]) -> list[KindSummary]:
    """Problems grouped by kind, errors first, then by count (largest first)."""
    groups: dict[str, list[Problem]] = {}
    for problem in problems:
        groups.setdefault(problem.kind, []).append(problem)
    summaries = [
        KindSummary(kind, items[0].severity, tuple(items)) for kind, items in groups.items()
    ]
    return sorted(summaries, key=lambda s: (s.severity != "error", -len(s.problems), s.kind))


def compact(wheres: Sequence[str], limit: int = 12) -> str:
    """``train.jsonl:1-4, 9, valid.jsonl:2, …``: runs folded into ranges, each file named once."""
    parts: list[str] = []
    shown_head: str | None = None
    for head, numbers in _runs(wheres):
        text = str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"
        if head is None:
            parts.append(text)
            continue
        parts.append(f"{head}:{text}" if head != shown_head else text)
        shown_head = head
    shown = parts[:limit]
    return ", ".join(shown) + (f", … ({len(parts) - limit} more)" if len(parts) > limit else "")


def _runs(wheres: Sequence[str]) -> list[tuple[str | None, list[int | str]]]:
    """Consecutive row numbers of one file as runs; a where without a number stands alone."""
    runs: list[tuple[str | None, list[int | str]]] = []
    for where in wheres:
        head, _, tail = where.rpartition(":")
        if not tail.isdigit():
            runs.append((None, [where]))
            continue
        key, number = head or "", int(tail)
        last = runs[-1] if runs else None
        if last and last[0] == key and isinstance(last[1][-1], int) and last[1][-1] == number - 1:
            last[1].append(number)
        else:
            runs.append((key, [number]))
    return [(None if head == "" else head, numbers) for head, numbers in runs]


def render_summary(summaries: Sequence[KindSummary], examples: int = 3) -> str:
    """The table of kinds, then up to ``examples`` messages of each kind (and one detail)."""
    if not summaries:
        return "no problems found"
    width = max(len("kind"), *(len(s.kind) for s in summaries))
    lines = [f"{'kind':<{width}}  severity  count  rows"]
    for summary in summaries:
        lines.append(
            f"{summary.kind:<{width}}  {summary.severity:<8}  "
            f"{len(summary.problems):>5}  {compact(summary.rows)}"
        )
    for summary in summaries:
        lines.append("")
        lines.append(f"{summary.kind} ({len(summary.problems)}):")
        for problem in summary.problems[:examples]:
            lines.append(f"  row {problem.where}: {problem.message}")
        details = list(dict.fromkeys(p.detail for p in summary.problems if p.detail))
        if details:
            variants = f" ({len(details)} distinct)" if len(details) > 1 else ""
            lines.append(f"  detail{variants}: {details[0]}")
    return "\n".join(lines)


def describe_difference(found: str, expected: str) -> str:
    """A short account of how a system prompt differs from the eval's, for humans."""
    row_lines, eval_lines = found.splitlines(), expected.splitlines()
    matcher = difflib.SequenceMatcher(None, row_lines, eval_lines, autojunk=False)
    common = sum(block.size for block in matcher.get_matching_blocks())
    first = next(
        (i for i, (a, b) in enumerate(zip(row_lines, eval_lines, strict=False)) if a != b),
        min(len(row_lines), len(eval_lines)),
    )
    row_text = row_lines[first] if first < len(row_lines) else "<end>"
    eval_text = eval_lines[first] if first < len(eval_lines) else "<end>"
    return (
        f"row has {len(row_lines)} line(s)/{len(found)} chars, the eval's has "
        f"{len(eval_lines)} line(s)/{len(expected)} chars, {common} line(s) in common; "
        f"first difference at line {first + 1}: row {row_text[:70]!r} "
        f"vs eval {eval_text[:70]!r}"
    )
