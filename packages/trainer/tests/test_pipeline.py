"""The whole pipeline in one run folder, with injected data and preflight steps, and resuming it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from _toy import tiny_model, write_data

from codemode_trainer.cli import main
from codemode_trainer.config import TrainConfig, load_config
from codemode_trainer.jobs.metrics import read_metrics, render_metrics_markdown
from codemode_trainer.jobs.pipeline import PipelineError, run_pipeline
from codemode_trainer.run_dir import RunDir, RunDirError
from pytest_codemode_eval.blas import use_fast_blas
from pytest_codemode_eval.identity import fingerprint_directory

use_fast_blas()  # before anything imports mlx (init_model does)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


class Steps:
    """Injected data and preflight stages that record their calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def data(self, config: TrainConfig, out: Path) -> None:
        self.calls.append(("data", out))
        write_data(out, n_train=32, n_valid=8)

    def preflight(self, config: TrainConfig, model: Path, data: Path) -> None:
        self.calls.append(("preflight", (config.data, model, data)))


def config_for(model: Path, **extra: Any) -> TrainConfig:
    values = {"model": str(model), "fine_tune_type": "full", "optimizer": "adamw",
              "learning_rate": 3e-3, "iters": 6, "batch_size": 8, "save_every": 3,
              "steps_per_report": 3, "steps_per_eval": 3, "val_batches": -1}  # fmt: skip
    return load_config(None, values | extra)


@pytest.mark.slow
def test_pipeline_runs_every_stage_and_resumes(model: Path, tmp_path: Path) -> None:
    steps = Steps()
    root = tmp_path / "run"
    config = config_for(model)
    metrics = run_pipeline(config, root, data_step=steps.data, preflight_step=steps.preflight)
    run = RunDir(root)
    assert metrics is not None
    assert [name for name, _ in steps.calls] == ["data", "preflight"]
    assert steps.calls[1][1] == (str(run.data), Path(model), run.data)
    assert list(metrics.stage_seconds) == ["data", "preflight", "train", "fuse", "quantize"]
    assert metrics.iterations == 6
    assert [i for i, _ in metrics.val_losses] == [0, 3, 6]
    assert metrics.val_losses[-1][1] < metrics.val_losses[0][1]
    assert metrics.trainable_share == 1.0
    assert metrics.base_model_fingerprint == fingerprint_directory(model)
    assert metrics.final_model == "quantized"
    assert metrics.quantization == {"bits": 5, "group_size": 64, "mode": "affine"}
    assert read_metrics(run.metrics) == metrics
    assert run.metrics_markdown.read_text() == render_metrics_markdown(metrics)
    assert run.loss_plot.read_bytes().startswith(b"\x89PNG")

    from mlx_lm import generate, load

    loaded, tokenizer = load(str(run.quantized))
    assert isinstance(generate(loaded, tokenizer, "Weather in Oslo?", max_tokens=4), str)

    # a second run may not take the folder
    with pytest.raises(RunDirError, match="already belongs to run"):
        run_pipeline(config, root, data_step=steps.data, preflight_step=steps.preflight)
    # resuming a finished run redoes nothing but the metrics
    again = run_pipeline(
        config, root, resume=True, data_step=steps.data, preflight_step=steps.preflight
    )
    assert len(steps.calls) == 2
    assert again == metrics
    # changed settings are refused by name; more iterations continue the run
    with pytest.raises(PipelineError, match=r"learning_rate \(0\.003 -> 0\.001\)"):
        run_pipeline(dataclasses.replace(config, learning_rate=1e-3), root, resume=True)
    longer = run_pipeline(
        dataclasses.replace(config, iters=9), root, resume=True, data_step=steps.data,
        preflight_step=steps.preflight,
    )  # fmt: skip
    assert len(steps.calls) == 2  # data and preflight were still valid
    assert longer is not None
    assert longer.iterations == 9
    assert longer.val_losses[:3] == metrics.val_losses  # history kept across sessions
    assert [i for i, _ in longer.val_losses] == [0, 3, 6, 9]
    assert longer.stage_seconds["fuse"] != metrics.stage_seconds["fuse"]  # redone after training


@pytest.mark.slow
def test_cli_pipeline_and_metrics_commands(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_data(tmp_path / "data", n_train=8, n_valid=4)
    config = tmp_path / "run.toml"
    config.write_text(
        f'model = "{model}"\ndata = "data"\nfine_tune_type = "lora"\niters = 2\n'
        "batch_size = 4\nval_batches = 1\n[quantize]\nbits = 4\n"
    )
    assert main(["pipeline", "--config", str(config), "--run", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| Metric | Value |")
    assert "| Final model size |" in out
    assert "4-bit, group 64" in out
    assert (tmp_path / "run" / "data" / "train.jsonl").read_bytes() == (
        data / "train.jsonl"
    ).read_bytes()
    assert main(["metrics", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out == out
    assert main(["metrics", str(tmp_path)]) == 1
    assert "metrics file not found" in capsys.readouterr().err
