"""LoRA, DoRA and full fine-tuning through mlx-lm's tuner, with checkpoints that resume exactly.

mlx-lm's ``train()`` runs the steps (same compiled step, same throughput as ``mlx_lm lora``);
this module decides everything around them, on *global* iteration numbers so a resumed run
behaves like an uninterrupted one:

- losses are reported per ``steps_per_report`` window (progress line and ``on_report``),
- validation runs at iteration 0, every ``steps_per_eval`` and at the end, always on the same
  batches (comparable numbers),
- every ``save_every`` iterations (and at the end) ``adapters/`` gets ``adapters.safetensors``,
  ``NNNNNNN_adapters.safetensors``, ``NNNNNNN_optimizer.safetensors`` (optimizer state + RNG key,
  only the latest is kept) and, last, ``checkpoint.json`` naming them with the iteration and the
  loss history. ``resume=True`` restores all of it and replays the batch order, so the same seed
  gives the same losses as a run that never stopped.

Under ``mlx.launch`` (``distributed.py``) ``batch_size`` is the global batch, only rank 0 reads
and writes ``adapters/`` (the others get its checkpoint over the wire), and every rank checks at
the end that its weights are rank 0's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codemode_trainer.config import TrainConfig
from codemode_trainer.errors import TrainerError
from codemode_trainer.figures import LossFigures
from codemode_trainer.files import write_json_atomic
from codemode_trainer.model_files import (
    check_config,
    check_safetensors,
    check_tokenizer,
    weight_files,
)
from codemode_trainer.rows import dataset_rows
from codemode_trainer.training import _mlx
from codemode_trainer.training.distributed import World, current_world
from codemode_trainer.training.progress import Progress
from pytest_codemode_eval.identity import model_folder_lacks

CHECKPOINT_FILE = "checkpoint.json"
ADAPTER_FILE = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"

Report = Callable[[dict[str, Any]], None]


class TrainError(TrainerError, RuntimeError):
    """A one-line, user-facing reason training cannot start or continue."""


@dataclass(frozen=True)
class TrainResult(LossFigures):
    adapters: Path
    fine_tune_type: str
    iterations: int  # the last iteration trained (== config.iters when complete)
    start_iteration: int  # where this session began (the checkpoint's iteration on resume)
    train_losses: tuple[tuple[int, float], ...]  # mean over each report window, by its last iter
    val_losses: tuple[tuple[int, float], ...]
    trainable_parameters: int
    total_parameters: int
    peak_memory_bytes: int
    trained_tokens: int  # by this session
    tokens_per_second: float  # this session, wall clock without validation and checkpoints
    seconds: float  # wall clock of all sessions up to the end (time lost after a crash excluded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapters": str(self.adapters),
            "fine_tune_type": self.fine_tune_type,
            "iterations": self.iterations,
            "start_iteration": self.start_iteration,
            "train_losses": [list(p) for p in self.train_losses],
            "val_losses": [list(p) for p in self.val_losses],
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "peak_memory_bytes": self.peak_memory_bytes,
            "trained_tokens": self.trained_tokens,
            "tokens_per_second": self.tokens_per_second,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainResult:
        return cls(
            adapters=Path(data["adapters"]),
            fine_tune_type=str(data["fine_tune_type"]),
            iterations=int(data["iterations"]),
            start_iteration=int(data["start_iteration"]),
            train_losses=tuple((int(i), float(v)) for i, v in data["train_losses"]),
            val_losses=tuple((int(i), float(v)) for i, v in data["val_losses"]),
            trainable_parameters=int(data["trainable_parameters"]),
            total_parameters=int(data["total_parameters"]),
            peak_memory_bytes=int(data["peak_memory_bytes"]),
            trained_tokens=int(data["trained_tokens"]),
            tokens_per_second=float(data["tokens_per_second"]),
            seconds=float(data["seconds"]),
        )


# --- checks that need no mlx ---

_MODEL_FOLDER_LACKS = {
    "folder": "{what} directory not found: {path}",
    "config.json": "{what} directory {path} has no config.json (not a model folder)",
    "weights": "{what} directory {path} has no model*.safetensors weights",
    "tokenizer": "{what} directory {path} has no tokenizer (tokenizer.json)",
}


def check_model_dir(model: Path | str | None, *, what: str = "model") -> Path:
    """A loadable model folder: a model config.json, complete safetensors weights and a tokenizer.

    Everything mlx-lm's loader reads is checked here, without mlx, so a bad folder is a one-line
    error before any run folder is claimed.
    """
    if model is None:
        raise TrainError(f"no {what}: pass --model or set 'model' in the config")
    path = Path(model)
    lacks = model_folder_lacks(path)
    if lacks is not None:
        raise TrainError(_MODEL_FOLDER_LACKS[lacks].format(what=what, path=path))
    weights = weight_files(path)
    try:
        _mlx.check_architecture(check_config(path / "config.json"))
    except _mlx.SetupError as error:
        raise TrainError(f"{path / 'config.json'}: {error}") from None
    for file in weights:
        check_safetensors(file)
    check_tokenizer(path)
    return path


def check_data_dir(data: Path | str | None, batch_size: int) -> Path:
    """A data folder whose train.jsonl has at least ``batch_size`` readable rows (mlx-lm needs
    that) and whose valid.jsonl, if any, is readable too: all before a run folder is claimed."""
    if data is None:
        raise TrainError("no data: pass --data or set 'data' in the config")
    path = Path(data)
    if not path.is_dir():
        raise TrainError(f"data directory not found: {path}")
    train = path / "train.jsonl"
    if not train.is_file():
        raise TrainError(f"data directory {path} has no train.jsonl")
    rows = len(dataset_rows(train))
    if rows < batch_size:
        raise TrainError(f"{train} has {rows} rows, fewer than batch_size {batch_size}")
    if (path / "valid.jsonl").is_file():
        dataset_rows(path / "valid.jsonl", may_be_empty=True)
    return path


def read_checkpoint(adapters: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((adapters / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise TrainError(f"{adapters / CHECKPOINT_FILE} is unreadable: {error}") from None
    return data if isinstance(data, dict) else None


# --- the training session ---


class _Bookkeeper:
    """Losses, validation, checkpoints and progress on global iteration numbers."""

    def __init__(
        self,
        config: TrainConfig,
        session: _mlx.TrainSession,
        adapters: Path,
        progress: Progress | None,
        on_report: Report | None,
        checkpoint: Mapping[str, Any] | None,
        writer: bool = True,
    ) -> None:
        self.config = config
        self.writer = writer  # only rank 0 of an mlx.launch run writes checkpoints
        self.session = session
        self.adapters = adapters
        self.progress = progress
        self.on_report = on_report
        ck = checkpoint or {}
        self.start = int(ck.get("iteration", 0))
        self.train_losses: list[tuple[int, float]] = [(int(i), v) for i, v in ck.get("train", [])]
        self.val_losses: list[tuple[int, float]] = [(int(i), v) for i, v in ck.get("val", [])]
        self.window: list[float] = list(ck.get("window", []))
        self.earlier_seconds = float(ck.get("seconds", 0.0))
        self.began = time.perf_counter()
        self.mark = self.began
        self.hook_seconds = 0.0  # validation + checkpoints (not training throughput)
        self.window_hook_seconds = 0.0
        self.window_tokens = 0
        self.tokens = 0

    def report(self, event: dict[str, Any]) -> None:
        if self.on_report is not None:
            self.on_report(event)

    def on_step(self, iteration: int, loss: float, tokens: int) -> None:
        self.window.append(loss)
        self.window_tokens += tokens
        self.tokens += tokens
        if iteration % self.config.steps_per_report and iteration != self.config.iters:
            return
        now = time.perf_counter()
        busy = max(now - self.mark - self.window_hook_seconds, 1e-9)
        rate = self.window_tokens / busy
        mean = sum(self.window) / len(self.window)
        self.train_losses.append((iteration, mean))
        self.window, self.window_tokens = [], 0
        self.mark, self.window_hook_seconds = now, 0.0
        if self.progress is not None:
            self.progress.train(iteration, mean, rate, self.tokens)
        self.report(
            {"event": "train", "iteration": iteration, "loss": mean, "tokens_per_second": rate}
        )

    def validate(self, iteration: int) -> None:
        loss = self.session.validate()
        if loss is None:
            return
        self.val_losses.append((iteration, loss))
        if self.progress is not None:
            self.progress.val(iteration, loss)
        self.report({"event": "val", "iteration": iteration, "loss": loss})

    def after_iteration(self, iteration: int) -> None:
        began = time.perf_counter()
        last = iteration == self.config.iters
        if last or iteration % self.config.steps_per_eval == 0:
            self.validate(iteration)
        boundary = iteration % self.config.grad_accumulation_steps == 0  # no half-summed grads
        if last or (boundary and iteration % self.config.save_every == 0):
            self.checkpoint(iteration)
        spent = time.perf_counter() - began
        self.hook_seconds += spent
        self.window_hook_seconds += spent

    def seconds(self) -> float:
        return self.earlier_seconds + time.perf_counter() - self.began

    def checkpoint(self, iteration: int) -> None:
        if not self.writer:
            return
        numbered = self.adapters / f"{iteration:07d}_adapters.safetensors"
        optimizer = self.adapters / f"{iteration:07d}_optimizer.safetensors"
        self.session.save([self.adapters / ADAPTER_FILE, numbered], optimizer)
        write_json_atomic(
            self.adapters / CHECKPOINT_FILE,
            {
                "iteration": iteration,
                "adapters": numbered.name,
                "optimizer": optimizer.name,
                "train": [list(p) for p in self.train_losses],
                "val": [list(p) for p in self.val_losses],
                "window": self.window,
                "seconds": self.seconds(),
            },
        )
        for old in self.adapters.glob("*_optimizer.safetensors"):
            if old != optimizer:
                old.unlink(missing_ok=True)
        self.report({"event": "checkpoint", "iteration": iteration, "path": str(numbered)})


def _adapter_config(config: TrainConfig) -> dict[str, Any]:
    """mlx-lm's ``adapter_config.json``: what ``mlx_lm.load(adapter_path=...)`` rebuilds from."""
    return config.mlx_args()


