"""Aggregate case results into per-category and overall scores, computed once for every report.

Category score = mean of its cases' scores; overall = mean over all cases (not over categories),
as in the reference reports. With repeats a case's score is the mean of its samples, and the
distinct case (not the sample) is the unit of every interval. Results are ordered by the suite,
never by arrival, so a run under xdist summarises exactly like a serial one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_codemode_eval.stats import (
    Decision,
    cases_needed,
    decide,
    pass_at_k,
    pass_hat_k,
    wilson_interval,
)
from pytest_codemode_eval.targets import OVERALL, Targets
from pytest_codemode_eval.verdicts import Verdict

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
    repeat: int = 0  # which of --codemode-repeats this sample is (0-based)
    expected: tuple[str, ...] = ()  # the case's expected tools, in order (none: no tool is right)
    cached: bool = False  # the output came from the output cache, not from the model this run
    # With --codemode-dry-run: each execute_code call's run (calls with arguments, stdout, error)
    dry_run: tuple[Mapping[str, Any], ...] | None = None
    extra_calls: tuple[str, ...] = ()  # tools called that the case does not expect (not penalised)
    endpoint: str | None = None  # the server that answered (openai backend)
    endpoint_failures: tuple[Mapping[str, str], ...] = ()  # servers that failed holding it

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
            "repeat": self.repeat,
            "expected": list(self.expected),
            "cached": self.cached,
            "dry_run": None if self.dry_run is None else [dict(run) for run in self.dry_run],
            "endpoint": self.endpoint,
            "endpoint_failures": [dict(failure) for failure in self.endpoint_failures],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {key: value for key, value in data.items() if key in known}
        fields["verdict"] = Verdict(fields["verdict"])
        fields["tools_called"] = tuple(fields.get("tools_called", ()))
        fields["expected"] = tuple(fields.get("expected", ()))
        fields["extra_calls"] = tuple(fields.get("extra_calls", ()))
        fields["server_tool_calls"] = tuple(fields.get("server_tool_calls", ()))
        fields["endpoint_failures"] = tuple(fields.get("endpoint_failures", ()))
        if fields.get("dry_run") is not None:
            fields["dry_run"] = tuple(fields["dry_run"])
        return cls(**fields)


# Verdicts whose output held a call that parsed (right or wrong): the "format adherence" share.
PARSEABLE_CALL_VERDICTS = frozenset(
    {
        "code_mode",
        "direct_call",
        "partial_chain",
        "bad_arguments",
        "wrong_tool",
        "unneeded_call",
        "unrequested_change",
        "runtime_error",
    }
)


@dataclass(frozen=True)
class CaseStats:
    """One distinct case over its repeats: the unit every interval counts (never the samples)."""

    id: str
    category: str
    prompt: str
    samples: tuple[CaseResult, ...]

    @property
    def repeats(self) -> int:
        return len(self.samples)

    @property
    def score(self) -> float:
        return sum(s.score for s in self.samples) / len(self.samples)

    @property
    def full_credit(self) -> int:
        return sum(1 for s in self.samples if s.score >= 1.0)

    def pass_hat(self, k: int) -> float:
        return pass_hat_k(self.full_credit, self.repeats, k)

    def pass_at(self, k: int) -> float:
        return pass_at_k(self.full_credit, self.repeats, k)

    def to_dict(self) -> dict[str, Any]:
        ks = range(1, self.repeats + 1)
        return {
            "id": self.id,
            "category": self.category,
            "repeats": self.repeats,
            "score": self.score,
            "full_credit": self.full_credit,
            "pass_hat_k": {str(k): self.pass_hat(k) for k in ks},
            "pass_at_k": {str(k): self.pass_at(k) for k in ks},
            "verdicts": [str(s.verdict) for s in self.samples],
        }


@dataclass(frozen=True)
class CategorySummary:
    """A category (or overall): mean over distinct cases, its Wilson interval and decision."""

    name: str
    n: int  # distinct cases
    score: float
    target: float | None
    baseline: float | None
    ci95: tuple[float, float] = (0.0, 1.0)
    samples: int = 0
    pass_hat_k: float | None = None  # mean over cases of pass^K, with K repeats (K > 1)
    format_adherence: float | None = None  # share of samples holding a parseable call
    suite_n: int | None = None  # the suite's cases in this category (None: not known)

    @property
    def evaluated(self) -> bool:
        """Judged only when every case of the category (every case, for overall) gave a
        result: a partial run (`-k`, `-m`, a crash) must not pass or fail a category."""
        return self.suite_n is None or self.n >= self.suite_n

    @property
    def judged(self) -> bool:
        return self.target is not None and self.evaluated

    @property
    def passed(self) -> bool | None:
        """The point rule the users registered their targets under (`--codemode-gate`)."""
        if not self.judged:
            return None
        assert self.target is not None
        return meets(self.score, self.target)

    @property
    def decision(self) -> Decision | None:
        if not self.judged:
            return None
        assert self.target is not None
        return decide(self.ci95, self.target)

    @property
    def cases_needed(self) -> int | None:
        if not self.judged:
            return None
        assert self.target is not None
        return cases_needed(self.score, self.target)

    @property
    def supported(self) -> bool:
        """Whether the interval backs the point pass or fail (False: the data cannot decide)."""
        if self.passed is None:
            return True
        return self.decision == ("pass" if self.passed else "fail")


@dataclass(frozen=True)
class Summary:
    categories: tuple[CategorySummary, ...]
    overall: CategorySummary
    cases: tuple[CaseResult, ...]  # every sample, in suite order then repeat order
    missing: tuple[str, ...] = ()  # cases of the suite that produced no result
    identity: Mapping[str, Any] = field(default_factory=dict)
    baseline_name: str | None = None
    case_stats: tuple[CaseStats, ...] = ()

    @property
    def rows(self) -> tuple[CategorySummary, ...]:
        return (*self.categories, self.overall)

    @property
    def repeats(self) -> int:
        return max((c.repeats for c in self.case_stats), default=1)

    @property
    def not_evaluated(self) -> tuple[CategorySummary, ...]:
        """Rows with a target that a partial run could not judge."""
        return tuple(row for row in self.rows if row.target is not None and not row.evaluated)

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
    suite_cases: Mapping[str, str] | None = None,
) -> Summary:
    """Per-category and overall means over distinct cases; categories without results left out.

    `suite_cases` (every case id of the suite -> its category) says which rows are complete."""
    position = {case_id: i for i, case_id in enumerate(case_order)}
    ordered = sorted(results, key=lambda r: (position.get(r.id, len(position)), r.id, r.repeat))
    stats = _case_stats(ordered)
    baseline = targets.baseline.scores if targets.baseline else {}
    sizes: dict[str, int] | None = None
    if suite_cases is not None:
        sizes = {OVERALL: len(suite_cases)}
        for category in suite_cases.values():
            sizes[category] = sizes.get(category, 0) + 1
    rows = []
    for category in categories:
        members = [c for c in stats if c.category == category]
        if members:
            rows.append(_row(category, members, targets.targets, baseline, sizes))
    overall = _row(OVERALL, stats, targets.targets, baseline, sizes)
    seen = {r.id for r in ordered}
    return Summary(
        categories=tuple(rows),
        overall=overall,
        cases=tuple(ordered),
        missing=tuple(case_id for case_id in case_order if case_id not in seen),
        identity=dict(identity or {}),
        baseline_name=targets.baseline.name if targets.baseline else None,
        case_stats=stats,
    )


def _case_stats(ordered: Sequence[CaseResult]) -> tuple[CaseStats, ...]:
    grouped: dict[str, list[CaseResult]] = {}
    for result in ordered:
        grouped.setdefault(result.id, []).append(result)
    return tuple(
        CaseStats(samples[0].id, samples[0].category, samples[0].prompt, tuple(samples))
        for samples in grouped.values()
    )


def _row(
    name: str,
    stats: Sequence[CaseStats],
    targets: Mapping[str, float],
    baseline: Mapping[str, float],
    sizes: Mapping[str, int] | None = None,
) -> CategorySummary:
    n = len(stats)
    mean = sum(c.score for c in stats) / n if n else 0.0
    samples = [s for c in stats for s in c.samples]
    repeats = min((c.repeats for c in stats), default=1)
    parseable = sum(1 for s in samples if str(s.verdict) in PARSEABLE_CALL_VERDICTS)
    return CategorySummary(
        name,
        n,
        mean,
        targets.get(name),
        baseline.get(name),
        ci95=wilson_interval(mean * n, n),
        samples=len(samples),
        pass_hat_k=sum(c.pass_hat(repeats) for c in stats) / n if n and repeats > 1 else None,
        format_adherence=parseable / len(samples) if samples else None,
        suite_n=None if sizes is None else sizes.get(name, 0),
    )
