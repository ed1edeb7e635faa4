"""data -> preflight -> train -> fuse -> quantize -> metrics, in one run folder.

The data and preflight stages are injected callables, so the dataset builder and the preflight
checks can be swapped without touching the pipeline:

    data_step(config, out_dir)               writes train.jsonl (and valid.jsonl) into out_dir
    preflight_step(config, model, data_dir)  raises to stop the run before any training

The defaults copy ``config.data`` and run basic checks. Each finished stage is recorded in the
run's ``state.json``; ``resume=True`` skips recorded stages (training continues from its last
checkpoint) and reruns every stage after the first one that had to run again.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from codemode_trainer.config import ConfigError, TrainConfig, config_from_dict, differences
from codemode_trainer.errors import TrainerError
from codemode_trainer.files import write_text_atomic
from codemode_trainer.jobs.metrics import (
    Metrics,
    plot_losses,
    render_metrics_markdown,
    write_metrics,
)
from codemode_trainer.jobs.rank_plan import follow_plan, send_plan
from codemode_trainer.rows import hash_data_dir
from codemode_trainer.run_dir import RunDir
from codemode_trainer.training.distributed import World, current_world
from codemode_trainer.training.fuse import fuse
from codemode_trainer.training.quantize import quantize
from codemode_trainer.training.train import (
    ADAPTER_CONFIG,
    ADAPTER_FILE,
    CHECKPOINT_FILE,
    Report,
    TrainError,
    TrainResult,
    check_data_dir,
    check_model_dir,
    train,
)
from pytest_codemode_eval.identity import fingerprint_directory

DataStep = Callable[[TrainConfig, Path], None]
PreflightStep = Callable[[TrainConfig, Path, Path], None]
STAGES = ("data", "preflight", "train", "fuse", "quantize", "metrics")
SPLITS = ("train.jsonl", "valid.jsonl", "test.jsonl")


class PipelineError(TrainerError, RuntimeError):
    """A one-line, user-facing reason the pipeline stopped."""


def copy_data(config: TrainConfig, out: Path) -> None:
    """Default data stage: copy the JSONL splits of ``config.data`` into the run."""
    if config.data is None:
        raise PipelineError("no data: set 'data' in the config (a folder with train.jsonl)")
    source = Path(config.data)
    if not (source / "train.jsonl").is_file():
        raise PipelineError(f"data folder {source} has no train.jsonl")
    out.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)


def basic_preflight(config: TrainConfig, model: Path, data: Path) -> None:
    """Default preflight: a loadable model folder and enough training rows for one batch."""
    check_model_dir(model)
    check_data_dir(data, config.batch_size)


def _write_config(run: RunDir, config: TrainConfig) -> None:
    write_text_atomic(run.config, tomli_w.dumps(config.to_dict()))


def _check_resumable(run: RunDir, config: TrainConfig) -> None:
    if not run.config.is_file():
        return
    try:
        old = config_from_dict(tomllib.loads(run.config.read_text(encoding="utf-8")), "run")
    except (ConfigError, tomllib.TOMLDecodeError) as error:
        raise PipelineError(f"--resume: {run.config} is unreadable: {error}") from None
    changed = differences(old, config)
    if changed:
        raise PipelineError(
            f"--resume: settings differ from {run.config}: {'; '.join(changed)} "
            "(only iters and reporting/checkpoint cadence may change)"
        )


def _adapter_bytes(adapters: Path) -> int:
    return sum(
        (adapters / name).stat().st_size
        for name in (ADAPTER_FILE, ADAPTER_CONFIG)
        if (adapters / name).is_file()
    )


def build_metrics(run: RunDir, config: TrainConfig, model: Path, data: Path) -> Metrics:
    """Metrics of the run from its ``state.json`` records and the folders on disk."""
    stages: dict[str, Any] = run.read_state().get("stages", {})
    if "train" not in stages:
        raise PipelineError(f"{run.root} has no finished training to report on")
    result = TrainResult.from_dict(stages["train"]["result"])
    sizes = {"adapters": _adapter_bytes(run.adapters)}
    quantization: dict[str, Any] = {}
    if "fuse" in stages and run.fused.is_dir():
        sizes["fused"] = int(stages["fuse"]["size_bytes"])
    if "quantize" in stages and run.quantized.is_dir():
        sizes["quantized"] = int(stages["quantize"]["size_bytes"])
        quantization = {
            "bits": config.quantize.bits,
            "group_size": config.quantize.group_size,
            "mode": config.quantize.mode,
        }
    seconds = {n: float(stages[n]["seconds"]) for n in STAGES[:-1] if n in stages}  # not metrics
    return Metrics(
        seed=config.seed,
        fine_tune_type=config.fine_tune_type,
        iterations=result.iterations,
        data_hash=hash_data_dir(data),
        base_model=str(model),
        base_model_fingerprint=fingerprint_directory(model),
        stage_seconds=seconds,
        train_losses=result.train_losses,
        val_losses=result.val_losses,
        peak_memory_bytes=result.peak_memory_bytes,
        trainable_parameters=result.trainable_parameters,
        total_parameters=result.total_parameters,
        tokens_per_second=result.tokens_per_second,
        sizes=sizes,
        quantization=quantization,
    )


def run_pipeline(
    config: TrainConfig,
    run_root: Path,
    *,
    resume: bool = False,
    stages: Sequence[str] = STAGES,
    data_step: DataStep = copy_data,
    preflight_step: PreflightStep = basic_preflight,
    progress: TextIO | None = None,
    on_report: Report | None = None,
    command: str = "codemode-train pipeline",
    world: World | None = None,
) -> Metrics | None:
    """Run ``stages`` (in pipeline order) in ``run_root``; return the metrics if computed.

    Without a ``data`` stage, training reads ``config.data`` in place. Under ``mlx.launch`` only
    rank 0 runs the pipeline; the other ranks join its training (``rank_plan.follow_plan``).
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise PipelineError(f"unknown stage {unknown[0]!r}; stages are {', '.join(STAGES)}")
    world = world or current_world()
    world.check_batch(config.batch_size)
    if not world.writer:
        follow_plan(world, config, progress)
        return None
    wanted = [s for s in STAGES if s in stages]
    if "train" not in wanted:
        send_plan(world)  # the other ranks have nothing to do
    model, source = _check_inputs(config, wanted, data_step, resume)
    with RunDir(run_root).claim(command, resume=resume) as run:
        resume = resume and run.training_started()  # else nothing to continue: a new run
        if resume:
            _check_resumable(run, config)
        _write_config(run, config)
        done: dict[str, Any] = run.read_state().get("stages", {}) if resume else {}
        data = run.data if source is None else source
        work = _Stages(
            run, config, dataclasses.replace(config, data=str(data)), model, data, resume,
            data_step, preflight_step, progress, on_report, world,
        )  # fmt: skip
        rerun = False  # once a stage runs, every later one must too
        metrics: Metrics | None = None
        for stage in wanted:
            if stage == "metrics":
                metrics = work.metrics()
                continue
            record = done.get(stage)
            if record is not None and not rerun and _still_done(stage, record, config):
                if stage == "train":
                    send_plan(world)
                continue
            rerun = True
            began = time.perf_counter()
            extra = work.run(stage)
            seconds = time.perf_counter() - began
            if stage == "train":
                seconds = float(extra["result"]["seconds"])
            run.record_stage(stage, seconds, **extra)
        return metrics