def train(
    config: TrainConfig,
    adapters: Path,
    *,
    resume: bool = False,
    progress: TextIO | None = None,
    on_report: Report | None = None,
    world: World | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``config.data`` into ``adapters``; see the module docstring.

    ``progress`` is a stream for the progress line (None: silent). ``on_report`` gets
    ``{"event": "train"|"val"|"checkpoint", "iteration": ...}`` dicts; an exception it raises
    stops training like a crash would (the last checkpoint stays valid). Under ``mlx.launch``
    (``world``, default: the one this process joined) ``config.batch_size`` is the global batch,
    only rank 0 reads and writes ``adapters`` and every rank ends with rank 0's weights.
    """
    world = world or current_world()
    world.check_batch(config.batch_size)
    model = check_model_dir(config.model)
    data = check_data_dir(config.data, config.batch_size)
    adapters = Path(adapters)
    checkpoint = _claim_adapters(adapters, resume) if world.writer else None
    start = int(world.share(int(checkpoint["iteration"]) if checkpoint else 0))
    session = _open_session(config, model, data, adapters, checkpoint, world, start)
    if world.writer:
        write_json_atomic(adapters / ADAPTER_CONFIG, _adapter_config(config))
    line = _progress_line(config, session, start, progress, world.label)
    book = _Bookkeeper(config, session, adapters, line, on_report, checkpoint, world.writer)
    if start == 0:
        book.validate(0)
    if start < config.iters:
        try:
            session.run(
                start, config.iters, adapters / ADAPTER_FILE, book.on_step, book.after_iteration
            )
        except _mlx.SetupError as error:
            raise TrainError(str(error)) from None
        finally:
            if line is not None:
                line.close()
    _check_same_weights(session, world, line)
    return _result(config, adapters, start, session, book)


def _claim_adapters(adapters: Path, resume: bool) -> dict[str, Any] | None:
    """The checkpoint to resume from (None: a fresh start), after refusing the wrong folder."""
    checkpoint = read_checkpoint(adapters) if resume else None
    if resume and checkpoint is None:
        raise TrainError(f"--resume: no checkpoint in {adapters}")
    if not resume and (adapters / CHECKPOINT_FILE).exists():
        raise TrainError(f"{adapters} already holds a checkpoint; resume it or use a new folder")
    adapters.mkdir(parents=True, exist_ok=True)
    return checkpoint


def _open_session(
    config: TrainConfig,
    model: Path,
    data: Path,
    adapters: Path,
    checkpoint: Mapping[str, Any] | None,
    world: World,
    start: int,
) -> _mlx.TrainSession:
    """A session at iteration ``start``: rank 0 restores the checkpoint, the others copy it."""
    try:
        session = _mlx.TrainSession(model, data, config.mlx_args())
        if checkpoint is not None:
            session.restore(
                adapters / str(checkpoint["adapters"]), adapters / str(checkpoint["optimizer"])
            )
    except _mlx.SetupError as error:
        raise TrainError(str(error)) from None
    except FileNotFoundError as error:
        raise TrainError(f"--resume: checkpoint file missing: {error.filename}") from None
    if start > 0 and world.size > 1:
        session.share_rank0_state(world.writer)
    return session


def _progress_line(
    config: TrainConfig,
    session: _mlx.TrainSession,
    start: int,
    stream: TextIO | None,
    label: str,
) -> Progress | None:
    if stream is None:
        return None
    line = Progress(config.iters, start=start, stream=stream, label=label)
    share = session.trainable / session.total * 100 if session.total else 0.0
    line.note(
        f"{config.fine_tune_type}: {session.trainable:,} of {session.total:,} parameters "
        f"trainable ({share:.3f}%)" + (f"; resuming at iteration {start}" if start else "")
    )
    return line


def _check_same_weights(session: _mlx.TrainSession, world: World, line: Progress | None) -> None:
    """Under ``mlx.launch``: every rank must end with rank 0's weights (each prints its digest)."""
    if world.size == 1:
        return
    mine = session.weights_digest()
    rank0 = str(world.share(mine))
    if line is not None:
        line.note(f"trained weights sha256 {mine}" + (" (as rank 0)" if mine == rank0 else ""))
    if mine != rank0:
        raise TrainError(f"trained weights differ from rank 0's (sha256 {mine} vs {rank0})")


def _result(
    config: TrainConfig,
    adapters: Path,
    start: int,
    session: _mlx.TrainSession,
    book: _Bookkeeper,
) -> TrainResult:
    busy = time.perf_counter() - book.began - book.hook_seconds
    return TrainResult(
        adapters=adapters,
        fine_tune_type=config.fine_tune_type,
        iterations=max(start, config.iters),
        start_iteration=start,
        train_losses=tuple(book.train_losses),
        val_losses=tuple(book.val_losses),
        trainable_parameters=session.trainable,
        total_parameters=session.total,
        peak_memory_bytes=session.peak_memory(),
        trained_tokens=book.tokens,
        tokens_per_second=book.tokens / busy if book.tokens and busy > 0 else 0.0,
        seconds=book.seconds(),
    )
