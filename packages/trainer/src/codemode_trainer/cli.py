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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codemode-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_init_model(sub)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
