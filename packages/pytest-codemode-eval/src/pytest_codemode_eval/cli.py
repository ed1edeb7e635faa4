"""`codemode-eval`: the plugin's console command, for what needs no model and no pytest run.

`codemode-eval compare BASE.json NEW.json` compares two results files case by case, exactly as
`--codemode-baseline` does inside a run (same flips, same seeded interval, same p-values).
Exit status: 0 compared, 1 overall `worse` with `--fail-on-regression`, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_codemode_eval.compare import compare_runs, load_results
from pytest_codemode_eval.compare_report import (
    render_comparison_markdown,
    render_comparison_terminal,
)
from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.safe_text import json_text

EXIT_OK = 0
EXIT_REGRESSED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codemode-eval", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="compare two results files case by case (paired)")
    compare.add_argument("baseline", type=Path, help="results JSON of the earlier run")
    compare.add_argument("new", type=Path, help="results JSON of the run to judge")
    compare.add_argument("--report", type=Path, help="write the comparison as markdown here")
    compare.add_argument("--json", type=Path, help="write the comparison as JSON here")
    compare.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit status 1 when the overall verdict is worse",
    )
    return parser


def compare_command(args: argparse.Namespace) -> int:
    try:
        comparison = compare_runs(load_results(args.baseline), load_results(args.new))
    except SuiteError as exc:
        print(f"codemode-eval compare: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(render_comparison_terminal(comparison))
    try:
        if args.report:
            args.report.write_text(render_comparison_markdown(comparison) + "\n", encoding="utf-8")
        if args.json:
            text = json_text({"comparison": comparison.to_dict()}, indent=2)
            args.json.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        print(
            f"codemode-eval compare: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    if args.fail_on_regression and comparison.overall.verdict == "worse":
        print("codemode-eval compare: overall worse than the baseline", file=sys.stderr)
        return EXIT_REGRESSED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "compare":
        return compare_command(args)
    return EXIT_BAD_INPUT  # pragma: no cover - argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
