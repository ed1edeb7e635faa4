"""Thin command line front for the trainer: each command parses arguments and calls one function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def _add_init_model(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from codemode_trainer.init_model import PRESETS

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
    for file in files:
        with file.open(encoding="utf-8") as handle:
            yield from handle


def _run_init_model(args: argparse.Namespace) -> int:
    from codemode_trainer.init_model import InitModelError, init_model

    if args.out is None and args.corpus:  # `--corpus A B OUT`: argparse gave OUT to --corpus
        args.out = args.corpus.pop()
    if args.out is None:
        print("codemode-train init-model: error: OUT is required", file=sys.stderr)
        return 2
    try:
        out = init_model(
            args.out,
            args.preset,
            corpus=_corpus_lines(args.corpus),
            call_syntax=args.call_syntax,
            seed=args.seed,
            overwrite=args.force,
        )
    except (InitModelError, OSError) as error:
        print(f"codemode-train init-model: error: {error}", file=sys.stderr)
        return 1
    print(out)
    return 0


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
    p.add_argument("--max-seq-length", type=int, default=2048)
    p.set_defaults(handler=_run_preflight)


def _fail(command: str, error: object) -> int:
    print(f"codemode-train {command}: error: {error}", file=sys.stderr)
    return 1


def _run_data_build(args: argparse.Namespace) -> int:
    from pytest_codemode_eval.errors import SuiteError

    from codemode_trainer.data import DataError, build_for_suite

    try:
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
    except (DataError, SuiteError, OSError, ValueError) as error:
        return _fail("data build", error)
    return 0


def _run_data_validate(args: argparse.Namespace) -> int:
    from pytest_codemode_eval.errors import SuiteError

    from codemode_trainer.validate import validation_summary

    try:
        text, errors = validation_summary(args.file, args.suite)
    except (SuiteError, OSError, ValueError) as error:
        return _fail("data validate", error)
    print(text)
    return 1 if errors else 0


def _run_data_contamination(args: argparse.Namespace) -> int:
    from pytest_codemode_eval.errors import SuiteError

    from codemode_trainer.contamination import contamination_summary

    try:
        text, errors = contamination_summary(args.files, args.suite, args.threshold, args.allow)
    except (SuiteError, OSError, ValueError) as error:
        return _fail("data contamination", error)
    print(text)
    return 1 if errors else 0


def _run_preflight(args: argparse.Namespace) -> int:
    from pytest_codemode_eval.errors import SuiteError

    from codemode_trainer.preflight import PreflightError, preflight_for_suite

    try:
        report = preflight_for_suite(args.model, args.data, args.suite, args.max_seq_length)
    except (PreflightError, SuiteError, OSError, ValueError) as error:
        return _fail("preflight", error)
    print(report.render())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codemode-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_init_model(sub)
    _add_data(sub)
    _add_preflight(sub)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
