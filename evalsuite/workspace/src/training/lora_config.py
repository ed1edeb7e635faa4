"""LoRA hyperparameters and their translation into ``mlx_lm lora`` arguments."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class LRSchedule(StrEnum):
    """Learning-rate schedules understood by the trainer."""

    CONSTANT = "constant"
    COSINE = "cosine_decay"
    LINEAR = "linear_schedule"


def default_target_modules() -> tuple[str, ...]:
    """Attention projections that get adapters unless a config says otherwise."""
    return ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")


@dataclass(frozen=True)
class LoRAConfig:
    """Low-rank adaptation settings for one fine-tuning run.

    ``rank`` is the inner dimension of the adapter matrices and ``alpha`` the
    scaling numerator, so each adapter's update is multiplied by
    ``alpha / rank``. ``num_layers`` counts transformer blocks from the top of
    the model that receive adapters (-1 means all of them).
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    num_layers: int = 8
    target_modules: tuple[str, ...] = field(default_factory=default_target_modules)
    learning_rate: float = 1e-4
    schedule: LRSchedule = LRSchedule.COSINE
    batch_size: int = 4
    iters: int = 600
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rank <= 0:
            raise ValueError(f"rank must be positive, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.num_layers == 0 or self.num_layers < -1:
            raise ValueError("num_layers must be positive or -1 for all layers")
        if not self.target_modules:
            raise ValueError("target_modules must not be empty")

    @property
    def scale(self) -> float:
        """Multiplier applied to the adapter output (``alpha / rank``)."""
        return self.alpha / self.rank


@dataclass(frozen=True)
class TrainingData:
    """Where the JSONL splits live; ``mlx_lm`` expects train/valid/test files in one folder."""

    data_dir: Path
    train_file: str = "train.jsonl"
    valid_file: str = "valid.jsonl"

    def missing_files(self) -> list[str]:
        wanted = (self.train_file, self.valid_file)
        return [name for name in wanted if not (self.data_dir / name).is_file()]


def load_lora_config(path: Path) -> LoRAConfig:
    """Read a ``[lora]`` table from a TOML file; unknown keys are an error."""
    with path.open("rb") as fh:
        table: dict[str, Any] = tomllib.load(fh).get("lora", {})
    if "target_modules" in table:
        table["target_modules"] = tuple(table["target_modules"])
    if "schedule" in table:
        table["schedule"] = LRSchedule(table["schedule"])
    return LoRAConfig(**table)


def to_mlx_args(config: LoRAConfig) -> list[str]:
    """Command-line flags for ``python -m mlx_lm lora`` that encode ``config``."""
    return [
        "--num-layers", str(config.num_layers),
        "--batch-size", str(config.batch_size),
        "--iters", str(config.iters),
        "--learning-rate", f"{config.learning_rate:g}",
        "--seed", str(config.seed),
    ]


def to_adapter_config(config: LoRAConfig) -> dict[str, Any]:
    """The ``lora_parameters`` block written next to a trained adapter."""
    data = asdict(config)
    return {
        "rank": data["rank"],
        "scale": config.scale,
        "dropout": data["dropout"],
        "keys": list(data["target_modules"]),
    }


def estimate_trainable_params(config: LoRAConfig, hidden_size: int, total_layers: int) -> int:
    """Rough count of adapter parameters, assuming square projections of ``hidden_size``."""
    layers = total_layers if config.num_layers == -1 else min(config.num_layers, total_layers)
    per_module = 2 * config.rank * hidden_size
    return layers * len(config.target_modules) * per_module
