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

import json
import os
from dataclasses import dataclass
from typing import Any

from codemode_trainer.errors import TrainerError
from codemode_trainer.training import _mlx

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


__all__ = [
    "DistributedError",
    "World",
    "current_world",
    "is_peer_failure",
    "launched_label",
    "lost_peer",
]
