"""Paired comparison of two runs, case by case: flips, a paired interval, McNemar, a verdict.

Both sides are results files (`--codemode-results`), read as plain JSON so a file written by an
older or newer version still compares. Cases are matched by id; with repeats a case's score is
the mean of its samples and full credit means full credit in every sample.

The verdict needs two things to agree: the seeded paired bootstrap interval of the mean
difference must exclude 0, and the exact sign test on every case whose score changed must give
p < 0.05 in the same direction. The bootstrap alone says "better" for 3 of 3 improved cases (its
interval collapses to [1, 1], the zero-width trap again); the sign test needs at least 6
one-way changes, so small categories honestly say `no_detectable_difference`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pytest_codemode_eval.errors import SuiteError, read_text_file
from pytest_codemode_eval.stats import binomial_two_sided, mcnemar_exact, paired_bootstrap
from pytest_codemode_eval.targets import OVERALL

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20_260_218  # fixed: the plugin and `codemode-eval compare` print the same numbers
ALPHA = 0.05
CompareVerdict = Literal["better", "worse", "no_detectable_difference"]
# Settings that change outputs: a difference makes the comparison not like for like.
_SETTINGS = ("temperature", "seed", "enable_thinking", "max_tokens", "time_budget", "repeats")


@dataclass(frozen=True)
class CaseOutcome:
    """One case of one run, over its repeats."""

    id: str
    category: str
    score: float
    full_credit: bool
    verdict: str
    note: str


@dataclass(frozen=True)
class RunResults:
    """What a comparison needs from a results file."""

    label: str
    cases: Mapping[str, CaseOutcome]
    order: tuple[str, ...]
    identity: Mapping[str, Any]


@dataclass(frozen=True)
class Flip:
    id: str
    category: str
    before: float
    after: float
    before_verdict: str
    after_verdict: str
    before_note: str
    after_note: str

    @property
    def direction(self) -> str:
        return "improved" if self.after > self.before else "regressed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "direction": self.direction,
            "before": self.before,
            "after": self.after,
            "before_verdict": self.before_verdict,
            "after_verdict": self.after_verdict,
            "before_note": self.before_note,
            "after_note": self.after_note,
        }


@dataclass(frozen=True)
class GroupComparison:
    """A category (or overall): the paired difference over the cases both runs have."""

    name: str
    n: int
    before: float
    after: float
    delta: float
    ci95: tuple[float, float]
    mcnemar_p: float  # full credit: exact McNemar on the discordant cases
    sign_p: float  # any change of score: exact sign test
    improved: int  # cases whose score rose
    regressed: int
    verdict: CompareVerdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": self.n,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "ci95": list(self.ci95),
            "mcnemar_p": self.mcnemar_p,
            "sign_p": self.sign_p,
            "improved": self.improved,
            "regressed": self.regressed,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class Comparison:
    baseline: str
    overall: GroupComparison
    categories: tuple[GroupComparison, ...]
    flips: tuple[Flip, ...]
    only_baseline: tuple[str, ...]
    only_new: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "overall": self.overall.to_dict(),
            "categories": [group.to_dict() for group in self.categories],
            "flips": [flip.to_dict() for flip in self.flips],
            "only_baseline": list(self.only_baseline),
            "only_new": list(self.only_new),
            "warnings": list(self.warnings),
        }


def load_results(path: Path) -> RunResults:
    """Read a results file; anything that is not one is an error naming the file and field."""
    text = read_text_file(path, "results file")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SuiteError(path, f"not a JSON results file ({exc})") from exc
    return results_from_document(document, str(path), path)


def results_from_document(document: Any, label: str, path: Path | str = "") -> RunResults:
    where = path or label
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise SuiteError(where, "not a codemode results file: expected an object with 'cases'")
    samples: dict[str, list[Mapping[str, Any]]] = {}
    for index, case in enumerate(document["cases"]):
        _check_case(case, index, where)
        samples.setdefault(case["id"], []).append(case)
    identity = document.get("identity")
    return RunResults(
        label=label,
        cases={case_id: _outcome(group) for case_id, group in samples.items()},
        order=tuple(samples),
        identity=identity if isinstance(identity, dict) else {},
    )


def _check_case(case: Any, index: int, where: Path | str) -> None:
    field = f"cases[{index}]"
    if not isinstance(case, dict):
        raise SuiteError(where, f"{field}: expected an object")
    for key, kind in (("id", str), ("category", str), ("verdict", str)):
        if not isinstance(case.get(key), kind):
            raise SuiteError(where, f"{field}.{key}: expected a string")
    score = case.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise SuiteError(where, f"{field}.score: expected a number from 0 to 1, got {score!r}")


def _outcome(samples: Sequence[Mapping[str, Any]]) -> CaseOutcome:
    verdicts = [str(s["verdict"]) for s in samples]
    common = max(verdicts, key=verdicts.count)
    return CaseOutcome(
        id=str(samples[0]["id"]),
        category=str(samples[0]["category"]),
        score=sum(float(s["score"]) for s in samples) / len(samples),
        full_credit=all(float(s["score"]) >= 1.0 for s in samples),
        verdict=common,
        note=str(samples[verdicts.index(common)].get("note", "")),
    )


def compare_runs(baseline: RunResults, new: RunResults) -> Comparison:
    """Case-by-case comparison of `new` against `baseline`, matched by id."""
    shared = [case_id for case_id in new.order if case_id in baseline.cases]
    pairs = [(baseline.cases[case_id], new.cases[case_id]) for case_id in shared]
    categories = list(dict.fromkeys(after.category for _, after in pairs))
    groups = tuple(
        _group(name, [(b, a) for b, a in pairs if a.category == name]) for name in categories
    )
    return Comparison(
        baseline=baseline.label,
        overall=_group(OVERALL, pairs),
        categories=groups,
        flips=tuple(_flip(b, a) for b, a in pairs if a.score != b.score),
        only_baseline=tuple(c for c in baseline.order if c not in new.cases),
        only_new=tuple(c for c in new.order if c not in baseline.cases),
        warnings=tuple(like_for_like_warnings(baseline.identity, new.identity)),
    )


def _group(name: str, pairs: Sequence[tuple[CaseOutcome, CaseOutcome]]) -> GroupComparison:
    n = len(pairs)
    differences = [after.score - before.score for before, after in pairs]
    improved = sum(1 for d in differences if d > 0)
    regressed = sum(1 for d in differences if d < 0)
    full_up = sum(1 for b, a in pairs if a.full_credit and not b.full_credit)
    full_down = sum(1 for b, a in pairs if b.full_credit and not a.full_credit)
    interval = paired_bootstrap(differences, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
    sign_p = binomial_two_sided(min(improved, regressed), improved + regressed)
    return GroupComparison(
        name=name,
        n=n,
        before=sum(b.score for b, _ in pairs) / n if n else 0.0,
        after=sum(a.score for _, a in pairs) / n if n else 0.0,
        delta=sum(differences) / n if n else 0.0,
        ci95=interval,
        mcnemar_p=mcnemar_exact(full_up, full_down),
        sign_p=sign_p,
        improved=improved,
        regressed=regressed,
        verdict=_verdict(interval, sign_p, improved, regressed),
    )


def _verdict(
    interval: tuple[float, float], sign_p: float, improved: int, regressed: int
) -> CompareVerdict:
    if sign_p < ALPHA and interval[0] > 0 and improved > regressed:
        return "better"
    if sign_p < ALPHA and interval[1] < 0 and regressed > improved:
        return "worse"
    return "no_detectable_difference"


def _flip(before: CaseOutcome, after: CaseOutcome) -> Flip:
    return Flip(
        id=after.id,
        category=after.category,
        before=before.score,
        after=after.score,
        before_verdict=before.verdict,
        after_verdict=after.verdict,
        before_note=before.note,
        after_note=after.note,
    )


def like_for_like_warnings(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Loud warnings when the two runs did not measure the same thing the same way."""
    found = []
    for key, label in (("suite_hash", "suite"), ("renderer_hash", "prompt renderer")):
        old, new = before.get(key), after.get(key)
        if old and new and old != new:
            found.append(f"the runs used a different {label} ({old} vs {new})")
    old_settings, new_settings = _settings(before), _settings(after)
    greedy = not old_settings.get("temperature") and not new_settings.get("temperature")
    for key in _SETTINGS:
        if key == "seed" and greedy:
            continue  # the seed draws nothing when both runs decode greedily
        if key in old_settings and key in new_settings and old_settings[key] != new_settings[key]:
            found.append(
                f"the runs used different generation settings: {key} "
                f"{old_settings[key]!r} vs {new_settings[key]!r}"
            )
    return found


def _settings(identity: Mapping[str, Any]) -> dict[str, Any]:
    model = identity.get("model")
    settings = dict(model.get("settings", {})) if isinstance(model, dict) else {}
    generation = identity.get("generation")
    if isinstance(generation, dict):
        settings.update(generation)
    return settings
