"""Training throughput of ``codemode-train train`` against the ``mlx_lm lora`` CLI (target >= 0.95).

Both run as subprocesses on the same generated model and data with the same settings, and both
get the same BLAS (``python -m pytest_codemode_eval.blas mlx_lm lora ...`` for the CLI; our
trainer calls ``use_fast_blas()`` itself). Throughput is measured the same way for both, from the
outside: each report line is timestamped as it arrives, and tokens/s is the growth of the trained
(unmasked) token count between the first and the last report over the wall time between them. So
start-up, model loading and the first compile are left out, and every per-step cost inside the
loop (callbacks, checkpoints' absence, progress printing) is counted. Rounds alternate which one
goes first; the ratio reported is the median of the per-round ratios.

    uv run python benchmarks/train_throughput.py [--preset tiny] [--iters 60] [--sequential]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemode_trainer.init_model import init_model

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# mlx_lm lora:  "    10    5.909 ▼       48      0.9k"  (iter, loss, tok/s, trained tokens in k)
CLI_LINE = re.compile(r"^\s*(\d+)\s+([\d.]+) [▼▲]\s+([\d,]+)\s+([\d.]+)k\s*$")
# ours:         "iter 10/80  loss 2.345  1,234 tok/s  5,678 tokens  ETA 0:12"
OUR_LINE = re.compile(r"^iter\s+(\d+)/\d+\s+loss [\d.]+\s+.*?([\d,]+) tokens\s+ETA")

TOOLS = {
    "get_weather": ("city", ["What is the weather in {x}?", "Is it raining in {x}?"],
                    ["Berlin", "Paris", "Oslo", "Rome", "Tokyo", "Lima"]),
    "read_file": ("path", ["Show me {x}", "Open {x} and print it"],
                  ["notes.txt", "main.py", "README.md", "data.csv"]),
    "run_tests": ("target", ["Run the tests in {x}", "Check {x} with pytest"],
                  ["tests/", "src/", "app/", "lib/"]),
    "git_log": ("count", ["Show the last {x} commits", "List {x} recent commits"],
                ["3", "5", "7", "10"]),
}  # fmt: skip


def rows(n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for _ in range(n):
        name = rng.choice(sorted(TOOLS))
        arg, phrasings, values = TOOLS[name]
        value = rng.choice(values)
        call = {"type": "function", "function": {"name": name, "arguments": {arg: value}}}
        out.append({"messages": [
            {"role": "system", "content": "You route requests to tools."},
            {"role": "user", "content": rng.choice(phrasings).format(x=value)},
            {"role": "assistant", "content": "", "tool_calls": [call]},
        ]})  # fmt: skip
    return out


@dataclass(frozen=True)
class Measure:
    tokens_per_second: float
    iterations_per_second: float
    seconds: float  # whole process
    window: tuple[float, float]  # first and last report used


Points = list[tuple[float, int, float]]  # (time, iteration, cumulative trained tokens)


def collect(command: list[str], parse: re.Pattern[str], scale: float, out: dict[str, Any]) -> None:
    """Run ``command`` and timestamp its report lines as they arrive (into ``out``)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "dumb", "NO_COLOR": "1"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    points: Points = []
    tail: list[str] = []
    assert proc.stdout is not None
    for raw in proc.stdout:
        now = time.perf_counter()
        line = ANSI.sub("", raw.rstrip("\n"))
        tail = [*tail[-20:], line]
        match = parse.match(line)
        if match:
            points.append(
                (now, int(match.group(1)), float(match.groups()[-1].replace(",", "")) * scale)
            )
    out.update(code=proc.wait(), points=points, tail=tail, seconds=time.perf_counter() - began)


def rate(result: dict[str, Any], start: float, stop: float, name: str) -> Measure:
    """Tokens/s between the first and last report inside ``[start, stop]``."""
    inside = [p for p in result["points"] if start <= p[0] <= stop]
    if result["code"] != 0 or len(inside) < 2:
        sys.exit(
            f"benchmark run of {name} failed or reported too little:\n" + "\n".join(result["tail"])
        )
    (t0, i0, k0), (t1, i1, k1) = inside[0], inside[-1]
    return Measure((k1 - k0) / (t1 - t0), (i1 - i0) / (t1 - t0), result["seconds"], (t0, t1))


