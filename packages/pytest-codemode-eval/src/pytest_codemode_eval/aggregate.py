"""Aggregate case results into per-category and overall scores, computed once for every report.

Category score = mean of its cases' scores; overall = mean over all cases (not over categories),
as in the reference reports. Results are ordered by the suite, never by arrival, so a run under
xdist summarises exactly like a serial one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_codemode_eval.score import Verdict
from pytest_codemode_eval.targets import OVERALL, Targets

# A target is met when the rounded percentage shown in the report meets it; this keeps the gate
# and the table in agreement (e.g. 2/3 shows as 66.7% and meets a 66.7% target).
_PERCENT_DECIMALS = 1


@dataclass(frozen=True)
class CaseResult:
    """Everything about one case that a report or the gate needs; serialisable across xdist."""

    id: str
    category: str
    prompt: str
    score: float
    verdict: Verdict
    note: str
    seconds: float
    finish: str
    tools_called: tuple[str, ...] = ()
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    output: str = ""
    think: str | None = None
    error: str | None = None
    server_tool_calls: tuple[Mapping[str, Any], ...] = ()  # OpenAI calls a server parsed itself
    extra_calls: tuple[str, ...] = ()  # tools called that the case does not expect (not penalised)

    @property
    def tokens_per_second(self) -> float | None:
        if not self.generated_tokens or self.seconds <= 0:
            return None
        return self.generated_tokens / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt,
            "score": self.score,
            "verdict": str(self.verdict),
            "note": self.note,
            "seconds": self.seconds,
            "finish": self.finish,
            "tools_called": list(self.tools_called),
            "extra_calls": list(self.extra_calls),
            "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens,
            "tokens_per_second": self.tokens_per_second,
            "output": self.output,
            "think": self.think,
            "error": self.error,
            "server_tool_calls": [dict(call) for call in self.server_tool_calls],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        fields = dict(data)
        fields.pop("tokens_per_second", None)
        fields["verdict"] = Verdict(fields["verdict"])
        fields["tools_called"] = tuple(fields.get("tools_called", ()))
        fields["extra_calls"] = tuple(fields.get("extra_calls", ()))
        fields["server_tool_calls"] = tuple(fields.get("server_tool_calls", ()))
        return cls(**fields)


@dataclass(frozen=True)
class CategorySummary:
    name: str
    n: int
    score: float
    target: float | None
    baseline: float | None

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return meets(self.score, self.target)


@dataclass(frozen=True)
class Summary:
    categories: tuple[CategorySummary, ...]
    overall: CategorySummary
    cases: tuple[CaseResult, ...]
    missing: tuple[str, ...] = ()  # cases of the suite that produced no result
    identity: Mapping[str, Any] = field(default_factory=dict)
    baseline_name: str | None = None

    @property
    def rows(self) -> tuple[CategorySummary, ...]:
        return (*self.categories, self.overall)

    def distribution(self) -> dict[float, int]:
        counts: dict[float, int] = {}
        for case in self.cases:
            counts[case.score] = counts.get(case.score, 0) + 1
        return dict(sorted(counts.items(), reverse=True))

    def verdict_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case in self.cases:
            counts[str(case.verdict)] = counts.get(str(case.verdict), 0) + 1
        return counts


def meets(score: float, target: float) -> bool:
    return round(score * 100, _PERCENT_DECIMALS) >= round(target * 100, _PERCENT_DECIMALS)


def summarize(
    results: Iterable[CaseResult],
    categories: Sequence[str],
    targets: Targets,
    case_order: Sequence[str] = (),
    identity: Mapping[str, Any] | None = None,
) -> Summary:
    """Per-category and overall means; categories without results are left out."""
    position = {case_id: i for i, case_id in enumerate(case_order)}
    ordered = sorted(results, key=lambda r: (position.get(r.id, len(position)), r.id))
    baseline = targets.baseline.scores if targets.baseline else {}
    rows = []
    for category in categories:
        scores = [r.score for r in ordered if r.category == category]
        if scores:
            rows.append(_row(category, scores, targets.targets, baseline))
    overall = _row(OVERALL, [r.score for r in ordered], targets.targets, baseline)
    seen = {r.id for r in ordered}
    return Summary(
        categories=tuple(rows),
        overall=overall,
        cases=tuple(ordered),
        missing=tuple(case_id for case_id in case_order if case_id not in seen),
        identity=dict(identity or {}),
        baseline_name=targets.baseline.name if targets.baseline else None,
    )


def _row(
    name: str, scores: list[float], targets: Mapping[str, float], baseline: Mapping[str, float]
) -> CategorySummary:
    mean = sum(scores) / len(scores) if scores else 0.0
    return CategorySummary(name, len(scores), mean, targets.get(name), baseline.get(name))
