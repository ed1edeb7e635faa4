import json
from pathlib import Path

import pytest

from src.training.lora_config import LoRAConfig, TrainingData
from src.training.train_runner import (
    TrainingResult,
    build_command,
    parse_losses,
    replay_examples,
    run_training,
)

MLX_OUTPUT = """\
Loading pretrained model
Iter 1: Val loss 2.310, Val took 4.1s
Iter 10: Train loss 2.105, Learning Rate 1.000e-04, It/sec 1.9
Iter 20: Train loss 1.644, Learning Rate 1.000e-04, It/sec 2.0
Iter 20: Val loss 1.702, Val took 4.0s
Saved final weights to adapters/adapters.safetensors.
"""


def test_parse_losses():
    train, val = parse_losses(MLX_OUTPUT)
    assert train == [2.105, 1.644]
    assert val == [2.31, 1.702]


def test_training_result_summary():
    result = TrainingResult(Path("adapters"), 20, train_losses=[2.1, 1.6], val_losses=[2.3, 1.7])
    assert result.final_train_loss == 1.6
    assert result.best_val_loss == 1.7
    assert result.improved


def test_empty_result_has_no_losses():
    result = TrainingResult(Path("adapters"), 0)
    assert result.final_train_loss is None
    assert not result.improved


def test_build_command_passes_data_and_adapter_dirs(tmp_path):
    cmd = build_command(LoRAConfig(), TrainingData(tmp_path / "data"), tmp_path / "out")
    assert cmd[1:4] == ["-m", "mlx_lm", "lora"]
    assert cmd[cmd.index("--data") + 1] == str(tmp_path / "data")
    assert "--train" in cmd


def test_missing_data_fails_fast(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.jsonl"):
        run_training(LoRAConfig(), TrainingData(tmp_path), tmp_path / "out")


def test_replay_flags_stale_examples():
    lines = [
        json.dumps({"tool_calls": [{"code": "print(2 * 21)", "output": "42"}]}),
        "",
        json.dumps({"tool_calls": [{"code": "print(len('abc'))", "output": "4"}]}),
    ]
    assert replay_examples(lines) == (1, 1)
