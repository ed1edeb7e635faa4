"""Fusing adapters: the fused model computes what base + adapters compute, and loads plainly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _toy import tiny_model, write_data

from codemode_trainer.cli import main
from codemode_trainer.config import load_config
from codemode_trainer.training.fuse import FuseError, fuse
from codemode_trainer.training.quantize import quantize
from codemode_trainer.training.train import train
from pytest_codemode_eval.blas import use_fast_blas

use_fast_blas()  # before anything imports mlx (init_model does)

PROMPT = [{"role": "system", "content": "You route requests to tools."},
          {"role": "user", "content": "What is the weather in Oslo?"}]  # fmt: skip


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("data"), n_train=16, n_valid=4)


def trained(model: Path, data: Path, out: Path, kind: str, iters: int = 3) -> Path:
    config = load_config(
        None,
        {"model": str(model), "data": str(data), "fine_tune_type": kind, "iters": iters,
         "batch_size": 4, "learning_rate": 3e-3, "val_batches": 1, "lora.rank": 4,
         "lora.scale": 20.0},
    )  # fmt: skip
    train(config, out)
    return out


def logits(model_dir: Path, adapters: Path | None = None) -> Any:
    import mlx.core as mx
    from mlx_lm import load

    loaded, tokenizer = load(
        str(model_dir), adapter_path=None if adapters is None else str(adapters)
    )
    tokens = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True)
    out = loaded(mx.array([tokens]))
    mx.eval(out)
    return out


def assert_close(a: Any, b: Any, tol: float) -> None:
    import mlx.core as mx

    assert a.shape == b.shape
    assert mx.all(mx.abs(a - b) < tol).item()


def generates(model_dir: Path) -> str:
    from mlx_lm import generate, load

    loaded, tokenizer = load(str(model_dir))
    prompt = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    text = generate(loaded, tokenizer, prompt, max_tokens=6)
    assert isinstance(text, str)
    return text


def config_of(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "config.json").read_text())
    return data


@pytest.mark.slow
def test_fused_lora_matches_base_plus_adapters_and_quantizes(
    model: Path, data: Path, tmp_path: Path
) -> None:
    adapters = trained(model, data, tmp_path / "adapters", "lora")
    result = fuse(model, adapters, tmp_path / "fused")
    assert not result.dequantized_base
    assert result.size_bytes > 0
    assert_close(logits(result.path), logits(model, adapters), 1e-4)
    assert "quantization" not in config_of(result.path)
    generates(result.path)

    small = quantize(result.path, tmp_path / "q5")  # default: 5-bit, group size 64
    assert config_of(small.path)["quantization"] == {"group_size": 64, "bits": 5, "mode": "affine"}
    assert small.size_bytes < result.size_bytes
    generates(small.path)
    assert_close(logits(small.path), logits(result.path), 1.0)  # close, not equal: 5 bits


def test_full_fine_tune_weights_are_the_fused_model(
    model: Path, data: Path, tmp_path: Path
) -> None:
    adapters = trained(model, data, tmp_path / "adapters", "full", iters=2)
    result = fuse(model, adapters, tmp_path / "fused")
    assert_close(logits(result.path), logits(model, adapters), 1e-6)
    import mlx.core as mx

    fused_weights = mx.load(str(result.path / "model.safetensors"))
    trained_weights = mx.load(str(adapters / "adapters.safetensors"))
    assert isinstance(fused_weights, dict)
    assert isinstance(trained_weights, dict)
    assert all(mx.array_equal(fused_weights[k], v).item() for k, v in trained_weights.items())


@pytest.mark.slow
def test_a_quantized_base_is_dequantized_before_fusing(
    model: Path, data: Path, tmp_path: Path
) -> None:
    base = quantize(model, tmp_path / "base-q4", bits=4).path
    adapters = trained(base, data, tmp_path / "adapters", "lora", iters=1)  # QLoRA
    result = fuse(base, adapters, tmp_path / "fused")
    assert result.dequantized_base
    assert "quantization" not in config_of(result.path)
    import mlx.core as mx

    weights = mx.load(str(result.path / "model.safetensors"))
    assert isinstance(weights, dict)
    assert {str(w.dtype) for w in weights.values()} == {"mlx.core.float32"}
    assert_close(logits(result.path), logits(base, adapters), 1e-3)


def test_fuse_errors(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FuseError, match=r"has no adapter_config\.json"):
        fuse(model, tmp_path, tmp_path / "out")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("")
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapters.safetensors").write_text("")
    with pytest.raises(FuseError, match="is not empty"):
        fuse(model, tmp_path, tmp_path / "taken")
    argv = ["fuse", "--model", str(tmp_path / "none"), "--adapters", str(tmp_path), "--out", "x"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"codemode-train fuse: error: base model directory not found: {tmp_path}/none\n"
