"""A run's "Training Metrics": ``metrics.toml`` (tomli-w), a markdown table and a loss-curve PNG.

The table follows the reference phase reports (training/fuse/quantize/total time, final model
size, validation loss at chosen iterations, peak memory, trainable parameters and share) and adds
what makes a run reproducible and comparable: final losses, throughput, seed, a hash of the data
and a fingerprint of the base model's files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from codemode_trainer.errors import TrainerError
from codemode_trainer.figures import LossFigures
from codemode_trainer.files import write_text_atomic

SCHEMA = 1
STAGE_ORDER = ("data", "preflight", "train", "fuse", "quantize")
_STAGE_LABELS = {
    "data": "Data time",
    "preflight": "Preflight time",
    "train": "Training time",
    "fuse": "Fuse time",
    "quantize": "Quantize time",
}
_PARAM_LABELS = {"lora": "LoRA params", "dora": "DoRA params", "full": "Trainable params (full)"}
MAX_VAL_ROWS = 8


class MetricsError(TrainerError, ValueError):
    """metrics.toml is missing a key or has one of the wrong type."""


@dataclass(frozen=True)
class Metrics(LossFigures):
    seed: int
    fine_tune_type: str
    iterations: int
    data_hash: str
    base_model: str
    base_model_fingerprint: str
    stage_seconds: dict[str, float]
    train_losses: tuple[tuple[int, float], ...]
    val_losses: tuple[tuple[int, float], ...]
    peak_memory_bytes: int
    trainable_parameters: int
    total_parameters: int
    tokens_per_second: float
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of adapters/fused/quantized
    quantization: dict[str, Any] = field(default_factory=dict)  # bits, group_size, mode

    @property
    def total_seconds(self) -> float:
        return sum(self.stage_seconds.values())

    @property
    def final_model(self) -> str | None:
        """The last artifact the run produced: quantized, fused or adapters."""
        for name in ("quantized", "fused", "adapters"):
            if name in self.sizes:
                return name
        return None


# --- TOML ---


def metrics_to_dict(metrics: Metrics) -> dict[str, Any]:
    loss: dict[str, Any] = {}
    if metrics.final_train_loss is not None:
        loss["final_train"] = metrics.final_train_loss
    if metrics.final_val_loss is not None:
        loss["final_val"] = metrics.final_val_loss
    # tables keyed by iteration (``10 = 2.26``): one short line per point
    loss["validation"] = {str(i): v for i, v in metrics.val_losses}
    loss["train"] = {str(i): v for i, v in metrics.train_losses}
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "seed": metrics.seed,
        "fine_tune_type": metrics.fine_tune_type,
        "iterations": metrics.iterations,
        "data_hash": metrics.data_hash,
        "base_model": {"path": metrics.base_model, "fingerprint": metrics.base_model_fingerprint},
        "time": {**metrics.stage_seconds, "total": metrics.total_seconds},
        "loss": loss,
        "memory": {"peak_bytes": metrics.peak_memory_bytes},
        "parameters": {
            "trainable": metrics.trainable_parameters,
            "total": metrics.total_parameters,
            "share": metrics.trainable_share,
        },
        "throughput": {"tokens_per_second": metrics.tokens_per_second},
        "size": dict(metrics.sizes),
    }
    if metrics.final_model is not None:
        data["size"]["final"] = metrics.final_model
    if metrics.quantization:
        data["quantization"] = dict(metrics.quantization)
    return data


def write_metrics(path: Path, metrics: Metrics) -> None:
    text = "# Training metrics (seconds, bytes); written by codemode-train\n"
    write_text_atomic(path, text + tomli_w.dumps(metrics_to_dict(metrics)))


def _get(data: Mapping[str, Any], dotted: str, kind: type | tuple[type, ...], where: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise MetricsError(f"{where}: missing key '{dotted}'")
        node = node[part]
    if not isinstance(node, kind) or (isinstance(node, bool) and kind is not bool):
        raise MetricsError(f"{where}: key '{dotted}' has the wrong type ({node!r})")
    return node


def _pairs(value: Any, key: str, where: str) -> tuple[tuple[int, float], ...]:
    try:
        pairs = [(int(i), float(v)) for i, v in value.items()]
    except (TypeError, ValueError):
        raise MetricsError(f"{where}: key '{key}' must map iterations to losses") from None
    return tuple(sorted(pairs))


def metrics_from_dict(data: Mapping[str, Any], where: str = "metrics") -> Metrics:
    """Inverse of ``metrics_to_dict``; derived values (totals, shares, finals) are recomputed."""
    number = (int, float)
    stage_seconds = dict(_get(data, "time", dict, where))
    stage_seconds.pop("total", None)
    sizes = dict(_get(data, "size", dict, where))
    sizes.pop("final", None)
    return Metrics(
        seed=_get(data, "seed", int, where),
        fine_tune_type=_get(data, "fine_tune_type", str, where),
        iterations=_get(data, "iterations", int, where),
        data_hash=_get(data, "data_hash", str, where),
        base_model=_get(data, "base_model.path", str, where),
        base_model_fingerprint=_get(data, "base_model.fingerprint", str, where),
        stage_seconds={k: float(v) for k, v in stage_seconds.items()},
        train_losses=_pairs(_get(data, "loss.train", dict, where), "loss.train", where),
        val_losses=_pairs(_get(data, "loss.validation", dict, where), "loss.validation", where),
        peak_memory_bytes=_get(data, "memory.peak_bytes", int, where),
        trainable_parameters=_get(data, "parameters.trainable", int, where),
        total_parameters=_get(data, "parameters.total", int, where),
        tokens_per_second=float(_get(data, "throughput.tokens_per_second", number, where)),
        sizes={k: int(v) for k, v in sizes.items()},
        quantization=dict(data.get("quantization", {})),
    )


def read_metrics(path: Path) -> Metrics:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetricsError(f"metrics file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise MetricsError(f"{path}: invalid TOML: {error}") from None
    return metrics_from_dict(data, str(path))


# --- markdown ---


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        whole, rest = divmod(round(seconds), 60)
        return f"{whole} min {rest:02d} s"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


def format_bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3f} {unit}" if unit == "GB" else f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def _val_rows(losses: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
    """All points when few; else ``MAX_VAL_ROWS`` evenly spaced ones, first and last included."""
    if len(losses) <= MAX_VAL_ROWS:
        return losses
    step = (len(losses) - 1) / (MAX_VAL_ROWS - 1)
    return tuple(losses[round(k * step)] for k in range(MAX_VAL_ROWS))


def render_metrics_markdown(metrics: Metrics) -> str:
    """The "Training Metrics" table (``| Metric | Value |``) as markdown."""
    rows: list[tuple[str, str]] = []
    for stage in STAGE_ORDER:
        if stage in metrics.stage_seconds:
            value = format_seconds(metrics.stage_seconds[stage])
            if stage == "train":
                value += f" ({metrics.iterations} iterations, {metrics.fine_tune_type})"
            rows.append((_STAGE_LABELS[stage], value))
    rows.append(("Total pipeline", format_seconds(metrics.total_seconds)))
    final = metrics.final_model
    if final is not None:
        detail = final
        if final == "quantized" and metrics.quantization:
            q = metrics.quantization
            detail += f", {q.get('bits')}-bit, group {q.get('group_size')}"
        rows.append(("Final model size", f"{format_bytes(metrics.sizes[final])} ({detail})"))
    rows += [(f"Val loss at iter {i}", f"{v:.3f}") for i, v in _val_rows(metrics.val_losses)]
    if metrics.final_train_loss is not None:
        rows.append(("Final train loss", f"{metrics.final_train_loss:.3f}"))
    if metrics.final_val_loss is not None:
        rows.append(("Final val loss", f"{metrics.final_val_loss:.3f}"))
    rows.append(("Peak memory", format_bytes(metrics.peak_memory_bytes)))
    label = _PARAM_LABELS.get(metrics.fine_tune_type, "Trainable params")
    rows.append(
        (
            label,
            f"{metrics.trainable_parameters / 1e6:.3f}M / {metrics.total_parameters / 1e6:.3f}M"
            f" = {metrics.trainable_share * 100:.3f}%",
        )
    )
    rows.append(("Throughput", f"{metrics.tokens_per_second:,.0f} tokens/s (trained tokens)"))
    rows.append(("Seed", str(metrics.seed)))
    rows.append(("Data hash", f"`{metrics.data_hash}`"))
    rows.append(("Base model", f"`{metrics.base_model_fingerprint}` ({metrics.base_model})"))
    lines = ["| Metric | Value |", "|--------|-------|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"


# --- loss curve ---


def plot_losses(metrics: Metrics, path: Path) -> None:
    """Training (per report window) and validation loss against iteration, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        if metrics.train_losses:
            xs, ys = zip(*metrics.train_losses, strict=True)
            axes.plot(xs, ys, label="train", color="tab:blue")
        if metrics.val_losses:
            xs, ys = zip(*metrics.val_losses, strict=True)
            axes.plot(xs, ys, "o-", label="validation", color="tab:orange")
        axes.set_xlabel("iteration")
        axes.set_ylabel("loss")
        axes.set_title(f"{metrics.fine_tune_type} fine-tune, seed {metrics.seed}")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