def _check_inputs(
    config: TrainConfig, wanted: Sequence[str], data_step: DataStep, resume: bool
) -> tuple[Path, Path | None]:
    """The model folder and (without a data stage) the data read in place, checked before the
    run folder is claimed."""
    model = check_model_dir(config.model)
    source = None if "data" in wanted else check_data_dir(config.data, config.batch_size)
    if "data" in wanted and data_step is copy_data and not resume:  # a resumed run has its copy
        check_data_dir(config.data, config.batch_size)  # what the copy will be, checked now
    return model, source


@dataclasses.dataclass(frozen=True)
class _Stages:
    """One run's stages; ``run(stage)`` does one and returns what its record keeps."""

    folder: RunDir
    config: TrainConfig
    trained: TrainConfig  # ``config`` reading the run's data
    model: Path
    data: Path
    resume: bool
    data_step: DataStep
    preflight_step: PreflightStep
    progress: TextIO | None
    on_report: Report | None
    world: World  # rank 0 of it runs the stages; the others follow its training plan

    def run(self, stage: str) -> dict[str, Any]:
        run, data = self.folder, self.data
        if stage == "data":
            if data.exists():
                shutil.rmtree(data)
            self.data_step(self.config, data)
            if not (data / "train.jsonl").is_file():
                raise PipelineError(f"the data stage wrote no {data / 'train.jsonl'}")
            return {"data_hash": hash_data_dir(data)}
        if stage == "preflight":
            self.preflight_step(self.trained, self.model, data)
            return {}
        if stage == "train":
            again = self.resume and (run.adapters / CHECKPOINT_FILE).is_file()
            send_plan(self.world, self.trained, data, run.adapters)
            result = train(
                self.trained, run.adapters, resume=again, progress=self.progress,
                on_report=self.on_report,
            )  # fmt: skip
            return {"result": result.to_dict()}
        if stage == "fuse":
            fused = fuse(self.model, run.adapters, run.fused, overwrite=True)
            return {"size_bytes": fused.size_bytes, "dequantized": fused.dequantized_base}
        return self.quantize()

    def quantize(self) -> dict[str, Any]:
        run = self.folder
        if not run.fused.is_dir():
            raise PipelineError(f"quantize needs the fused model in {run.fused}")
        q = self.config.quantize
        done = quantize(
            run.fused, run.quantized, bits=q.bits, group_size=q.group_size, mode=q.mode,
            overwrite=True,
        )  # fmt: skip
        return {"size_bytes": done.size_bytes}

    def metrics(self) -> Metrics:
        """Build, write and record the run's metrics (table, markdown, loss plot)."""
        began = time.perf_counter()
        metrics = build_metrics(self.folder, self.config, self.model, self.data)
        write_metrics(self.folder.metrics, metrics)
        write_text_atomic(self.folder.metrics_markdown, render_metrics_markdown(metrics))
        plot_losses(metrics, self.folder.loss_plot)
        self.folder.record_stage("metrics", time.perf_counter() - began)
        return metrics


def _still_done(stage: str, record: dict[str, Any], config: TrainConfig) -> bool:
    """Whether a recorded stage is still valid for ``config`` (training may need more iters)."""
    if stage == "train":
        return int(record.get("result", {}).get("iterations", 0)) >= config.iters
    return True


__all__ = [
    "STAGES",
    "DataStep",
    "PipelineError",
    "PreflightStep",
    "TrainError",
    "basic_preflight",
    "build_metrics",
    "copy_data",
    "run_pipeline",
]
