"""The held-out suite can decide: enough cases per category, prompts unseen in training, and one
option that selects it while `pytest evalsuite` keeps running the 27-case reference suite.

The contamination check is the trainer's own (`codemode_trainer.checks.contamination`), run
against the rows `data build` and the demo generate; the phrasing templates are never tuned
toward the suite.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.checks.contamination import (
    DEFAULT_THRESHOLD,
    check_contamination,
    closest_pairs,
)
from codemode_trainer.data.dataset import build_dataset
from codemode_trainer.jobs.demo import DEMO_MIX, DEMO_TRAINING
from pytest_codemode_eval.suite import Suite, load_suite

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT / "evalsuite" / "suite.toml"
HELDOUT = REPO_ROOT / "evalsuite" / "heldout" / "suite.toml"
WORKSPACE = REPO_ROOT / "evalsuite" / "workspace"
MIN_PER_CATEGORY = 30
MIN_CASES = 240
WITHIN_SUITE_LIMIT = 0.85


@pytest.fixture(scope="module")
def heldout() -> Suite:
    return load_suite(HELDOUT)


@pytest.fixture(scope="module")
def reference() -> Suite:
    return load_suite(REFERENCE)


def test_every_category_has_enough_cases(heldout: Suite) -> None:
    counts = Counter(case.category for case in heldout.cases)
    print("held-out cases per category:", dict(counts), "total", len(heldout.cases))
    assert set(counts) == set(heldout.categories)
    assert {name: n for name, n in counts.items() if n < MIN_PER_CATEGORY} == {}
    assert len(heldout.cases) >= MIN_CASES


def test_shares_catalog_and_categories_with_the_reference(heldout: Suite, reference: Suite) -> None:
    assert heldout.catalog.source == reference.catalog.source
    assert list(heldout.categories) == [*reference.categories, "no_tool"]
    assert not {c.id for c in heldout.cases} & {c.id for c in reference.cases}


def test_chains_and_abstentions_have_their_shape(heldout: Suite) -> None:
    for case in heldout.cases:
        if case.category == "multi_tool":
            assert 2 <= len(case.expected) <= 4, case.id
        elif case.category == "no_tool":
            assert case.expected == (), case.id
        else:
            assert len(case.expected) == 1, case.id


def test_targets_cover_every_category(heldout: Suite) -> None:
    from pytest_codemode_eval.targets import load_targets

    targets = load_targets(HELDOUT.parent / "targets.toml", heldout.categories)
    assert set(targets.targets) == {*heldout.categories, "overall"}


def training_rows(reference: Suite, **settings: Any) -> list[Mapping[str, Any]]:
    """Rows as the trainer generates them: avoiding the reference prompts, as `data build` does."""
    avoid = {case.id: case.prompt for case in reference.cases}
    dataset = build_dataset(reference.catalog, workspace=WORKSPACE, avoid=avoid, **settings)
    return [*dataset.train, *dataset.valid]


SETTINGS = {
    "data-build-default": {"seed": 0, "n_examples": 1200},
    "demo": {"seed": DEMO_TRAINING.seed, "n_examples": 1200, "mix": DEMO_MIX, "plain_code": True},
}


@pytest.mark.slow
@pytest.mark.parametrize("settings", SETTINGS.values(), ids=list(SETTINGS))
def test_no_training_prompt_is_a_near_duplicate(
    heldout: Suite, reference: Suite, settings: dict[str, Any]
) -> None:
    prompts = {case.id: case.prompt for case in heldout.cases}
    closest = closest_pairs(training_rows(reference, **settings), prompts, top=1)
    print("closest training prompt:", closest)
    assert closest, "the check compared nothing"
    assert closest[0][0] < DEFAULT_THRESHOLD, closest


@pytest.mark.slow
def test_no_two_prompts_are_near_duplicates(heldout: Suite, reference: Suite) -> None:
    """Within the held-out suite, and against the reference suite it sits beside, with the
    contamination check's own similarity (each prompt against every prompt before it)."""
    cases = [*reference.cases, *heldout.cases]
    found = []
    for i, case in enumerate(cases[len(reference.cases) :], len(reference.cases)):
        earlier = {other.id: other.prompt for other in cases[:i]}
        row = {"messages": [{"role": "user", "content": case.prompt}]}
        found += [(d.case_id, case.id, round(d.similarity, 3)) for d in check_contamination(
            [row], earlier, WITHIN_SUITE_LIMIT
        )]  # fmt: skip
    assert found == []


def collect(*args: str) -> list[str]:
    """Case ids `pytest --collect-only` finds from the repository root, as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line.rsplit("::", 1)[1] for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_pytest_evalsuite_runs_the_reference_suite_alone(reference: Suite) -> None:
    assert sorted(collect("evalsuite")) == sorted(case.id for case in reference.cases)


@pytest.mark.slow
def test_one_option_selects_the_heldout_suite(heldout: Suite) -> None:
    ids = collect("evalsuite", f"--codemode-suite={HELDOUT}", "-m", "no_tool")
    assert sorted(ids) == sorted(c.id for c in heldout.cases if c.category == "no_tool")