def run_round(commands: dict[str, tuple[list[str], re.Pattern[str], float]], concurrent: bool,
              order: list[str]) -> dict[str, Measure]:  # fmt: skip
    results: dict[str, dict[str, Any]] = {name: {} for name in commands}
    if concurrent:  # both see the same background load: the fair choice on a shared machine
        threads = [
            threading.Thread(target=collect, args=(*commands[name], results[name]))
            for name in order
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # only the time both were training counts
        start = max(r["points"][0][0] for r in results.values() if r["points"])
        stop = min(r["points"][-1][0] for r in results.values() if r["points"])
        return {name: rate(results[name], start, stop, name) for name in commands}
    for name in order:
        collect(*commands[name], results[name])
    return {name: rate(results[name], 0.0, float("inf"), name) for name in commands}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", help="init-model preset (tiny, small)")
    parser.add_argument("--fine-tune-type", default="lora", choices=["lora", "dora"])
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--report", type=int, default=5, help="steps per report")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="run the two one after the other (default: side by side, sharing the noise)",
    )
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        root = Path(tmp)
        data = root / "data"  # no valid.jsonl: neither side validates
        data.mkdir()
        train_rows = rows(args.rows, 1)
        (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_rows))
        model = init_model(
            root / "model", args.preset, corpus=[json.dumps(r) for r in rows(300, 2)]
        )
        common = {"iters": args.iters, "batch_size": args.batch_size, "lr": 1e-4, "seed": 0}
        ours = [
            str(bin_dir / "codemode-train"), "train", "--model", str(model), "--data", str(data),
            "--fine-tune-type", args.fine_tune_type, "--iters", str(common["iters"]),
            "--batch-size", str(common["batch_size"]), "--learning-rate", str(common["lr"]),
            "--seed", "0", "--num-layers", "-1",
            "--set", f"steps_per_report={args.report}", "--set", f"save_every={args.iters}",
            "--set", "optimizer=adam", "--set", "mask_prompt=true",
        ]  # fmt: skip
        cli = [
            sys.executable, "-m", "pytest_codemode_eval.blas", "mlx_lm", "lora", "--train",
            "--model", str(model), "--data", str(data), "--fine-tune-type", args.fine_tune_type,
            "--iters", str(common["iters"]), "--batch-size", str(common["batch_size"]),
            "--learning-rate", str(common["lr"]), "--seed", "0", "--num-layers", "-1",
            "--steps-per-report", str(args.report), "--save-every", str(args.iters),
            "--optimizer", "adam", "--mask-prompt",
        ]  # fmt: skip
        mode = "sequential" if args.sequential else "side by side"
        print(f"model: {args.preset}, {args.fine_tune_type}, {args.iters} iters, batch "
              f"{args.batch_size}, {args.rows} rows, runs {mode}, same BLAS for both")  # fmt: skip
        ratios: list[float] = []
        for round_ in range(args.rounds):
            commands = {
                "ours": ([*ours, "--run", str(root / f"run{round_}")], OUR_LINE, 1.0),
                "cli": ([*cli, "--adapter-path", str(root / f"cli{round_}")], CLI_LINE, 1000.0),
            }
            order = ["ours", "cli"] if round_ % 2 == 0 else ["cli", "ours"]
            results = run_round(commands, not args.sequential, order)
            ratio = results["ours"].tokens_per_second / results["cli"].tokens_per_second
            ratios.append(ratio)
            for who in ("ours", "cli"):
                m = results[who]
                print(f"round {round_ + 1} {who:>4}: {m.tokens_per_second:8,.0f} tok/s  "
                      f"{m.iterations_per_second:6.2f} it/s  (process {m.seconds:.1f} s, "
                      f"measured {m.window[1] - m.window[0]:.1f} s)")  # fmt: skip
            print(f"round {round_ + 1} ratio ours/cli: {ratio:.3f}")
        median = statistics.median(ratios)
        verdict = "OK" if median >= 0.95 else "BELOW TARGET"
        print(f"throughput ratio ours/mlx_lm-lora (median of {len(ratios)}): {median:.3f} "
              f"(target >= 0.95: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
