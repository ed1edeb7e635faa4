"""Training under ``mlx.launch``: which rank this process is, and what only rank 0 does.

mlx-lm's trainer already shards every batch over the ranks and averages the gradients; what it
leaves to us is the run folder. Rank 0 alone claims it, writes data, config, checkpoints, metrics
and the later stages (fuse, quantize, metrics); every other rank only trains, reading the same
model and data paths on its own host and writing nothing. Ranks must take the same decisions at
the same time or a collective waits forever, so rank 0 decides (train or not, with which
settings, from which checkpoint) and ``World.share`` hands its decision to the others. A rank that
fails exits non-zero; ``mlx.launch`` then stops the others (and itself still exits 0, see the
README), so each error line names the rank it came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from codemode_trainer import _mlx
from codemode_trainer.config import TrainConfig, config_from_dict
from codemode_trainer.errors import TrainerError
from codemode_trainer.metrics import hash_data_dir

_launched: World | None = None  # the world this process joined, for error lines


class DistributedError(TrainerError, RuntimeError):
    """The ranks of an ``mlx.launch`` run disagree (data, batch size) or lost each other."""


@dataclass(frozen=True)
class World:
    """This process's place among the ranks ``mlx.launch`` started (``0/1`` when run alone)."""

    rank: int = 0
    size: int = 1

    @property
    def writer(self) -> bool:
        """Whether this rank owns the run folder (rank 0)."""
        return self.rank == 0

    @property
    def label(self) -> str:
        """``[rank 1/2]`` under ``mlx.launch``, empty when alone."""
        return f"[rank {self.rank}/{self.size}]" if self.size > 1 else ""

    def share(self, value: Any) -> Any:
        """Rank 0's JSON-able ``value`` on every rank (the others pass anything, e.g. None)."""
        if self.size == 1:
            return value
        payload = json.dumps(value).encode() if self.writer else None
        return json.loads(_mlx.share_bytes(payload, self.writer))

    def check_batch(self, batch_size: int) -> None:
        """mlx-lm gives each rank ``batch_size / size`` rows of every batch: it must divide."""
        if batch_size % self.size:
            raise DistributedError(
                f"batch_size {batch_size} cannot be split over the {self.size} ranks of this "
                f"mlx.launch run: use a multiple of {self.size} (it is the global batch)"
            )


def current_world() -> World:
    """Join the ranks ``mlx.launch`` started (a world of one without it)."""
    global _launched
    if _launched is None:
        rank, size = _mlx.world()
        _launched = World(rank, size)
    return _launched


def launched_label() -> str:
    """The rank label of this process: ``[rank 1/2]`` once it joined its world; before that
    (an error while reading the command line) ``[rank 1]`` from ``mlx.launch``'s ``MLX_RANK``."""
    if _launched is not None:
        return _launched.label
    rank = os.environ.get("MLX_RANK", "")
    return f"[rank {rank}]" if rank.isdigit() else ""


def lost_peer(error: RuntimeError) -> DistributedError:
    """mlx's ``[ring] connection to a peer was lost`` as one line that says what to look for."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return DistributedError(
        f"lost another rank of the mlx.launch run ({first}): it failed or was stopped; "
        "its own error line says why"
    )


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is mlx's distributed backend reporting a peer gone."""
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        tag in text for tag in ("[ring]", "[mpi]", "[jaccl]", "[nccl]")
    )


# --- the pipeline's training plan: decided by rank 0, followed by the others ---


def send_plan(
    world: World,
    config: TrainConfig | None = None,
    data: Path | None = None,
    adapters: Path | None = None,
) -> None:
    """Rank 0: tell the other ranks to train ``config`` on ``data`` into ``adapters``, or (no
    arguments) that this run does not train."""
    if world.size == 1 or not world.writer:
        return
    if config is None or data is None or adapters is None:
        world.share({"train": False})
        return
    world.share(
        {
            "train": True,
            "config": config.to_dict(),
            "data_hash": hash_data_dir(data),
            "adapters": str(adapters),
        }
    )


def follow_plan(world: World, config: TrainConfig, progress: TextIO | None) -> None:
    """Ranks 1..n-1 of ``run_pipeline``: wait for rank 0's plan, then train as it says.

    The settings are rank 0's; the model and data are this rank's own (``config``: its command
    line, paths as on its host). The data must hash like rank 0's training data (the pipeline's
    data stage copies ``config.data`` on rank 0, so the source folder is read here).
    """
    from codemode_trainer.train import check_data_dir, train

    plan = world.share(None)
    if not plan["train"]:
        return
    settings = config_from_dict(plan["config"], "rank 0's settings")
    settings = dataclasses.replace(settings, model=config.model, data=config.data)
    data = check_data_dir(config.data, settings.batch_size)
    if hash_data_dir(data) != plan["data_hash"]:
        raise DistributedError(
            f"{data} differs from rank 0's training data (hash {hash_data_dir(data)} vs "
            f"{plan['data_hash']}): every host needs the same data at the same path"
        )
    train(settings, Path(plan["adapters"]), progress=progress, world=world)


__all__ = [
    "DistributedError",
    "World",
    "current_world",
    "follow_plan",
    "is_peer_failure",
    "launched_label",
    "lost_peer",
    "send_plan",
]
