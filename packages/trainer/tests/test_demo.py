"""The main job end to end on a few iterations: every artefact lands in one folder and the report
compares the untrained base with the trained, quantized model."""

from __future__ import annotations

import dataclasses
import io
import json
import tomllib
from pathlib import Path

import pytest

from codemode_trainer.jobs.demo import DEMO_TRAINING, DemoDir, minimal_suite, run_demo
from codemode_trainer.jobs.pipeline import PipelineError

SUITE = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"


def test_minimal_suite_keeps_cases_and_targets(tmp_path: Path) -> None:
    copy = minimal_suite(SUITE, tmp_path / "suite" / "suite.toml")
    header = tomllib.loads(copy.read_text())["suite"]
    assert (header["prompt_style"], header["native_tools"]) == ("minimal", False)
    assert header["name"].endswith("-minimal")
    assert sorted(p.name for p in (copy.parent / "cases").iterdir()) == sorted(
        p.name for p in (SUITE.parent / "cases").iterdir()
    )
    assert (copy.parent / "targets.toml").read_text() == (SUITE.parent / "targets.toml").read_text()
    assert not (copy.parent / "workspace").exists()


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(PipelineError, match="not empty"):
        run_demo(tmp_path, SUITE, out=io.StringIO())


@pytest.mark.slow
def test_short_demo_writes_everything_into_one_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a relative run folder, as `nox -s demo` passes one (`runs/demo-<time>`)."""
    config = dataclasses.replace(
        DEMO_TRAINING, iters=4, steps_per_eval=2, save_every=2, val_batches=1
    )
    out = io.StringIO()
    monkeypatch.chdir(tmp_path)
    result = run_demo(
        Path("demo"), SUITE, n_examples=120, config=config, out=out,
        eval_args=["--codemode-max-tokens=24"],
    )  # fmt: skip
    demo = DemoDir(tmp_path / "demo")
    for path in (
        demo.base / "config.json",
        demo.train.quantized / "config.json",
        demo.train.metrics,
        demo.train.loss_plot,
        demo.eval("base") / "results.json",
        demo.eval("trained") / "results.json",
        demo.report,
        demo.html,
    ):
        assert path.is_file(), path
    trained = json.loads((demo.eval("trained") / "results.json").read_text())
    assert trained["identity"]["model"]["path"] == str(demo.train.quantized.resolve())
    assert len(trained["cases"]) == 27
    assert result.base_score == 0.0
    assert result.trained_score == pytest.approx(trained["overall"]["score"])
    report = demo.report.read_text()
    assert "## Pre-Registered Success Criteria vs Actual" in report
    assert "## Training Metrics" in report
    assert "| untrained base | 0.0% |" in report
    # untrained vs trained as a paired comparison: flips, McNemar p and a verdict
    assert "## Paired comparison with a baseline run" in report
    assert trained["comparison"]["overall"]["n"] == 27
    assert trained["comparison"]["overall"]["verdict"] in {
        "better", "worse", "no_detectable_difference"
    }  # fmt: skip
    assert "McNemar p = " in report
    assert trained["identity"]["model"]["settings"] is not None
    assert all(case["dry_run"] is not None for case in trained["cases"])  # dry-run on
    # both models on the held-out suite too, compared case by case
    heldout = json.loads((demo.eval("trained-heldout") / "results.json").read_text())
    assert len(heldout["cases"]) >= 240
    assert {c["category"] for c in heldout["cases"]} >= {"no_tool", "multi_tool"}
    assert heldout["comparison"]["overall"]["n"] == len(heldout["cases"])
    assert "trained-heldout/report.md" in report
    printed = out.getvalue()
    assert "untrained base model: 0.0% overall" in printed
    assert "all checks passed" in printed  # preflight ran before training
    assert f"to browse offline: {demo.html}" in printed  # absolute: a browser can open it
    assert result.html.resolve() == demo.html.resolve()
