"""The pipeline's training plan under ``mlx.launch``: decided by rank 0, followed by the others.

Ranks must take the same decisions at the same time or a collective waits forever: rank 0 runs
the pipeline and tells the others whether it trains, with which settings and data
(``World.share``); they train along and write nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TextIO

from codemode_trainer.config import TrainConfig, config_from_dict
from codemode_trainer.rows import hash_data_dir
from codemode_trainer.training.distributed import DistributedError, World
from codemode_trainer.training.train import check_data_dir, train


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
