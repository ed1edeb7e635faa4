"""Fuzz parse_output + score_case with mutated real outputs: no exception, no slow input, ever.

Seeds: the outputs of evalsuite/replays/phase40-8b.jsonl plus well-formed answers built from the
suite's catalog for every case (Code Mode in Hermes JSON and Qwen3-Coder XML, direct calls in
both, with and without a think block). Each input is a seed after 1-4 random mutations
(truncation, nested and unbalanced tags, quoting, deep nesting, 1 MB strings, null bytes, U+2028
and other line breaks, lone surrogates, repeated markup, huge ints, odd f-strings, code-level
edits rewrapped as a call), scored against a random case of the reference suite with a random
finish reason.

    uv run --frozen python fuzz/fuzz_scoring.py [--count 1000000] [--seed 0] [--workers 2]

Prints the inputs run, the exceptions (goal 0: an exception escaping, or the parser's or
scorer's own safety net catching one; the first few inputs are saved to --failures), the slowest
input (goal < 100 ms) with its size and mutations (saved to --slowest), and outputs scored per
second. Inputs come in seeded chunks, so the same --count and --seed give the same inputs with any
number of --workers. Times are the
CPU time of the scoring thread (`time.thread_time`): on a shared machine the wall clock mostly
measures the neighbours; the slowest wall time is printed beside it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Case, Suite, load_suite

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "evalsuite" / "suite.toml"
REPLAY = ROOT / "evalsuite" / "replays" / "phase40-8b.jsonl"
FAILURES = ROOT / ".cache" / "fuzz" / "failures.jsonl"  # git-ignored (/.cache/)
SLOWEST = ROOT / ".cache" / "fuzz" / "slowest.json"
KEEP_FAILURES = 20
BIG = 1 << 20  # a "1 MB string"

MARKUP = [
    "<tool_call>",
    "</tool_call>",
    "<tool_call>\n",
    "<function=",
    "<function=execute_code>",
    "<function=read_file>",
    "</function>",
    "<parameter=",
    "<parameter=code>",
    "<parameter=path>",
    "</parameter>",
    "<think>",
    "</think>",
    "<tool_",
    "</tool",
    "<",
    ">",
    "{",
    "}",
    "[",
    "]",
    '{"name": "execute_code", "arguments": {"code": "',
    '{"name": ',
    '"arguments": ',
    '"}}',
    "\n",
]
SPECIAL = [
    "\x00",
    "\u2028",
    "\u2029",
    "\u0085",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\ud800",
    "\udfff",
    "\ufeff",
    "\u200b",
    "\t",
    "\\u0000",
    "\\ud800",
    "\\u2028",
    "\\",
    "\\\\",
]
PYTHON = [
    "(p := '.')",
    "*args",
    "**kwargs",
    "lambda x: x",
    "[read_file(f) for f in files]",
    "f\"{d['\u2028']}\"",
    "f'{x!r:>{w}}'",
    'f"{x}"',
    "0x" + "f" * 5000,
    "9" * 5000,
    "1e999",
    "-" * 20000 + "1",
    "(" * 250,
    ")" * 250,
    "[" * 150 + "]" * 150,
    "not " * 300 + "x",
    "a" + ".b" * 2000,
    "def read_file(p):\n    return p\n",
    "read_file = print\n",
    "async def m():\n    await git_log('.')\n",
    "match x:\n    case {'a': b}:\n        git_status(b)\n",
    "@decorator\ndef f(): pass\n",
    "global git_log\n",
    "import os\n",
    "'''",
    '"""',
    "# git_log('.')\n",
    "\n    ",
    "\\\n",
]


@dataclass(frozen=True)
class Seed:
    kind: str
    text: str
    case_id: str  # the case it answers: most inputs are scored against it, the rest at random
    code: str | None = None  # the Code Mode code inside, when the seed is such a call


@dataclass
class Stats:
    count: int = 0
    exceptions: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    slowest_cpu: float = 0.0
    slowest: dict[str, Any] = field(default_factory=dict)
    slowest_wall: float = 0.0
    scoring_wall: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.exceptions += other.exceptions
        self.failures += other.failures[: max(0, KEEP_FAILURES - len(self.failures))]
        if other.slowest_cpu > self.slowest_cpu:
            self.slowest_cpu, self.slowest = other.slowest_cpu, other.slowest
        self.slowest_wall = max(self.slowest_wall, other.slowest_wall)
        self.scoring_wall += other.scoring_wall
        for verdict, n in other.verdicts.items():
            self.verdicts[verdict] = self.verdicts.get(verdict, 0) + n


