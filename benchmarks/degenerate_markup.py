"""Parse + score time of degenerate markup at growing sizes: is every path linear?

Each kind repeats one piece of markup (``<function=`` with no ``>``, ``<parameter=`` with no
``>``, unclosed ``<think>``, ...) up to each size and times ``parse_output`` + ``score_case``
against a suite case. A kind whose time grows 8x from 128 KB to 1 MB is linear; 64x is
quadratic. Nothing is asserted: the figures are printed.

    uv run --frozen python benchmarks/degenerate_markup.py [--sizes 131072,1048576] [--limit 60]

Times are CPU time of this process (``time.process_time``): the machine may be shared, and wall
time would mostly measure the neighbours. ``--limit`` stops one input after that many seconds
(SIGALRM, wall clock) and prints ``> LIMIT s``, so the quadratic paths of an old parser can be
measured without waiting minutes.
"""

from __future__ import annotations

import argparse
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Suite, load_suite

SUITE = Path(__file__).resolve().parents[1] / "evalsuite" / "suite.toml"
CODE_OPEN = "<tool_call>\n<function=execute_code>\n<parameter=code>\n"
CODE_CLOSE = "\n</parameter>\n</function>\n</tool_call>"

# kind -> (prefix, repeated piece, suffix)
KINDS: dict[str, tuple[str, str, str]] = {
    "function= without >": ("<tool_call>", "<function=", ""),
    "parameter= without >": ("<tool_call><function=read_file>", "<parameter=", ""),
    "parameter=a> unclosed": ("<tool_call><function=read_file>", "<parameter=a>x", ""),
    "tool_call unclosed": ("", "<tool_call>", ""),
    "tool_call nested": ("", "<tool_call><function=a>", "</tool_call>" * 3),
    "empty tool_call pairs": ("", "<tool_call></tool_call>", ""),
    "think unclosed": ("", "<think>", ""),
    "think pairs": ("", "<think>x</think>", ""),
    "think close only": ("", "</think>", ""),
    "JSON brackets": ('<tool_call>{"name": "read_file", "arguments": ', "[", ""),
    "JSON name keys": ("<tool_call>{", '"name" : ', ""),
    "code: many calls": (CODE_OPEN, "read_file('src/a.py')\n", CODE_CLOSE),
    "code: one 1 MB string": (CODE_OPEN + "read_file('", "a", "')" + CODE_CLOSE),
    "code: nested parens": (CODE_OPEN, "(", CODE_CLOSE),
    "code: unary minus": (CODE_OPEN + "git_log('.', count=", "-", "1)" + CODE_CLOSE),
}


class TooSlow(BaseException):
    """Raised from the alarm handler: the input ran past --limit (not an Exception, so the
    parser's own safety net cannot swallow it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TooSlow


def degenerate(kind: str, size: int) -> str:
    prefix, piece, suffix = KINDS[kind]
    return prefix + piece * max(1, (size - len(prefix) - len(suffix)) // len(piece)) + suffix


def time_one(suite: Suite, text: str, limit: int) -> float | None:
    """Seconds to parse and score `text` against the first case, or None past `limit`."""
    case = suite.cases[0]
    signal.alarm(limit)
    start = time.process_time()
    try:
        score_case(case, suite.catalog, Generation(text), parse_output(text))
    except TooSlow:
        return None
    finally:
        signal.alarm(0)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="131072,1048576", help="comma-separated sizes in chars")
    parser.add_argument("--limit", type=int, default=60, help="seconds before giving up on one")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = [k for k in KINDS if not args.kinds or k in args.kinds.split(",")]
    suite = load_suite(SUITE)
    signal.signal(signal.SIGALRM, _alarm)
    print(f"{'kind':<24}" + "".join(f"{_size(size):>14}" for size in sizes))
    for kind in kinds:
        cells = [_cell(time_one, suite, degenerate(kind, size), args.limit) for size in sizes]
        print(f"{kind:<24}" + "".join(f"{cell:>14}" for cell in cells), flush=True)


def _cell(
    timer: Callable[[Suite, str, int], float | None], suite: Suite, text: str, limit: int
) -> str:
    seconds = timer(suite, text, limit)
    return f"> {limit} s" if seconds is None else f"{seconds * 1000:.1f} ms"


def _size(size: int) -> str:
    return f"{size // 1024} KB" if size < 1 << 20 else f"{size / (1 << 20):g} MB"


if __name__ == "__main__":
    main()
