"""`pytest evalsuite --codemode-backend=mlx` end to end on an offline model: serial, batched and
on two xdist workers, every way gives the same outputs and the report names the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_codemode_eval.backends.mlx")

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"


@pytest.fixture
def evalsuite_copy(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    pytester.makeini("[pytest]\n")
    return pytester


def run_eval(pytester: pytest.Pytester, model: Path, name: str, *extra: str) -> dict[str, Any]:
    results = pytester.path / f"{name}.json"
    outcome = pytester.runpytest_subprocess(
        "evalsuite", "--codemode-backend=mlx", f"--codemode-model={model}",
        "--codemode-max-tokens=12", "--codemode-gate", f"--codemode-results={results}",
        # no timeouts: under load a 768-token case ran out of its 13.5 s on one run only
        "--codemode-time-budget=3600", "-p", "no:cacheprovider", *extra,
    )  # fmt: skip
    assert outcome.ret in (0, 1), outcome.stdout.str()
    assert "Traceback" not in outcome.stdout.str()
    document: dict[str, Any] = json.loads(results.read_text())
    return document


def outputs(document: dict[str, Any]) -> dict[str, str]:
    return {case["id"]: case["output"] for case in document["cases"]}


@pytest.mark.slow
def test_serial_batched_and_xdist_runs_agree(
    evalsuite_copy: pytest.Pytester, sharp_model_dir: Path
) -> None:
    serial = run_eval(evalsuite_copy, sharp_model_dir, "serial")
    batched = run_eval(evalsuite_copy, sharp_model_dir, "batched", "--codemode-batch-size=9")
    workers = run_eval(evalsuite_copy, sharp_model_dir, "xdist", "-n", "2")
    assert len(serial["cases"]) == 27
    assert outputs(batched) == outputs(serial)
    assert outputs(workers) == outputs(serial)
    model = serial["identity"]["model"]
    assert model["path"] == str(sharp_model_dir.resolve())
    assert model["fingerprint"] == workers["identity"]["model"]["fingerprint"]
    assert serial["identity"]["backend"] == "mlx"
    assert all(case["prompt_tokens"] > 500 for case in serial["cases"])
    # --codemode-max-tokens applies unless a case sets its own (multi-01 allows 768)
    budgets = {case["id"]: case["generated_tokens"] for case in serial["cases"]}
    assert budgets.pop("multi-01") <= 768
    assert all(tokens <= 12 for tokens in budgets.values())


def test_missing_model_folder_stops_before_any_case(
    evalsuite_copy: pytest.Pytester, tmp_path: Path
) -> None:
    outcome = evalsuite_copy.runpytest(
        "evalsuite", "--codemode-backend=mlx", f"--codemode-model={tmp_path / 'absent'}"
    )
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    outcome.stderr.fnmatch_lines(["ERROR: --codemode-model: model folder not found: *absent"])


def samples(document: dict[str, Any]) -> dict[tuple[str, int], str]:
    return {(case["id"], case["repeat"]): case["output"] for case in document["cases"]}


@pytest.mark.slow
def test_sampled_repeats_are_reproducible_from_the_seed_and_equal_under_xdist(
    evalsuite_copy: pytest.Pytester, sharp_model_dir: Path
) -> None:
    sampled = ("--codemode-temperature=0.7", "--codemode-seed=5", "--codemode-repeats=3")
    first = run_eval(evalsuite_copy, sharp_model_dir, "first", *sampled, "-m", "git or cst")
    again = run_eval(evalsuite_copy, sharp_model_dir, "again", *sampled, "-m", "git or cst")
    workers = run_eval(evalsuite_copy, sharp_model_dir, "xdist", *sampled, "-m", "git or cst",
                       "-n", "2")  # fmt: skip
    assert len(first["cases"]) == 6 * 3
    assert samples(again) == samples(first)
    assert samples(workers) == samples(first)
    # the repeats are real draws: at 0.7 a case's three samples are not all the same text
    by_case: dict[str, set[str]] = {}
    for (case_id, _), output in samples(first).items():
        by_case.setdefault(case_id, set()).add(output)
    assert any(len(texts) > 1 for texts in by_case.values())
    reseeded = (sampled[0], "--codemode-seed=6", sampled[2], "-m", "git or cst")
    other_seed = run_eval(evalsuite_copy, sharp_model_dir, "seed6", *reseeded)
    assert samples(other_seed) != samples(first)
    assert first["per_case"][0]["pass_hat_k"].keys() == {"1", "2", "3"}
