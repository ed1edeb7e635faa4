"""Checkpoint sweep: fuse and evaluate every saved checkpoint of a run, pick by eval score.

The lowest validation loss is a proxy; the suite score is what the run is for, and the two often
disagree (a model keeps lowering its loss on the data's phrasing after its tool choices on the
suite stopped improving, or got worse). So every checkpoint in ``RUN/adapters`` (each numbered
``NNNNNNN_adapters.safetensors``, and the final ``adapters.safetensors`` when no numbered file
holds its iteration) is fused into the base model and evaluated on the suite:

    RUN/sweep/
      NNNNNNN/model/   base + that checkpoint, float32 (as the fuse stage writes it)
      NNNNNNN/eval/    results.json, report.md of the evaluation
      sweep.json       per checkpoint: iteration, val loss, eval overall and per category; picks
      sweep.md         the same as a markdown table

The pick is the checkpoint with the best eval score (ties: the earlier iteration); the one with
the lowest validation loss is recorded beside it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from codemode_trainer.errors import TrainerError
from codemode_trainer.files import write_json_atomic, write_text_atomic
from codemode_trainer.jobs import evaluation
from codemode_trainer.jobs.evaluation import Evaluate, read_categories
from codemode_trainer.jobs.metrics import MetricsError, read_metrics
from codemode_trainer.run_dir import RunDir
from codemode_trainer.training.fuse import FuseError, fuse
from codemode_trainer.training.train import (
    ADAPTER_CONFIG,
    ADAPTER_FILE,
    TrainError,
    check_model_dir,
    read_checkpoint,
)

SCHEMA = 1
NUMBERED = re.compile(r"^(\d+)_adapters\.safetensors$")


class SweepError(TrainerError, RuntimeError):
    """A one-line, user-facing reason the sweep cannot run."""


@dataclass(frozen=True)
class Checkpoint:
    iteration: int
    weights: Path  # the adapter (or full-weight) safetensors file
    final: bool  # the run's adapters.safetensors holds this iteration


@dataclass(frozen=True)
class SweepPoint:
    iteration: int
    weights: str  # file name in RUN/adapters
    final: bool
    val_loss: float | None
    eval_score: float
    categories: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "weights": self.weights,
            "final": self.final,
            "val_loss": self.val_loss,
            "eval_score": self.eval_score,
            "categories": dict(self.categories),
        }


@dataclass(frozen=True)
class SweepResult:
    run: Path
    suite: Path
    base_model: Path
    points: tuple[SweepPoint, ...]  # by iteration
    best_eval: SweepPoint
    lowest_val_loss: SweepPoint | None  # None when no checkpoint's iteration has a val loss
    json_path: Path
    markdown_path: Path

    @property
    def agree(self) -> bool:
        """Whether the lowest validation loss would have picked the same checkpoint."""
        low = self.lowest_val_loss
        return low is not None and low.iteration == self.best_eval.iteration

    def to_dict(self) -> dict[str, Any]:
        low = self.lowest_val_loss
        return {
            "schema": SCHEMA,
            "run": str(self.run),
            "suite": str(self.suite),
            "base_model": str(self.base_model),
            "points": [p.to_dict() for p in self.points],
            "best_eval": self.best_eval.iteration,
            "lowest_val_loss": None if low is None else low.iteration,
            "agree": self.agree,
        }


# --- what the run folder holds ---


def find_checkpoints(run: RunDir) -> list[Checkpoint]:
    """The numbered checkpoints and the final adapters, one per iteration, in order."""
    adapters = run.adapters
    found: dict[int, Checkpoint] = {}
    if adapters.is_dir():
        for path in adapters.iterdir():
            match = NUMBERED.match(path.name)
            if match and path.is_file():
                found[int(match.group(1))] = Checkpoint(int(match.group(1)), path, final=False)
    final = adapters / ADAPTER_FILE
    if final.is_file():
        iteration = _final_iteration(run)
        if iteration is None:
            iteration = max(found, default=0) if found else None
        if iteration is None:
            raise SweepError(f"{final}: no checkpoint.json or train record says its iteration")
        if iteration in found:  # the same weights; the numbered file stands for both
            found[iteration] = Checkpoint(iteration, found[iteration].weights, final=True)
        else:
            found[iteration] = Checkpoint(iteration, final, final=True)
    return [found[i] for i in sorted(found)]


def _final_iteration(run: RunDir) -> int | None:
    try:
        checkpoint = read_checkpoint(run.adapters)
    except TrainError:
        checkpoint = None
    if checkpoint is not None and isinstance(checkpoint.get("iteration"), int):
        return int(checkpoint["iteration"])
    result = _train_record(run)
    if result is not None and isinstance(result.get("iterations"), int):
        return int(result["iterations"])
    return None


def _train_record(run: RunDir) -> Mapping[str, Any] | None:
    record = run.read_state().get("stages", {}).get("train", {})
    result = record.get("result") if isinstance(record, Mapping) else None
    return result if isinstance(result, Mapping) else None


def val_losses(run: RunDir) -> dict[int, float]:
    """Validation losses by iteration: state.json's train result, else metrics.toml, else the
    history in checkpoint.json; empty when none is recorded."""
    result = _train_record(run)
    pairs: Any = result.get("val_losses") if result is not None else None
    if not pairs and run.metrics.is_file():
        try:
            pairs = read_metrics(run.metrics).val_losses
        except MetricsError:
            pairs = None
    if not pairs:
        try:
            pairs = (read_checkpoint(run.adapters) or {}).get("val")
        except TrainError:
            pairs = None
    losses: dict[int, float] = {}
    for pair in pairs or []:
        try:
            iteration, loss = pair
            losses[int(iteration)] = float(loss)
        except (TypeError, ValueError):
            continue
    return losses


def base_model_of(run: RunDir, base_model: Path | None) -> Path:
    """``base_model`` if given, else the run's config.toml ``model``; checked to be loadable."""
    if base_model is None:
        try:
            config = tomllib.loads(run.config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(f"{run.config} not found; pass --base-model DIR") from None
        except tomllib.TOMLDecodeError as error:
            raise SweepError(f"{run.config} is unreadable: {error}") from None
        model = config.get("model")
        if not isinstance(model, str) or not model:
            raise SweepError(f"{run.config} names no base model; pass --base-model DIR")
        base_model = Path(model).expanduser()
    try:
        return check_model_dir(base_model, what="base model")
    except TrainError as error:
        raise SweepError(str(error)) from None


# --- picks and output ---


def pick_best_eval(points: Sequence[SweepPoint]) -> SweepPoint:
    """Highest eval score; ties go to the earlier iteration."""
    return min(points, key=lambda p: (-p.eval_score, p.iteration))


def pick_lowest_val_loss(points: Sequence[SweepPoint]) -> SweepPoint | None:
    scored = [p for p in points if p.val_loss is not None and not math.isnan(p.val_loss)]
    return min(scored, key=lambda p: (p.val_loss, p.iteration)) if scored else None


def _percent(score: float | None) -> str:
    return "—" if score is None else f"{score * 100:.1f}%"


def render_sweep_markdown(result: SweepResult) -> str:
    categories: list[str] = []
    for point in result.points:
        categories += [name for name in point.categories if name not in categories]
    header = ["Iteration", "Val loss", "Eval overall", *categories, "Pick"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    low = result.lowest_val_loss
    for p in result.points:
        marks = []
        if p.iteration == result.best_eval.iteration:
            marks.append("**best eval**")
        if low is not None and p.iteration == low.iteration:
            marks.append("lowest val loss")
        label = f"{p.iteration}" + (" (final)" if p.final else "")
        val = "—" if p.val_loss is None else f"{p.val_loss:.3f}"
        cells = [label, val, _percent(p.eval_score)]
        cells += [_percent(p.categories.get(name)) for name in categories]
        cells.append(", ".join(marks))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + pick_summary(result) + "\n"


def pick_summary(result: SweepResult) -> str:
    best, low = result.best_eval, result.lowest_val_loss
    model = RunDir(result.run).sweep_point(best.iteration) / "model"
    where = (
        f"model in {model}"
        if model.is_dir()
        else f"weights {RunDir(result.run).adapters / best.weights} (fused model discarded)"
    )
    text = (
        f"Pick: iteration {best.iteration} (best eval, {_percent(best.eval_score)} overall); "
        f"{where}."
    )
    if low is None:
        return text + " No validation loss was recorded at a checkpoint's iteration."
    if low.iteration == best.iteration:
        return text + " The lowest validation loss picks the same checkpoint."
    return text + (
        f" The lowest validation loss ({low.val_loss:.3f}) is at iteration {low.iteration}, "
        f"which scores {_percent(low.eval_score)}."
    )


# --- the sweep ---


def _adapter_folder(weights: Path, config: Path, parent: Path) -> Path:
    """A scratch adapter folder: ``weights`` as adapters.safetensors plus the adapter config."""
    folder = Path(tempfile.mkdtemp(prefix=".adapters.", dir=parent))
    try:
        os.link(weights, folder / ADAPTER_FILE)  # same file system: no copy of full weights
    except OSError:
        shutil.copyfile(weights, folder / ADAPTER_FILE)
    shutil.copyfile(config, folder / ADAPTER_CONFIG)
    return folder


def sweep(
    run_root: Path,
    suite_path: Path,
    *,
    base_model: Path | None = None,
    evaluate: Evaluate | None = None,
    keep_models: bool = True,
    progress: TextIO | None = None,
) -> SweepResult:
    """Fuse and evaluate every checkpoint of the run in ``run_root``; see the module docstring.

    ``evaluate`` defaults to ``evaluation.evaluate`` (pytest with the mlx backend in a
    subprocess). ``keep_models=False`` deletes each fused model once it is evaluated (disk space).
    """
    run = RunDir(Path(run_root))
    checkpoints, model = _sweep_inputs(run, base_model)
    suite_path = Path(suite_path)
    if not suite_path.is_file():
        raise SweepError(f"suite not found: {suite_path}")
    out = progress if progress is not None else sys.stderr

    def say(text: str) -> None:
        print(f"[sweep] {text}", file=out, flush=True)

    def score(model_dir: Path, eval_dir: Path) -> float:
        chosen = evaluate if evaluate is not None else evaluation.evaluate
        return float(chosen(model_dir, suite_path, eval_dir, out, quiet=True))

    losses = val_losses(run)
    points: list[SweepPoint] = []
    with run.hold("sweep"):
        run.sweep.mkdir(exist_ok=True)
        for k, checkpoint in enumerate(checkpoints, 1):
            say(f"checkpoint {k}/{len(checkpoints)}: iteration {checkpoint.iteration}, fusing")
            point = _sweep_point(run, checkpoint, model, score, keep_models)
            point = dataclasses.replace(point, val_loss=losses.get(checkpoint.iteration))
            val = "" if point.val_loss is None else f", val loss {point.val_loss:.3f}"
            say(f"iteration {point.iteration}: eval {_percent(point.eval_score)}{val}")
            points.append(point)
        result = SweepResult(
            run=run.root,
            suite=suite_path,
            base_model=model,
            points=tuple(points),
            best_eval=pick_best_eval(points),
            lowest_val_loss=pick_lowest_val_loss(points),
            json_path=run.sweep_json,
            markdown_path=run.sweep_markdown,
        )
        write_json_atomic(result.json_path, result.to_dict())
        write_text_atomic(result.markdown_path, render_sweep_markdown(result))
    return result


def _sweep_inputs(run: RunDir, base_model: Path | None) -> tuple[list[Checkpoint], Path]:
    """The run's checkpoints and the base model they fuse into, checked before any work."""
    if not run.root.is_dir():
        raise SweepError(f"run folder not found: {run.root}")
    checkpoints = find_checkpoints(run)
    if not checkpoints:
        raise SweepError(f"no checkpoints in {run.adapters} (train the run first)")
    if not (run.adapters / ADAPTER_CONFIG).is_file():
        raise SweepError(f"{run.adapters} has no {ADAPTER_CONFIG}")
    return checkpoints, base_model_of(run, base_model)


def _sweep_point(
    run: RunDir,
    checkpoint: Checkpoint,
    model: Path,
    score: Callable[[Path, Path], float],
    keep_model: bool,
) -> SweepPoint:
    """Fuse one checkpoint into ``RUN/sweep/NNNNNNN/model`` and evaluate it (val loss unset)."""
    here = run.sweep_point(checkpoint.iteration)
    config = run.adapters / ADAPTER_CONFIG
    scratch = _adapter_folder(checkpoint.weights, config, run.sweep)
    try:
        fuse(model, scratch, here / "model", overwrite=True)
    except FuseError as error:
        raise SweepError(f"iteration {checkpoint.iteration}: {error}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    eval_dir = here / "eval"
    if eval_dir.exists():
        shutil.rmtree(eval_dir)  # no stale results.json from an earlier sweep
    eval_score = score(here / "model", eval_dir)
    if not keep_model:
        shutil.rmtree(here / "model", ignore_errors=True)
    return SweepPoint(
        iteration=checkpoint.iteration,
        weights=checkpoint.weights.name,
        final=checkpoint.final,
        val_loss=None,
        eval_score=eval_score,
        categories=read_categories(eval_dir / "results.json"),
    )


__all__ = [
    "Checkpoint",
    "Evaluate",
    "SweepError",
    "SweepPoint",
    "SweepResult",
    "find_checkpoints",
    "pick_best_eval",
    "pick_lowest_val_loss",
    "render_sweep_markdown",
    "sweep",
    "val_losses",
]
