"""Quantizing: default 5-bit/group 64, float32 for what stays unquantized, loads and generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _toy import tiny_model

from codemode_trainer.cli import main
from codemode_trainer.training.fuse import FuseError
from codemode_trainer.training.quantize import quantize
from pytest_codemode_eval.blas import use_fast_blas

use_fast_blas()  # before anything imports mlx (init_model does)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.mark.parametrize("bits", [5, 8])
def test_quantized_model_loads_generates_and_keeps_float32(
    bits: int, model: Path, tmp_path: Path
) -> None:
    result = quantize(model, tmp_path / "q", bits=bits)
    config = json.loads((result.path / "config.json").read_text())
    assert config["quantization"] == {"group_size": 64, "bits": bits, "mode": "affine"}
    assert result.size_bytes < sum(p.stat().st_size for p in model.iterdir())

    import mlx.core as mx
    from mlx_lm import generate, load

    loaded, tokenizer = load(str(result.path))
    assert loaded.layers[0].input_layernorm.weight.dtype == mx.float32
    assert loaded.layers[0].self_attn.q_proj.scales.dtype == mx.float32
    assert isinstance(generate(loaded, tokenizer, "Weather in Oslo", max_tokens=4), str)


def test_bad_settings_and_quantized_input(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FuseError, match="no 7-bit"):
        quantize(model, tmp_path / "q", bits=7)
    with pytest.raises(FuseError, match="group size must be 32, 64 or 128"):
        quantize(model, tmp_path / "q", group_size=16)
    first = quantize(model, tmp_path / "q4", bits=4)
    with pytest.raises(FuseError, match="already quantized"):
        quantize(first.path, tmp_path / "again")
    assert main(["quantize", "--model", str(model), "--out", str(first.path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("codemode-train quantize: error: ")
    assert "is not empty" in err
    assert err.count("\n") == 1
