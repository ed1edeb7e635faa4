"""Quantize a (fused) model with ``mlx_lm.convert``: default 5-bit, group size 64.

Non-quantized tensors (norms, and scales/biases of the quantized ones) stay float32: convert would
otherwise cast to the config's ``torch_dtype`` (often bfloat16), and fp16/bf16 are slow on CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from codemode_trainer.config import QUANT_BITS, QUANT_GROUP_SIZES, QUANT_MODES
from codemode_trainer.training import _mlx
from codemode_trainer.training.fuse import FuseError, build_aside, folder_bytes, is_quantized
from codemode_trainer.training.train import TrainError, check_model_dir

DEFAULT_BITS = 5
DEFAULT_GROUP_SIZE = 64


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    seconds: float
    size_bytes: int
    bits: int
    group_size: int


def quantize(
    model: Path,
    out: Path,
    *,
    bits: int = DEFAULT_BITS,
    group_size: int = DEFAULT_GROUP_SIZE,
    mode: str = "affine",
    dtype: str | None = "float32",
    overwrite: bool = False,
) -> QuantizeResult:
    if mode not in QUANT_MODES:
        raise FuseError(f"mode must be one of {', '.join(QUANT_MODES)}, got {mode!r}")
    if bits not in QUANT_BITS:
        raise FuseError(f"bits must be one of 2, 3, 4, 5, 6, 8 (mlx has no 7-bit), got {bits}")
    if group_size not in QUANT_GROUP_SIZES:
        raise FuseError(f"group size must be 32, 64 or 128, got {group_size}")
    affine = mode == "affine"  # the float-4/8 modes fix their own bits and group size
    try:
        model = check_model_dir(model)
    except TrainError as error:
        raise FuseError(str(error)) from None
    if is_quantized(model):
        raise FuseError(f"{model} is already quantized; quantize the fused float model instead")
    began = time.perf_counter()

    def build(scratch: Path) -> None:
        try:
            _mlx.quantize_dir(
                model,
                scratch,
                bits if affine else None,
                group_size if affine else None,
                mode,
                dtype,
            )
        except _mlx.SetupError as error:
            raise FuseError(str(error)) from None

    build_aside(Path(out), overwrite, build)
    return QuantizeResult(
        Path(out), time.perf_counter() - began, folder_bytes(Path(out)), bits, group_size
    )
