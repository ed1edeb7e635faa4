"""Run ``mlx_lm lora`` for a :class:`LoRAConfig` and collect the losses it reports."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from src.agent.code_mode import execute_code
from src.agent.config import DEFAULT_MODEL
from src.training.lora_config import LoRAConfig, TrainingData, to_adapter_config, to_mlx_args

_TRAIN_LOSS = re.compile(r"Iter (\d+): Train loss ([0-9.]+)")
_VAL_LOSS = re.compile(r"Iter (\d+): Val loss ([0-9.]+)")


@dataclass
class TrainingResult:
    """What one training run produced: where the adapter is and how the loss moved."""

    adapter_path: Path
    iterations: int
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def final_train_loss(self) -> float | None:
        return self.train_losses[-1] if self.train_losses else None

    @property
    def best_val_loss(self) -> float | None:
        return min(self.val_losses) if self.val_losses else None

    @property
    def improved(self) -> bool:
        """True when validation loss ended lower than it started."""
        return len(self.val_losses) >= 2 and self.val_losses[-1] < self.val_losses[0]


def parse_losses(output: str) -> tuple[list[float], list[float]]:
    """Extract (train, validation) losses, in order, from ``mlx_lm lora`` stdout."""
    train = [float(m.group(2)) for m in _TRAIN_LOSS.finditer(output)]
    val = [float(m.group(2)) for m in _VAL_LOSS.finditer(output)]
    return train, val


def build_command(
    config: LoRAConfig, data: TrainingData, adapter_dir: Path, model: str = DEFAULT_MODEL
) -> list[str]:
    """The full command line for one run, so it can be logged and re-run by hand."""
    return [
        sys.executable, "-m", "mlx_lm", "lora",
        "--model", model,
        "--train",
        "--data", str(data.data_dir),
        "--adapter-path", str(adapter_dir),
        *to_mlx_args(config),
    ]


def replay_examples(lines: Iterable[str]) -> tuple[int, int]:
    """Re-run the Code Mode snippets in JSONL transcripts; return (matching, stale).

    An example is stale when running its code today no longer prints the tool
    result recorded in the transcript, which would teach the model wrong outputs.
    """
    matching = stale = 0
    for line in lines:
        if not line.strip():
            continue
        example = json.loads(line)
        for call in example.get("tool_calls", []):
            if execute_code(call["code"]) == call["output"]:
                matching += 1
            else:
                stale += 1
    return matching, stale


def run_training(config: LoRAConfig, data: TrainingData, adapter_dir: Path) -> TrainingResult:
    """Train an adapter into ``adapter_dir`` and return the parsed result."""
    missing = data.missing_files()
    if missing:
        raise FileNotFoundError(f"missing training data in {data.data_dir}: {', '.join(missing)}")
    adapter_dir.mkdir(parents=True, exist_ok=True)
    (adapter_dir / "lora_parameters.json").write_text(json.dumps(to_adapter_config(config)))

    started = time.monotonic()
    proc = subprocess.run(
        build_command(config, data, adapter_dir), capture_output=True, text=True, check=True
    )
    train, val = parse_losses(proc.stdout)
    return TrainingResult(
        adapter_path=adapter_dir,
        iterations=config.iters,
        train_losses=train,
        val_losses=val,
        duration_s=time.monotonic() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fine-tune a LoRA adapter for punie-agent.")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("adapter_dir", type=Path)
    parser.add_argument("--iters", type=int, default=LoRAConfig.iters)
    args = parser.parse_args(argv)

    config = LoRAConfig(iters=args.iters)
    result = run_training(config, TrainingData(args.data_dir), args.adapter_dir)
    print(f"adapter: {result.adapter_path}")
    print(f"final train loss: {result.final_train_loss}, best val loss: {result.best_val_loss}")
    return 0 if result.improved else 1


if __name__ == "__main__":
    raise SystemExit(main())