# --- seeds ----------------------------------------------------------------------------------


def replay_seeds() -> list[Seed]:
    """The real outputs of a recorded run."""
    lines = REPLAY.read_text(encoding="utf-8").split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    return [Seed("replay", record["output"], record["id"]) for record in records]


def catalog_seeds(suite: Suite) -> list[Seed]:
    """A well-formed answer per case in every syntax: Code Mode and direct, JSON and XML."""
    seeds: list[Seed] = []
    for case in suite.cases:
        calls = [(tool, _arguments(suite, case, tool)) for tool in case.expected]
        code = "\n".join(f"print({tool}({_kwargs(args)}))" for tool, args in calls)
        tool, args = calls[0]
        think = f"<think>\nThe user wants {tool}.\n</think>\n\n"
        wrapped = {"code": code}
        seeds += [
            Seed("code-json", _json_call("execute_code", wrapped), case.id, code),
            Seed("code-xml", _xml_call("execute_code", wrapped), case.id, code),
            Seed("code-json-think", think + _json_call("execute_code", wrapped), case.id, code),
            Seed("direct-json", "".join(_json_call(t, a) for t, a in calls), case.id),
            Seed("direct-xml", "".join(_xml_call(t, a) for t, a in calls), case.id),
            Seed("direct-xml-think", think + _xml_call(tool, args), case.id),
            Seed("prose", f"Run `{tool}` on {args} to see it.", case.id),
        ]
    return seeds


def _arguments(suite: Suite, case: Case, tool: str) -> dict[str, Any]:
    pins = case.pins.get(tool, ({},))[0]
    spec = suite.catalog.tools[tool]
    plausible = {"str": "src/app.py", "int": 5, "bool": True, "float": 1.0}
    arguments: dict[str, Any] = {}
    for name in spec.required_parameters():
        annotation = spec.signature.parameters[name].annotation
        arguments[name] = plausible.get(str(annotation), "src/app.py")
    return {**arguments, **pins}


def _kwargs(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in arguments.items())


