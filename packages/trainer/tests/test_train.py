"""Training on a tiny offline model: it learns, adapters load, crashes resume exactly, errors are
one line. Models and data are generated (tests/_toy.py); runs are tens of iterations."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _toy import corpus, tiny_model, write_data

from codemode_trainer.cli import main
from codemode_trainer.config import TrainConfig, load_config
from codemode_trainer.training import _mlx
from codemode_trainer.training.init_model import init_model
from codemode_trainer.training.progress import Progress, format_duration
from codemode_trainer.training.train import TrainError, TrainResult, read_checkpoint, train
from pytest_codemode_eval.blas import use_fast_blas

use_fast_blas()  # before anything imports mlx (init_model does)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("data"), n_train=64, n_valid=16)


def settings(model: Path, data: Path, **overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "model": str(model),
        "data": str(data),
        "optimizer": "adamw",
        "learning_rate": 3e-3,
        "batch_size": 4,
        "val_batches": 1,
    }
    return load_config(None, base | overrides)


@pytest.mark.slow
def test_full_fine_tune_from_random_init_lowers_validation_loss(
    model: Path, data: Path, tmp_path: Path
) -> None:
    config = settings(
        model, data, fine_tune_type="full", iters=30, batch_size=8, steps_per_eval=15,
        steps_per_report=10, save_every=30, val_batches=-1,
    )  # fmt: skip
    result = train(config, tmp_path / "adapters")
    val = dict(result.val_losses)
    assert sorted(val) == [0, 15, 30]
    assert val[0] > 6.0  # ~ln(vocab): random init
    assert val[30] < 0.5 * val[0], result.val_losses  # learned the routing format
    assert val[30] < val[15] < val[0]
    assert [i for i, _ in result.train_losses] == [10, 20, 30]
    assert result.train_losses[-1][1] < result.train_losses[0][1]
    # everything is trainable, embeddings and head included
    assert result.trainable_parameters == result.total_parameters == _mlx.count_parameters(model)
    assert result.trainable_share == 1.0
    assert result.peak_memory_bytes > 0
    assert result.tokens_per_second > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_lora_and_dora_adapters_load_with_mlx_lm(
    kind: str, model: Path, data: Path, tmp_path: Path
) -> None:
    config = settings(
        model, data, fine_tune_type=kind, iters=3, num_layers=1, steps_per_eval=100,
        **{"lora.rank": 4, "lora.keys": ["self_attn.q_proj", "self_attn.v_proj"]},
    )  # fmt: skip
    result = train(config, tmp_path / "adapters")
    assert 0 < result.trainable_share < 0.05
    # rank 4 on q_proj (128 -> 128) and v_proj (128 -> 64) of the last block
    lora_params = 4 * (128 + 128) + 4 * (128 + 64)
    assert result.trainable_parameters == lora_params + (128 + 64 if kind == "dora" else 0)

    from mlx_lm import load
    from mlx_lm.tuner.dora import DoRALinear
    from mlx_lm.tuner.lora import LoRALinear

    loaded, _ = load(str(model), adapter_path=str(tmp_path / "adapters"))
    expected = DoRALinear if kind == "dora" else LoRALinear
    assert isinstance(loaded.layers[-1].self_attn.q_proj, expected)
    assert not isinstance(loaded.layers[0].self_attn.q_proj, LoRALinear | DoRALinear)


@pytest.mark.slow
def test_resume_after_a_crash_matches_an_uninterrupted_run(
    model: Path, data: Path, tmp_path: Path
) -> None:
    # dropout draws from mlx's RNG, so this also checks the RNG key is restored
    config = settings(
        model, data, fine_tune_type="lora", iters=12, save_every=4, steps_per_report=2,
        steps_per_eval=6, **{"lora.dropout": 0.1},
    )  # fmt: skip
    whole = train(config, tmp_path / "whole")

    def crash(event: dict[str, Any]) -> None:
        if event["event"] == "train" and event["iteration"] == 10:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "crashed", on_report=crash)
    checkpoint = read_checkpoint(tmp_path / "crashed")
    assert checkpoint is not None
    assert checkpoint["iteration"] == 8
    assert not (tmp_path / "crashed" / "0000012_adapters.safetensors").exists()

    resumed = train(config, tmp_path / "crashed", resume=True)
    assert resumed.start_iteration == 8
    assert resumed.iterations == 12
    assert resumed.train_losses == whole.train_losses  # bit for bit, history included
    assert resumed.val_losses == whole.val_losses
    assert_same_weights(tmp_path / "whole", tmp_path / "crashed")
    assert sorted(p.name for p in (tmp_path / "crashed").glob("*_optimizer.safetensors")) == [
        "0000012_optimizer.safetensors"
    ]  # only the latest optimizer state is kept


def assert_same_weights(a: Path, b: Path) -> None:
    import mlx.core as mx

    left = mx.load(str(a / "adapters.safetensors"))
    right = mx.load(str(b / "adapters.safetensors"))
    assert isinstance(left, dict)
    assert isinstance(right, dict)
    assert left.keys() == right.keys()
    assert all(mx.array_equal(left[k], right[k]).item() for k in left)


def test_resume_continues_to_more_iterations(model: Path, data: Path, tmp_path: Path) -> None:
    config = settings(model, data, fine_tune_type="full", iters=2, steps_per_report=1)
    train(config, tmp_path / "a")
    more = train(load_config(None, {**config.to_dict(), "iters": 4}), tmp_path / "a", resume=True)
    assert (more.start_iteration, more.iterations) == (2, 4)
    assert [i for i, _ in more.train_losses] == [1, 2, 3, 4]
    with pytest.raises(TrainError, match="already holds a checkpoint"):
        train(config, tmp_path / "a")


def test_settings_mlx_lm_refuses_are_one_line_errors(data: Path, tmp_path: Path) -> None:
    moe = init_model(tmp_path / "moe", "tiny-moe", corpus=corpus())
    with pytest.raises(TrainError, match="SwitchLinear doesn't support DoRA yet"):
        train(settings(moe, data, fine_tune_type="dora", iters=1), tmp_path / "a")
    with pytest.raises(TrainError, match="num_layers is 5 but the model has 2 layers"):
        train(settings(moe, data, num_layers=5, iters=1), tmp_path / "b")


def test_resume_without_a_checkpoint_is_an_error(model: Path, data: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match=r"--resume: no checkpoint in .*nothing"):
        train(settings(model, data, iters=2), tmp_path / "nothing", resume=True)


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("codemode-train train: error: ")
    return err


def test_command_line_errors_are_one_line(
    model: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["--run", str(tmp_path / "run")]
    bad = tmp_path / "bad.toml"
    bad.write_text("iters = 3\nlearning_rat = 0.1\n")
    err = one_line_error(capsys, ["train", "--config", str(bad), "--model", str(model), *run])
    assert "unknown key 'learning_rat'" in err
    assert str(bad) in err

    err = one_line_error(capsys, ["train", "--model", str(tmp_path / "no-model"), *run])
    assert "model directory not found" in err

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(model, no_tokenizer)
    (no_tokenizer / "tokenizer.json").unlink()
    err = one_line_error(capsys, ["train", "--model", str(no_tokenizer), "--data", str(data), *run])
    assert "has no tokenizer" in err

    err = one_line_error(capsys, ["train", "--model", str(model), "--data", str(tmp_path), *run])
    assert "has no train.jsonl" in err

    args = ["train", "--model", str(model), "--data", str(data), "--resume", *run]
    assert "holds no run to resume" in one_line_error(capsys, args)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_cli_train_with_grad_accumulation_and_checkpointing(
    model: Path, data: Path, tmp_path: Path
) -> None:
    """In a subprocess: gradient checkpointing patches mlx-lm's layer class process-wide."""
    run = tmp_path / "run"
    command = [
        str(Path(sys.executable).parent / "codemode-train"), "train",
        "--model", str(model), "--data", str(data), "--run", str(run),
        "--fine-tune-type", "lora", "--iters", "4", "--batch-size", "4",
        "--set", "grad_checkpoint=true", "--set", "grad_accumulation_steps=2",
        "--set", "steps_per_report=2", "--set", "save_every=2", "--set", "val_batches=1",
    ]  # fmt: skip
    env = {**os.environ, "CODEMODE_BLAS": os.environ.get("CODEMODE_BLAS", "auto")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "| Training time |" in done.stdout
    assert "\r" not in done.stderr  # not a terminal: plain lines
    lines = [line for line in done.stderr.splitlines() if line.startswith("iter ")]
    pattern = r"iter 4/4  loss \d+\.\d{3}  val \d+\.\d{3}  [\d,]+ tok/s  [\d,]+ tokens  ETA 0:00"
    assert any(re.fullmatch(pattern, line) for line in lines), lines
    result = TrainResult.from_dict(
        __import__("json").loads((run / "state.json").read_text())["stages"]["train"]["result"]
    )
    assert result.iterations == 4
    assert (run / "metrics.toml").is_file()
    assert (run / "loss.png").is_file()
    assert (run / "adapters" / "0000002_adapters.safetensors").is_file()


def test_progress_line_plain_and_on_a_terminal() -> None:
    now = [0.0]
    plain = io.StringIO()
    progress = Progress(100, stream=plain, tty=False, clock=lambda: now[0])
    now[0] = 10.0
    progress.train(10, 2.5, 1234.4, 5000)
    progress.val(10, 2.25)
    now[0] = 20.0
    progress.train(20, 2.0, 999.6)
    assert plain.getvalue().splitlines() == [
        "iter  10/100  loss 2.500  1,234 tok/s  5,000 tokens  ETA 1:30",
        "iter 10: val loss 2.250",
        "iter  20/100  loss 2.000  val 2.250  1,000 tok/s  ETA 1:20",
    ]
    screen = io.StringIO()
    progress = Progress(4, start=2, stream=screen, tty=True, clock=lambda: now[0])
    progress.train(3, 1.0, 10.0)
    progress.note("saved")
    progress.train(4, 0.5, 10.0)
    progress.close()
    assert screen.getvalue().startswith("\riter 3/4  loss 1.000  10 tok/s  ETA 0:00")
    assert "\rsaved\n\riter 4/4" in screen.getvalue()  # the live line is blanked first
    assert screen.getvalue().endswith("\n")
    assert format_duration(3725) == "1:02:05"
