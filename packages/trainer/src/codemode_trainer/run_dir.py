"""A run folder and its one owner: the only code that knows the folder's layout.

    RUN/
      owner.json     which run this folder belongs to (id, command, pid, host, start times)
      .lock          held (flock) while a process works in the folder; freed when it dies
      config.toml    the resolved settings the run was started with
      state.json     completed pipeline stages and their times
      data/          train.jsonl, valid.jsonl (the pipeline writes them)
      adapters/      adapters.safetensors, NNNNNNN_adapters.safetensors, optimizer state,
                     checkpoint.json, adapter_config.json
      fused/         base + adapters, float32, loads with mlx_lm.load
      quantized/     fused, quantized (default 5-bit, group 64)
      metrics.toml   the "Training Metrics" of the run; metrics.md the same as markdown
      loss.png       loss curves
      sweep/         the checkpoint sweep: NNNNNNN/model, NNNNNNN/eval, sweep.json, sweep.md

A folder belongs to the run that first claimed it. Claiming it again without ``resume`` (a second
run) is refused with a message naming the owner, and so is any claim while another process holds
the lock. A job that reads the run without changing its training (the sweep) only ``hold``s the
lock, so training cannot rewrite the checkpoints meanwhile. ``resume`` continues the same run
after a crash or to train further. A run that never started training (it stopped at bad data, a
bad model or preflight, or before its first checkpoint) has nothing to lose or continue: the
next claim takes the folder over as a new run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemode_trainer.errors import TrainerError
from codemode_trainer.files import write_json_atomic


class RunDirError(TrainerError, RuntimeError):
    """The run folder can't be used: owned by another run, in use, or nothing to resume."""


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- layout ---
    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    @property
    def fused(self) -> Path:
        return self.root / "fused"

    @property
    def quantized(self) -> Path:
        return self.root / "quantized"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.toml"

    @property
    def metrics_markdown(self) -> Path:
        return self.root / "metrics.md"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss.png"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def sweep(self) -> Path:
        return self.root / "sweep"

    def sweep_point(self, iteration: int) -> Path:
        """The sweep's folder for one checkpoint: ``model/`` and ``eval/`` inside."""
        return self.sweep / f"{iteration:07d}"

    @property
    def sweep_json(self) -> Path:
        return self.sweep / "sweep.json"

    @property
    def sweep_markdown(self) -> Path:
        return self.sweep / "sweep.md"

    @property
    def owner_file(self) -> Path:
        return self.root / "owner.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    # --- ownership ---
    def owner(self) -> dict[str, Any] | None:
        """The owner record, or None for a folder no run has claimed."""
        try:
            data = json.loads(self.owner_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"run_id": "?", "command": "unreadable owner.json"}
        return data if isinstance(data, dict) else {"run_id": "?"}

    def _describe(self, owner: dict[str, Any] | None) -> str:
        if owner is None:
            return "an unknown process"
        return (
            f"run {owner.get('run_id', '?')} ({owner.get('command', '?')}, "
            f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}, "
            f"started {owner.get('started', '?')})"
        )

    @contextmanager
    def _lock(self, busy_hint: str = "") -> Iterator[None]:
        """Hold the folder's flock for the block; another holder is a one-line error."""
        with self.lock_file.open("a+", encoding="utf-8") as handle:  # closing frees the flock
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunDirError(
                    f"run folder {self.root} is in use by {self._describe(self.owner())}"
                    + busy_hint
                ) from None
            yield

    @contextmanager
    def claim(self, command: str, *, resume: bool = False) -> Iterator[RunDir]:
        """Own the folder for the duration of the block; see the module docstring for the rules."""
        if self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"run folder {self.root} exists and is not a directory")
        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            try:
                self._take_ownership(command, resume)
            except RunDirError:
                if created:  # leave no trace of a refused claim
                    self.lock_file.unlink(missing_ok=True)
                    self.root.rmdir()
                raise
            yield self

    @contextmanager
    def hold(self, doing: str) -> Iterator[RunDir]:
        """Hold the lock without claiming the folder: training stays out while ``doing`` reads
        the run (a busy folder is an error that says to ``doing`` it afterwards)."""
        if not self.root.is_dir():
            raise RunDirError(f"run folder not found: {self.root}")
        with self._lock(f"; {doing} it afterwards"):
            yield self

    def training_started(self) -> bool:
        """Whether a checkpoint or a finished training exists: work a new claim would lose."""
        trained = "train" in self.read_state().get("stages", {})
        return trained or (self.adapters / "checkpoint.json").exists()

    def _take_ownership(self, command: str, resume: bool) -> None:
        owner = self.owner()
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if owner is not None and not resume and not self.training_started():
            self.state.unlink(missing_ok=True)  # a run that never trained: start it afresh
            owner = self._new_owner(now)
        elif owner is not None and not resume:
            raise RunDirError(
                f"run folder {self.root} already belongs to {self._describe(owner)}; "
                "pass --resume to continue that run or choose a new folder"
            )
        elif owner is None:
            if resume:
                raise RunDirError(f"--resume: {self.root} holds no run to resume")
            others = [p.name for p in self.root.iterdir() if p.name != self.lock_file.name]
            if others:
                raise RunDirError(
                    f"run folder {self.root} is not empty and not a run folder "
                    f"(has {', '.join(sorted(others)[:3])}); choose a new folder"
                )
            owner = self._new_owner(now)
        else:
            owner = {**owner, "resumed": [*owner.get("resumed", []), now]}
        owner |= {"command": command, "pid": os.getpid(), "host": socket.gethostname()}
        write_json_atomic(self.owner_file, owner)

    @staticmethod
    def _new_owner(now: str) -> dict[str, Any]:
        return {"run_id": uuid.uuid4().hex[:12], "started": now, "resumed": []}

    # --- stage bookkeeping (pipeline) ---
    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"stages": {}}
        return data if isinstance(data, dict) else {"stages": {}}

    def record_stage(self, name: str, seconds: float, **extra: Any) -> None:
        state = self.read_state()
        state.setdefault("stages", {})[name] = {"seconds": seconds, **extra}
        write_json_atomic(self.state, state)
