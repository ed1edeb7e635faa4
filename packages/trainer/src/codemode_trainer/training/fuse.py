"""Fuse trained adapters into their base model: a plain float32 model ``mlx_lm.load`` opens.

Differences from ``mlx_lm fuse``: a quantized base is always dequantized first (fusing into
quantized weights would quantize twice; the quantize stage does it once, at the end), a full
fine-tune's "adapter" (every weight) is handled like any adapter, and the model is built in a
scratch folder beside ``out`` and moved into place, so a crash never leaves half a model there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codemode_trainer.errors import TrainerError
from codemode_trainer.model_files import ModelFilesError, check_safetensors, read_json_object
from codemode_trainer.training import _mlx
from codemode_trainer.training.train import (
    ADAPTER_CONFIG,
    ADAPTER_FILE,
    TrainError,
    check_model_dir,
)


class FuseError(TrainerError, RuntimeError):
    """A one-line, user-facing reason fusing (or quantizing) cannot be done."""


@dataclass(frozen=True)
class FuseResult:
    path: Path
    seconds: float
    size_bytes: int
    dequantized_base: bool


def folder_bytes(folder: Path) -> int:
    """Bytes on disk of every file in ``folder`` (recursively)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def is_quantized(model: Path) -> bool:
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    return "quantization" in config or "quantization_config" in config


def check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FuseError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FuseError(f"{out} is not empty; choose another output or pass --force")


def build_aside(out: Path, overwrite: bool, build: Callable[[Path], None]) -> None:
    """Run ``build(scratch)`` (scratch does not exist yet) and move the result to ``out``."""
    check_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    scratch = holder / out.name
    try:
        build(scratch)
        if out.exists():
            shutil.rmtree(out)
        scratch.rename(out)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def fuse(
    model: Path,
    adapters: Path,
    out: Path,
    *,
    dtype: str | None = "float32",
    overwrite: bool = False,
) -> FuseResult:
    """Write ``model`` + ``adapters`` (an mlx-lm adapter folder) to ``out``."""
    try:
        model = check_model_dir(model, what="base model")
    except TrainError as error:
        raise FuseError(str(error)) from None
    adapters = Path(adapters)
    for name in (ADAPTER_CONFIG, ADAPTER_FILE):
        if not (adapters / name).is_file():
            raise FuseError(f"adapter folder {adapters} has no {name}")
    check_output(Path(out), overwrite)
    try:
        read_json_object(adapters / ADAPTER_CONFIG, "expected mlx-lm's adapter config object")
        check_safetensors(adapters / ADAPTER_FILE)
    except ModelFilesError as error:
        raise FuseError(str(error)) from None
    began = time.perf_counter()
    dequantized = False

    def build(scratch: Path) -> None:
        nonlocal dequantized
        try:
            dequantized = _mlx.fuse_adapters(model, adapters, scratch, dtype)
        except _mlx.SetupError as error:
            raise FuseError(f"{adapters}: {error}") from None

    build_aside(Path(out), overwrite, build)
    return FuseResult(Path(out), time.perf_counter() - began, folder_bytes(Path(out)), dequantized)
