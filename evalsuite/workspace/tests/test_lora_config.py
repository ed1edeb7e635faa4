import pytest

from src.training.lora_config import (
    LoRAConfig,
    LRSchedule,
    estimate_trainable_params,
    load_lora_config,
    to_adapter_config,
    to_mlx_args,
)


def test_scale_is_alpha_over_rank():
    assert LoRAConfig(rank=8, alpha=16).scale == 2.0


@pytest.mark.parametrize("kwargs", [{"rank": 0}, {"dropout": 1.0}, {"num_layers": 0}])
def test_invalid_configs(kwargs):
    with pytest.raises(ValueError):
        LoRAConfig(**kwargs)


def test_load_from_toml(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('[lora]\nrank = 16\nalpha = 32.0\nschedule = "constant"\n')
    config = load_lora_config(path)
    assert (config.rank, config.alpha, config.schedule) == (16, 32.0, LRSchedule.CONSTANT)


def test_unknown_key_in_toml_is_an_error(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text("[lora]\nrnak = 16\n")
    with pytest.raises(TypeError):
        load_lora_config(path)


def test_mlx_args_and_adapter_config():
    config = LoRAConfig(num_layers=4, iters=100, learning_rate=2e-4)
    args = to_mlx_args(config)
    assert args[args.index("--num-layers") + 1] == "4"
    assert args[args.index("--learning-rate") + 1] == "0.0002"
    assert to_adapter_config(config)["scale"] == 2.0


def test_trainable_params_estimate():
    config = LoRAConfig(rank=8, num_layers=2)
    # 2 layers x 4 projections x (2 x 8 x 1024)
    assert estimate_trainable_params(config, hidden_size=1024, total_layers=28) == 131_072
