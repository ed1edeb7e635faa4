"""Training config: TOML and mlx-lm YAML keys, overrides, one-line errors naming key and file."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
import tomli_w

from codemode_trainer.config import (
    ConfigError,
    TrainConfig,
    config_from_dict,
    differences,
    load_config,
    parse_override,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_follow_mlx_lm_except_where_documented() -> None:
    config = load_config()
    assert (config.fine_tune_type, config.iters, config.batch_size) == ("lora", 1000, 4)
    assert (config.lora.rank, config.lora.scale, config.lora.dropout) == (8, 20.0, 0.0)
    assert config.mask_prompt is True
    assert config.num_layers == -1
    assert config.dtype == "float32"
    assert (config.quantize.bits, config.quantize.group_size) == (5, 64)


def test_toml_sections_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path / "run.toml",
        'model = "models/tiny"\ndata = "/abs/data"\nfine_tune_type = "dora"\n'
        "learning_rate = 3e-3\niters = 30\n"
        '[lora]\nrank = 4\nscale = 10\nkeys = ["self_attn.q_proj"]\n'
        "[quantize]\nbits = 4\ngroup_size = 32\n",
    )
    config = load_config(path)
    assert config.model == str(tmp_path / "models" / "tiny")
    assert config.data == "/abs/data"
    assert config.lora.rank == 4
    assert config.lora.scale == 10.0
    assert config.lora.keys == ("self_attn.q_proj",)
    assert config.quantize.bits == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.iters = 5  # type: ignore[misc]


def test_mlx_lm_yaml_keys_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lora.yaml",
        "model: base\ntrain: true\nfine_tune_type: lora\noptimizer: adamw\n"
        "optimizer_config:\n  adamw:\n    weight_decay: 0.01\n"
        "num_layers: 8\nbatch_size: 2\niters: 100\nlearning_rate: 1e-5\n"
        "adapter_path: adapters\nsave_every: 50\nmask_prompt: false\n"
        "lora_parameters:\n  rank: 16\n  dropout: 0.05\n  scale: 20.0\n"
        "lr_schedule:\n  name: cosine_decay\n  warmup: 10\n  arguments: [1e-5, 100, 1e-7]\n",
    )
    config = load_config(path)
    assert config.lora.rank == 16
    assert config.lora.dropout == 0.05
    assert config.optimizer_config == {"adamw": {"weight_decay": 0.01}}
    assert config.lr_schedule is not None
    assert config.lr_schedule["name"] == "cosine_decay"
    assert config.mask_prompt is False
    assert config.ignored == ("adapter_path", "train")
    assert config.mlx_args()["lora_parameters"] == {"rank": 16, "scale": 20.0, "dropout": 0.05}


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "iters = 10\n[lora]\nrank = 4\n")
    overrides = dict(
        parse_override(s)
        for s in ["iters=20", "lora.rank=2", "optimizer=adamw", "lora_parameters.scale=5.0"]
    )
    config = load_config(path, overrides)
    assert (config.iters, config.lora.rank, config.lora.scale) == (20, 2, 5.0)
    assert config.optimizer == "adamw"  # unquoted strings are strings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("iter = 3\n", "unknown key 'iter'"),
        ("[lora]\nrnk = 3\n", "unknown key 'lora.rnk'"),
        ("lora_parameters = { rank = 1, alpha = 2 }\n", "unknown key 'lora_parameters.alpha'"),
        ('iters = "many"\n', "key 'iters' must be an integer"),
        ('fine_tune_type = "qlora"\n', "key 'fine_tune_type' must be one of lora, dora, full"),
        ("[quantize]\nbits = 7\n", "mlx has no 7-bit"),
        ("batch_size = 0\n", "key 'batch_size' must be at least 1"),
        ("mask_prompt = 1\n", "key 'mask_prompt' must be true or false"),
        ("iters = \n", "invalid TOML"),
    ],
)
def test_errors_are_one_line_and_name_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_and_bad_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="--set expects key=value"):
        parse_override("iters")
    with pytest.raises(ConfigError, match="command line: unknown key 'nope'"):
        load_config(None, {"nope": 1})


def test_round_trip_and_resume_differences(tmp_path: Path) -> None:
    config = load_config(None, {"model": "/m", "iters": 5, "lora.keys": ["q_proj"]})
    again = config_from_dict(tomllib.loads(tomli_w.dumps(config.to_dict())))
    assert again == config
    longer = dataclasses.replace(config, iters=50, save_every=7)
    assert differences(config, longer) == []  # more iterations may be resumed
    changed = dataclasses.replace(config, learning_rate=1.0)
    assert differences(config, changed) == ["learning_rate (1e-05 -> 1.0)"]
    assert isinstance(TrainConfig().lora.keys, type(None))
