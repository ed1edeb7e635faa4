"""Thin command line front for the trainer: each command parses arguments and calls one function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]

#: Exit statuses (README "Bad input"): done; checks found problems or the input is unusable
#: (one line on stderr); the command line itself is wrong (argparse's status).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT: train/pipeline stopped by Ctrl-C, resumable


def _add_init_model(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from codemode_trainer.training.init_model import PRESETS

    p = sub.add_parser("init-model", help="write a random-initialised offline Qwen3-style model")
    p.add_argument("out", type=Path, nargs="?", metavar="OUT", help="model directory to create")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    p.add_argument("--call-syntax", default="json", choices=["json", "xml"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--corpus",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="text files to train the tokenizer on (prompts, system prompt, tools)",
    )
    p.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    p.set_defaults(handler=_run_init_model)


def _corpus_lines(files: list[Path]) -> Iterator[str]:
    from codemode_trainer.errors import DataError

    for file in files:
        with file.open(encoding="utf-8") as handle:
            try:
                yield from handle
            except UnicodeDecodeError as error:
                raise DataError(f"{file}: not UTF-8 text (byte {error.start})") from None


def _run_init_model(args: argparse.Namespace) -> int:
    from codemode_trainer.training.init_model import init_model

    if args.out is None and args.corpus:  # `--corpus A B OUT`: argparse gave OUT to --corpus
        args.out = args.corpus.pop()
    if args.out is None:
        print("codemode-train init-model: error: OUT is required", file=sys.stderr)
        return EXIT_USAGE
    out = init_model(
        args.out,
        args.preset,
        corpus=_corpus_lines(args.corpus),
        call_syntax=args.call_syntax,
        seed=args.seed,
        overwrite=args.force,
    )
    print(out)
    return EXIT_OK


def _add_data(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = sub.add_parser("data", help="build, validate and check Code Mode training data")
    cmds = data.add_subparsers(dest="data_command", required=True)
    b = cmds.add_parser("build", help="write train.jsonl / valid.jsonl in mlx-lm chat format")
    b.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    b.add_argument("--out", type=Path, required=True, metavar="DIR")
    b.add_argument("--n", type=int, default=1200, help="rows in train + valid")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--valid-fraction", type=float, default=0.1)
    b.add_argument(
        "--call-syntax",
        choices=["json", "xml", "auto"],
        default=None,
        help="default: auto with --model, else json",
    )
    b.add_argument("--model", type=Path, metavar="DIR", help="detect the syntax from its template")
    b.add_argument("--workspace", type=Path, help="default: the suite's workspace/ folder")
    b.set_defaults(handler=_run_data_build)
    v = cmds.add_parser("validate", help="check a chat JSONL file against the suite")
    v.add_argument("file", type=Path, metavar="FILE.jsonl")
    v.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    v.set_defaults(handler=_run_data_validate)
    c = cmds.add_parser("contamination", help="find training prompts close to eval prompts")
    c.add_argument("files", type=Path, nargs="+", metavar="FILE.jsonl")
    c.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    c.add_argument("--threshold", type=float, default=0.9)
    c.add_argument("--allow", nargs="+", default=[], metavar="ID", help="case ids to tolerate")
    c.set_defaults(handler=_run_data_contamination)


def _add_preflight(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("preflight", help="check a model's tokenizer and data before training")
    p.add_argument("--model", type=Path, required=True, metavar="DIR")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with train.jsonl and valid.jsonl",
    )
    p.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the training config: check rows against its max_seq_length",
    )
    p.add_argument(
        "--max-seq-length", type=int, default=None, help="default: the config's, else 2048"
    )
    p.set_defaults(handler=_run_preflight)


def _run_data_build(args: argparse.Namespace) -> int:
    from codemode_trainer.data.dataset import build_for_suite

    print(
        build_for_suite(
            args.suite,
            args.out,
            n_examples=args.n,
            seed=args.seed,
            valid_fraction=args.valid_fraction,
            call_syntax=args.call_syntax,
            model=args.model,
            workspace=args.workspace,
        )
    )
    return EXIT_OK


def _run_data_validate(args: argparse.Namespace) -> int:
    from codemode_trainer.checks.validate import validation_summary

    text, errors = validation_summary(args.file, args.suite)
    print(text)
    return EXIT_FAILED if errors else EXIT_OK


def _run_data_contamination(args: argparse.Namespace) -> int:
    from codemode_trainer.checks.contamination import contamination_summary

    text, errors = contamination_summary(args.files, args.suite, args.threshold, args.allow)
    print(text)
    return EXIT_FAILED if errors else EXIT_OK


def _run_preflight(args: argparse.Namespace) -> int:
    from codemode_trainer.checks.preflight import preflight_for_suite
    from codemode_trainer.config import load_config

    limit = args.max_seq_length
    if limit is None:  # the limit training will cut at: the config's (its default is mlx-lm's)
        limit = load_config(args.config).max_seq_length
    report = preflight_for_suite(args.model, args.data, args.suite, limit)
    print(report.render())
    return EXIT_OK if report.ok else EXIT_FAILED


# --- train, pipeline, fuse, quantize, metrics -------------------------------------------------


def _add_training_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def settings(p: argparse.ArgumentParser, *, config_required: bool) -> None:
        p.add_argument("--config", type=Path, required=config_required, metavar="FILE",
                       help="TOML (or mlx-lm YAML) training config")  # fmt: skip
        p.add_argument("--model", type=Path, metavar="DIR", help="base model (overrides config)")
        p.add_argument("--data", type=Path, metavar="DIR", help="train.jsonl/valid.jsonl folder")
        p.add_argument("--run", type=Path, required=True, metavar="RUN_DIR", help="run folder")
        p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. lora.rank=16 (repeatable)")  # fmt: skip
        for flag, kind in (("--iters", int), ("--batch-size", int), ("--learning-rate", float),
                           ("--seed", int), ("--num-layers", int)):  # fmt: skip
            p.add_argument(flag, type=kind, default=None)
        p.add_argument("--fine-tune-type", choices=["lora", "dora", "full"], default=None)

    t = sub.add_parser("train", help="LoRA/DoRA/full fine-tune into a run folder")
    settings(t, config_required=False)
    t.set_defaults(handler=_run_train, stages=("train", "metrics"))
    p = sub.add_parser("pipeline", help="data, preflight, train, fuse, quantize, metrics")
    settings(p, config_required=True)
    p.set_defaults(handler=_run_train, stages=None)

    f = sub.add_parser("fuse", help="fuse adapters into their base model (float32)")
    f.add_argument("--model", type=Path, required=True, metavar="DIR")
    f.add_argument("--adapters", type=Path, required=True, metavar="DIR")
    f.add_argument("--out", type=Path, required=True, metavar="DIR")
    f.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    f.set_defaults(handler=_run_fuse)

    q = sub.add_parser("quantize", help="quantize a model (default 5-bit, group size 64)")
    q.add_argument("--model", type=Path, required=True, metavar="DIR")
    q.add_argument("--out", type=Path, required=True, metavar="DIR")
    q.add_argument("--bits", type=int, default=5)
    q.add_argument("--group-size", type=int, default=64)
    q.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    q.set_defaults(handler=_run_quantize)

    m = sub.add_parser("metrics", help="print a run's metrics.toml as a markdown table")
    m.add_argument("run", type=Path, metavar="RUN_DIR")
    m.set_defaults(handler=_run_metrics)


def _run_train(args: argparse.Namespace) -> int:
    from codemode_trainer.config import load_config, parse_override
    from codemode_trainer.jobs.metrics import render_metrics_markdown
    from codemode_trainer.jobs.pipeline import STAGES, run_pipeline

    command = args.command
    try:
        overrides = dict(parse_override(item) for item in args.set)
        for key in ("model", "data", "iters", "batch_size", "learning_rate", "seed",
                    "num_layers", "fine_tune_type"):  # fmt: skip
            value = getattr(args, key)
            if value is not None:
                overrides[key] = str(value) if isinstance(value, Path) else value
        config = load_config(args.config, overrides)
        if config.ignored:
            print(f"note: ignored mlx-lm keys: {', '.join(config.ignored)}", file=sys.stderr)
        metrics = run_pipeline(
            config,
            args.run,
            resume=args.resume,
            stages=args.stages or STAGES,
            progress=sys.stderr,
            command=f"codemode-train {command}",
        )
    except KeyboardInterrupt:
        print(f"codemode-train {command}: interrupted; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if metrics is not None:
        print(render_metrics_markdown(metrics), end="")
    return EXIT_OK


def _run_fuse(args: argparse.Namespace) -> int:
    from codemode_trainer.training.fuse import fuse

    result = fuse(args.model, args.adapters, args.out, overwrite=args.force)
    print(result.path)
    return EXIT_OK


def _run_quantize(args: argparse.Namespace) -> int:
    from codemode_trainer.training.quantize import quantize

    result = quantize(
        args.model, args.out, bits=args.bits, group_size=args.group_size, overwrite=args.force
    )
    print(result.path)
    return EXIT_OK


def _run_metrics(args: argparse.Namespace) -> int:
    from codemode_trainer.jobs.metrics import read_metrics, render_metrics_markdown
    from codemode_trainer.run_dir import RunDir

    metrics = read_metrics(RunDir(args.run).metrics)
    print(render_metrics_markdown(metrics), end="")
    return EXIT_OK


def _add_demo(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="build, train, quantize and evaluate an offline model")
    p.add_argument("--run", type=Path, required=True, help="a new folder for everything")
    p.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    p.add_argument("--preset", default="tiny")
    p.add_argument("--iters", type=int, default=None, help="training iterations")
    p.add_argument("--examples", type=int, default=1200, help="generated training rows")
    p.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    import dataclasses

    from codemode_trainer.jobs.demo import DEMO_TRAINING, run_demo

    config = DEMO_TRAINING
    if args.iters is not None:
        config = dataclasses.replace(config, iters=args.iters)
    result = run_demo(
        args.run, args.suite, preset=args.preset, n_examples=args.examples, config=config
    )
    return EXIT_OK if result.learned else EXIT_FAILED


def _add_sweep(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sweep", help="fuse and evaluate every checkpoint of a run; pick by eval")
    p.add_argument("--run", type=Path, required=True, metavar="RUN_DIR", help="run folder")
    p.add_argument("--suite", type=Path, default=Path("evalsuite/suite.toml"))
    p.add_argument("--base-model", type=Path, metavar="DIR", help="default: the run's model")
    p.add_argument("--discard-models", action="store_true", help="delete fused models after eval")
    p.set_defaults(handler=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    from codemode_trainer.jobs.sweep import render_sweep_markdown, sweep

    result = sweep(
        args.run, args.suite, base_model=args.base_model, keep_models=not args.discard_models
    )
    print(render_sweep_markdown(result), end="")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codemode-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_init_model(sub)
    _add_data(sub)
    _add_preflight(sub)
    _add_training_commands(sub)
    _add_demo(sub)
    _add_sweep(sub)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    command = " ".join(filter(None, (args.command, getattr(args, "data_command", None))))
    try:
        return handler(args)
    except Exception as error:
        message = error_line(error)
        if message is None:
            raise  # a bug, not bad input: the traceback is what a bug report needs
        rank = _rank_label()  # under mlx.launch, which rank failed
        print(f"codemode-train {command}{rank}: error: {message}", file=sys.stderr)
        return EXIT_FAILED


def _rank_label() -> str:
    from codemode_trainer.training.distributed import launched_label

    label = launched_label()
    return f" {label}" if label else ""


def error_line(error: BaseException) -> str | None:
    """The one-line message for bad input (a TrainerError, a suite error, an OS error naming its
    file), or None for anything else."""
    from codemode_trainer.errors import TrainerError
    from codemode_trainer.training.distributed import is_peer_failure, lost_peer
    from pytest_codemode_eval.errors import SuiteError

    if isinstance(error, TrainerError | SuiteError):
        return str(error)
    if isinstance(error, RuntimeError) and is_peer_failure(error):
        return str(lost_peer(error))
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    return None