def _json_call(name: str, arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def _xml_call(name: str, arguments: dict[str, Any]) -> str:
    parameters = "".join(
        f"<parameter={key}>\n{value if isinstance(value, str) else json.dumps(value)}\n"
        "</parameter>\n"
        for key, value in arguments.items()
    )
    return f"<tool_call>\n<function={name}>\n{parameters}</function>\n</tool_call>"


# --- mutations ------------------------------------------------------------------------------

Mutation = Callable[[random.Random, str], str]


def _at(rng: random.Random, text: str, piece: str) -> str:
    position = rng.randrange(len(text) + 1)
    return text[:position] + piece + text[position:]


def truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def delete_slice(rng: random.Random, text: str) -> str:
    start = rng.randrange(len(text) + 1)
    return text[:start] + text[start + rng.randrange(1, 40) :]


def duplicate_slice(rng: random.Random, text: str) -> str:
    start = rng.randrange(len(text) + 1)
    return _at(rng, text, text[start : start + rng.randrange(1, 200)])


def insert_markup(rng: random.Random, text: str) -> str:
    return _at(rng, text, rng.choice(MARKUP))


def nest_tags(rng: random.Random, text: str) -> str:
    """Wrap a slice in a tag pair, or only open or only close it (unbalanced)."""
    tag = rng.choice(["tool_call", "think", "function=read_file", "parameter=code"])
    opener, closer = f"<{tag}>", f"</{tag.split('=')[0]}>"
    start = rng.randrange(len(text) + 1)
    end = rng.randrange(start, len(text) + 1)
    opener, closer = rng.choice([(opener, closer), (opener, ""), ("", closer), (closer, opener)])
    return text[:start] + opener + text[start:end] + closer + text[end:]


def requote(rng: random.Random, text: str) -> str:
    swaps = [('"', "'"), ("'", '"'), ('"', '\\"'), ('\\"', '"'), ("\\n", "\n"), ("\n", "\\n")]
    old, new = rng.choice(swaps)
    return text.replace(old, new, rng.randrange(1, 4))


def deep_nesting(rng: random.Random, text: str) -> str:
    depth = rng.choice([50, 200, 999, 1000, 5000, 100_000])
    opener, closer = rng.choice([("[", "]"), ("(", ")"), ("{", "}"), ('{"a": ', "}"), ("f(", ")")])
    return _at(rng, text, opener * depth + (closer * depth if rng.random() < 0.5 else ""))


def big_string(rng: random.Random, text: str) -> str:
    """About 1 MB of one character, one piece of markup, or the text itself, repeated."""
    piece = rng.choice(["a", " ", "\n", rng.choice(MARKUP), rng.choice(SPECIAL), text or "x"])
    return _at(rng, text, piece * (BIG // len(piece)))


def repeat_markup(rng: random.Random, text: str) -> str:
    return _at(rng, text, rng.choice(MARKUP) * rng.choice([2, 10, 1000, 20_000]))


def special_character(rng: random.Random, text: str) -> str:
    return _at(rng, text, rng.choice(SPECIAL))


def random_text(rng: random.Random, text: str) -> str:
    """Any code points at all, lone surrogates included."""
    return _at(rng, text, "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(8))))


def rename_tool(rng: random.Random, text: str) -> str:
    names = ["execute_code", "read_file", "git_log", "git_status", "print", "", "x" * 300]
    return text.replace(rng.choice(names[:4]), rng.choice(names), 1)


def python_construct(rng: random.Random, text: str) -> str:
    return _at(rng, text, rng.choice(PYTHON))


MUTATIONS: list[Mutation] = [
    truncate,
    delete_slice,
    duplicate_slice,
    insert_markup,
    insert_markup,
    nest_tags,
    requote,
    deep_nesting,
    repeat_markup,
    special_character,
    special_character,
    random_text,
    rename_tool,
    python_construct,
]
CODE_MUTATIONS: list[Mutation] = [
    python_construct,
    python_construct,
    special_character,
    truncate,
    delete_slice,
    duplicate_slice,
    requote,
    deep_nesting,
    rename_tool,
    random_text,
]


def mutate(rng: random.Random, seed: Seed) -> tuple[str, list[str]]:
    """The seed after 1-4 mutations, and their names; code seeds may be mutated as code."""
    applied: list[str] = []
    if seed.code is not None and rng.random() < 0.4:
        code = seed.code
        for mutation in rng.sample(CODE_MUTATIONS, rng.randrange(1, 4)):
            code = mutation(rng, code)
            applied.append(f"code:{mutation.__name__}")
        text = _rewrap(rng, code)
    else:
        text = seed.text
    for mutation in rng.sample(MUTATIONS, rng.randrange(0 if applied else 1, 4)):
        text = mutation(rng, text)
        applied.append(mutation.__name__)
    if rng.random() < 0.002:  # rare, so a million inputs finish: each is a megabyte to scan
        text = big_string(rng, text)
        applied.append("big_string")
    return text, applied


def _rewrap(rng: random.Random, code: str) -> str:
    if rng.random() < 0.5:
        return _xml_call("execute_code", {"code": code})
    call = {"name": "execute_code", "arguments": {"code": code}}
    return f"<tool_call>{json.dumps(call, ensure_ascii=rng.random() < 0.5)}</tool_call>"


# --- the run --------------------------------------------------------------------------------


def score_one(suite: Suite, case: Case, text: str, finish: str) -> tuple[str | None, str]:
    """(the exception or safety-net message, or None; the verdict)."""
    generation = Generation(text, 1.0, finish, error="boom" if finish == "error" else None)  # type: ignore[arg-type]
    try:
        parsed = parse_output(text)
        score = score_case(case, suite.catalog, generation, parsed)
    except Exception:
        return traceback.format_exc(), "exception"
    caught = [p for p in parsed.problems if p.startswith("parser error")]
    if caught or score.note.startswith("Scorer error"):
        return (caught or [score.note])[0], str(score.verdict)
    return None, str(score.verdict)


def run(count: int, seed: int) -> Stats:
    """Fuzz `count` inputs from random seed `seed`; one worker's share."""
    rng = random.Random(seed)
    suite = load_suite(SUITE)
    seeds = replay_seeds() + catalog_seeds(suite)
    cases = {case.id: case for case in suite.cases}
    finishes = ["stop"] * 6 + ["length", "length", "timeout", "error"]
    stats = Stats()
    for _ in range(count):
        base = rng.choice(seeds)
        text, applied = mutate(rng, base)
        case = cases[base.case_id] if rng.random() < 0.7 else rng.choice(suite.cases)
        finish = rng.choice(finishes)
        wall, cpu = time.perf_counter(), time.thread_time()
        problem, verdict = score_one(suite, case, text, finish)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        _record(stats, problem, verdict, cpu, wall, base, applied, text, case, finish)
    return stats


def _record(
    stats: Stats,
    problem: str | None,
    verdict: str,
    cpu: float,
    wall: float,
    base: Seed,
    applied: list[str],
    text: str,
    case: Case,
    finish: str,
) -> None:
    stats.count += 1
    stats.scoring_wall += wall
    stats.slowest_wall = max(stats.slowest_wall, wall)
    stats.verdicts[verdict] = stats.verdicts.get(verdict, 0) + 1
    kind = f"{base.kind} + {', '.join(applied) or 'none'}"
    if cpu > stats.slowest_cpu:
        stats.slowest_cpu = cpu
        stats.slowest = {
            "chars": len(text), "kind": kind, "case": case.id, "finish": finish, "wall": wall,
            "text": text,
        }  # fmt: skip
    if problem is not None:
        stats.exceptions += 1
        if len(stats.failures) < KEEP_FAILURES:
            stats.failures.append(
                {"case": case.id, "finish": finish, "kind": kind, "error": problem, "text": text}
            )


def _run_share(args: tuple[int, int]) -> Stats:
    return run(*args)


def fuzz(count: int, seed: int, workers: int, chunk: int = 20_000) -> Stats:
    """Split the count into seeded chunks (same inputs whatever --workers is); print progress."""
    jobs = [
        (min(chunk, count - start), seed * 1_000_003 + i)
        for i, start in enumerate(range(0, count, chunk))
    ]
    total = Stats()
    started = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        for stats in pool.imap(_run_share, jobs):
            total.merge(stats)
            elapsed = time.perf_counter() - started
            print(
                f"  {total.count:,} inputs, {total.exceptions} exceptions, "
                f"slowest {total.slowest_cpu * 1000:.1f} ms, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs to run")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same inputs)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument(
        "--failures", type=Path, default=FAILURES, help="where inputs that raised go"
    )
    parser.add_argument("--slowest", type=Path, default=SLOWEST, help="where the slowest goes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stats = fuzz(args.count, args.seed, max(1, args.workers))
    elapsed = time.perf_counter() - started
    _report(stats, elapsed, args.workers, args.failures)
    args.slowest.parent.mkdir(parents=True, exist_ok=True)
    args.slowest.write_text(json.dumps(stats.slowest) + "\n", encoding="utf-8")
    print(f"slowest input saved to {args.slowest}")


def _report(stats: Stats, elapsed: float, workers: int, failures: Path) -> None:
    slow = stats.slowest
    print(f"inputs:      {stats.count:,}")
    print(f"exceptions:  {stats.exceptions}")
    if stats.failures:
        failures.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(failure) for failure in stats.failures]  # ASCII: surrogates survive
        failures.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"             first {len(lines)} saved to {failures}")
    print(
        f"slowest:     {stats.slowest_cpu * 1000:.1f} ms CPU ({slow.get('wall', 0) * 1000:.1f} ms "
        f"wall), {slow.get('chars', 0):,} chars, case {slow.get('case')}, {slow.get('kind')}"
    )
    print(f"slowest wall time of any input: {stats.slowest_wall * 1000:.1f} ms")
    print(
        f"throughput:  {stats.count / stats.scoring_wall:,.0f} outputs scored/s per process "
        f"(parse + score only); {stats.count / elapsed:,.0f} inputs/s overall on {workers} "
        f"worker(s), mutation included; {elapsed:.0f} s"
    )
    print("verdicts:    " + ", ".join(f"{v} {n:,}" for v, n in sorted(stats.verdicts.items())))


if __name__ == "__main__":
    main()
