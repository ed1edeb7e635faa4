"""Checkpoint sweep: every checkpoint of a real (tiny) run fused and scored; the pick follows the
eval score, not the validation loss."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TextIO

import pytest
from _toy import tiny_model, write_data

from codemode_trainer.cli import main
from codemode_trainer.config import load_config
from codemode_trainer.jobs.pipeline import run_pipeline
from codemode_trainer.jobs.sweep import (
    SweepError,
    SweepPoint,
    find_checkpoints,
    pick_best_eval,
    pick_lowest_val_loss,
    sweep,
    val_losses,
)
from codemode_trainer.run_dir import RunDir
from pytest_codemode_eval.blas import use_fast_blas

use_fast_blas()  # before anything imports mlx (init_model does)

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "evalsuite" / "suite.toml"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def trained(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: checkpoints at 2, 4 and 6; validation at 0, 4 and 6 (none at 2)."""
    root = tmp_path_factory.mktemp("trained")
    data = write_data(root / "data", n_train=16, n_valid=8)
    values = {"model": str(model), "data": str(data), "fine_tune_type": "full",
              "optimizer": "adamw", "learning_rate": 3e-3, "iters": 6, "batch_size": 8,
              "save_every": 2, "steps_per_report": 2, "steps_per_eval": 4,
              "val_batches": -1}  # fmt: skip
    run_pipeline(load_config(None, values), root / "run", stages=("train", "metrics"))
    return root / "run"


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run (sweeps write into it)."""
    return Path(shutil.copytree(trained, tmp_path / "run", symlinks=True))


class FakeEvaluate:
    """Scores chosen per iteration (read from RUN/sweep/NNNNNNN/model); writes a results.json."""

    def __init__(self, scores: dict[int, float]) -> None:
        self.scores = scores
        self.calls: list[tuple[Path, Path, Path]] = []

    def __call__(
        self, model: Path, suite_path: Path, out_dir: Path, out: TextIO, *, quiet: bool
    ) -> float:
        assert (model / "config.json").is_file()
        assert quiet
        self.calls.append((model, suite_path, out_dir))
        score = self.scores[int(model.parent.name)]
        out_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "overall": {"name": "overall", "score": score},
            "categories": [
                {"name": "routing", "score": score},
                {"name": "arguments", "score": 1.0 - score},
            ],
        }
        (out_dir / "results.json").write_text(json.dumps(document), encoding="utf-8")
        return score


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_pick_follows_eval_score_not_val_loss(run: Path, model: Path) -> None:
    losses = val_losses(RunDir(run))
    assert sorted(losses) == [0, 4, 6]
    lowest = min((4, 6), key=lambda i: (losses[i], i))
    # the lowest val loss scores worst; the other two tie and the earlier one wins
    scores = {i: (0.25 if i == lowest else 0.75) for i in (2, 4, 6)}
    earlier = min(i for i in (2, 4, 6) if i != lowest)
    fake = FakeEvaluate(scores)

    result = sweep(run, SUITE, evaluate=fake)

    assert [p.iteration for p in result.points] == [2, 4, 6]
    assert [p.final for p in result.points] == [False, False, True]  # final == 0000006 file
    assert [p.weights for p in result.points] == [
        f"{i:07d}_adapters.safetensors" for i in (2, 4, 6)
    ]
    assert [p.val_loss for p in result.points] == [None, losses[4], losses[6]]
    assert [p.eval_score for p in result.points] == [scores[i] for i in (2, 4, 6)]
    assert result.points[0].categories == {"routing": scores[2], "arguments": 1.0 - scores[2]}
    assert result.best_eval.iteration == earlier
    assert result.lowest_val_loss is not None
    assert result.lowest_val_loss.iteration == lowest
    assert not result.agree
    assert result.base_model == model

    sweep_root = run / "sweep"
    assert [c[2] for c in fake.calls] == [sweep_root / f"{i:07d}" / "eval" for i in (2, 4, 6)]
    assert all(c[1] == SUITE for c in fake.calls)
    digests = {_digest(sweep_root / f"{i:07d}" / "model") for i in (2, 4, 6)}
    assert len(digests) == 3  # each checkpoint's own weights were fused
    assert not list(sweep_root.glob(".adapters.*"))  # scratch adapter folders are gone

    saved = json.loads((sweep_root / "sweep.json").read_text())
    assert saved["best_eval"] == earlier
    assert saved["lowest_val_loss"] == lowest
    assert [p["iteration"] for p in saved["points"]] == [2, 4, 6]
    assert saved["points"][0]["val_loss"] is None
    markdown = (sweep_root / "sweep.md").read_text()
    lines = markdown.splitlines()
    assert lines[0] == "| Iteration | Val loss | Eval overall | routing | arguments | Pick |"
    assert lines[2].startswith("| 2 | — | ")
    row = {i: next(line for line in lines if line.startswith(f"| {i}")) for i in (2, 4, 6)}
    assert row[earlier].endswith("| **best eval** |")
    assert row[lowest].endswith("| lowest val loss |")
    assert row[6].startswith("| 6 (final) |")
    assert f"Pick: iteration {earlier} (best eval, 75.0% overall)" in markdown
    assert f"at iteration {lowest}, which scores 25.0%" in markdown


def test_val_loss_falls_back_to_metrics_and_final_without_numbered_file(run: Path) -> None:
    handle = RunDir(run)
    expected = val_losses(handle)
    state = json.loads(handle.state.read_text())
    del state["stages"]["train"]
    handle.state.write_text(json.dumps(state))
    assert val_losses(handle) == expected  # from metrics.toml
    handle.metrics.unlink()
    assert val_losses(handle) == expected  # from checkpoint.json's history
    # the final adapters alone still count, at checkpoint.json's iteration
    (handle.adapters / "0000006_adapters.safetensors").unlink()
    found = find_checkpoints(handle)
    assert [(c.iteration, c.weights.name, c.final) for c in found] == [
        (2, "0000002_adapters.safetensors", False),
        (4, "0000004_adapters.safetensors", False),
        (6, "adapters.safetensors", True),
    ]


def test_picks_break_ties_to_the_earlier_iteration() -> None:
    points = [
        SweepPoint(5, "a", False, 0.5, 0.8),
        SweepPoint(3, "b", False, 0.4, 0.8),
        SweepPoint(7, "c", True, 0.4, 0.6),
        SweepPoint(9, "d", False, None, 0.1),
    ]
    assert pick_best_eval(points).iteration == 3
    lowest = pick_lowest_val_loss(points)
    assert lowest is not None
    assert lowest.iteration == 3
    assert pick_lowest_val_loss([SweepPoint(1, "a", False, None, 0.0)]) is None


def test_errors_are_one_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeEvaluate({})
    with pytest.raises(SweepError, match="run folder not found"):
        sweep(tmp_path / "nowhere", SUITE, evaluate=fake)
    empty = tmp_path / "empty"
    (empty / "adapters").mkdir(parents=True)
    with pytest.raises(SweepError, match="no checkpoints in"):
        sweep(empty, SUITE, evaluate=fake)
    with pytest.raises(SweepError, match="base model directory not found"):
        sweep(run, SUITE, base_model=tmp_path / "gone", evaluate=fake)
    (run / "config.toml").write_text(f'model = "{tmp_path / "moved"}"\n')
    with pytest.raises(SweepError, match=r"base model directory not found: .*moved"):
        sweep(run, SUITE, evaluate=fake)
    (run / "config.toml").unlink()
    with pytest.raises(SweepError, match=r"config\.toml not found; pass --base-model"):
        sweep(run, SUITE, evaluate=fake)
    assert fake.calls == []
    assert not (run / "sweep").exists()

    for argv, message in (
        (["--run", str(tmp_path / "nowhere")], "run folder not found"),
        (["--run", str(empty)], "no checkpoints in"),
        (["--run", str(run)], "config.toml not found"),
    ):
        assert main(["sweep", *argv, "--suite", str(SUITE)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("codemode-train sweep: error: ")
        assert message in err
        assert err.count("\n") == 1


def test_cli_prints_table_and_pick(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from codemode_trainer.jobs import evaluation

    monkeypatch.setattr(evaluation, "evaluate", FakeEvaluate({2: 0.5, 4: 0.9, 6: 0.7}))
    assert main(["sweep", "--run", str(run), "--suite", str(SUITE), "--discard-models"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("| Iteration | Val loss | Eval overall |")
    assert "Pick: iteration 4 (best eval, 90.0% overall)" in captured.out
    assert captured.out == (run / "sweep" / "sweep.md").read_text()
    assert "[sweep] checkpoint 3/3: iteration 6, fusing" in captured.err
    assert not (run / "sweep" / "0000004" / "model").exists()  # --discard-models
    assert "0000004_adapters.safetensors (fused model discarded)" in captured.out


@pytest.mark.slow
def test_real_evaluation_of_one_checkpoint(model: Path, tmp_path: Path) -> None:
    """The default evaluate: pytest with the mlx backend on the suite, for one checkpoint."""
    data = write_data(tmp_path / "data", n_train=8, n_valid=4)
    values = {"model": str(model), "data": str(data), "fine_tune_type": "full",
              "optimizer": "adamw", "iters": 1, "batch_size": 8, "val_batches": 1}  # fmt: skip
    run_pipeline(load_config(None, values), tmp_path / "run", stages=("train",))
    result = sweep(tmp_path / "run", SUITE)
    assert [p.iteration for p in result.points] == [1]
    point = result.points[0]
    assert 0.0 <= point.eval_score <= 1.0
    assert point.categories  # read from the real results.json
    assert (tmp_path / "run" / "sweep" / "0000001" / "eval" / "report.md").is_file()
