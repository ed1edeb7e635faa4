"""Training throughput of ``codemode-train train`` against the ``mlx_lm lora`` CLI (target >= 0.95).

Both run as subprocesses on the same generated model and data with the same settings (LoRA on
every layer, rank 8, Adam, prompt masking, no validation set), and both get the same BLAS
(``python -m pytest_codemode_eval.blas mlx_lm lora ...`` for the CLI; our trainer calls
``use_fast_blas()`` itself). Throughput is measured the same way for both, from the outside:
report lines are timestamped as they arrive, and tokens/s is the growth of the trained (unmasked)
token count over a wall-clock window, interpolated between reports. Start-up, model loading and
the first compile are left out; every per-step cost inside the loop is counted.

By default the two train side by side with one BLAS thread each, over the same window: on a
machine shared with other work, load that comes and goes then hits both alike (one after the
other, the same run varied 5x here). Tokens per CPU-second of each process (from /proc) are
printed too: they barely depend on other load. Rounds alternate which one starts first; the
ratio reported is the median over rounds.

    uv run python benchmarks/train_throughput.py [--preset tiny] [--iters 400] [--sequential]
"""

from __future__ import annotations

import argparse
import itertools
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

from codemode_trainer.training.init_model import init_model

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
    tokens_per_second: float  # wall clock
    tokens_per_cpu_second: float  # the process's user + system time: robust to other load
    iterations_per_second: float
    seconds: float  # whole process
    window: tuple[float, float]  # the measured span


Point = tuple[float, float, float, float]  # (time, iteration, cumulative tokens, cpu seconds)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICK


def collect(
    command: list[str], parse: re.Pattern[str], scale: float, env: dict[str, str],
    out: dict[str, Any],
) -> None:  # fmt: skip
    """Run ``command``; timestamp its report lines as they arrive, with its CPU time so far."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    points: list[Point] = []
    tail: list[str] = []
    assert proc.stdout is not None
    for raw in proc.stdout:
        now, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        line = ANSI.sub("", raw.rstrip("\n"))
        tail = [*tail[-20:], line]
        match = parse.match(line)
        if match:
            tokens = float(match.groups()[-1].replace(",", "")) * scale
            points.append((now, float(match.group(1)), tokens, cpu))
    out.update(code=proc.wait(), points=points, tail=tail, seconds=time.perf_counter() - began)


def at(points: list[Point], when: float, index: int) -> float:
    """``points[k][index]`` interpolated linearly at time ``when`` (within their span)."""
    for p, q in itertools.pairwise(points):
        if p[0] <= when <= q[0]:
            if q[0] == p[0]:
                return q[index]
            return p[index] + (q[index] - p[index]) * (when - p[0]) / (q[0] - p[0])
    raise ValueError("time outside the reports")


def rate(result: dict[str, Any], start: float, stop: float, name: str) -> Measure:
    """Rates over exactly ``[start, stop]`` (clipped to the reports), interpolating."""
    points: list[Point] = result["points"]
    if result["code"] != 0 or len(points) < 2:
        tail = "\n".join(result["tail"])
        sys.exit(f"benchmark run of {name} failed or reported too little:\n{tail}")
    start, stop = max(start, points[0][0]), min(stop, points[-1][0])
    if stop <= start:
        sys.exit("the two runs did not train at the same time: use more --iters")
    wall = stop - start
    tokens = at(points, stop, 2) - at(points, start, 2)
    cpu = at(points, stop, 3) - at(points, start, 3)
    iterations = at(points, stop, 1) - at(points, start, 1)
    return Measure(tokens / wall, tokens / cpu, iterations / wall, result["seconds"], (start, stop))


Command = tuple[list[str], re.Pattern[str], float, dict[str, str]]


def run_round(
    commands: dict[str, Command], concurrent: bool, order: list[str]
) -> dict[str, Measure]:
    results: dict[str, dict[str, Any]] = {name: {} for name in commands}
    if not concurrent:
        for name in order:
            collect(*commands[name], results[name])
        return {name: rate(results[name], 0.0, float("inf"), name) for name in commands}
    threads = [
        threading.Thread(target=collect, args=(*commands[name], results[name])) for name in order
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # the same wall-clock window for both: only the time both were training counts
    start = max(r["points"][0][0] if r["points"] else 0.0 for r in results.values())
    stop = min(r["points"][-1][0] if r["points"] else 0.0 for r in results.values())
    return {name: rate(results[name], start, stop, name) for name in commands}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", help="init-model preset (tiny, small)")
    parser.add_argument("--fine-tune-type", default="lora", choices=["lora", "dora"])
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--report", type=int, default=10, help="steps per report")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="run the two one after the other (default: side by side, sharing the noise)",
    )
    parser.add_argument(
        "--blas-threads",
        default=None,
        help="OPENBLAS_NUM_THREADS for both (default: 1 side by side, unset when sequential)",
    )
    return parser.parse_args()


def training_commands(args: argparse.Namespace, model: Path, data: Path) -> dict[str, list[str]]:
    """Our `codemode-train train` and `mlx_lm lora` with the same settings and the same BLAS
    (each round adds its own output folder)."""
    bin_dir = Path(sys.executable).parent
    common = {"iters": args.iters, "batch_size": args.batch_size, "lr": 1e-4}
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
    return {"ours": ours, "cli": cli}


def run_rounds(
    args: argparse.Namespace, argv: dict[str, list[str]], root: Path, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Every round, ours against the CLI (the order alternating): the ratios of tokens per
    second and per cpu-second."""
    wall: list[float] = []
    cpu: list[float] = []
    for round_ in range(args.rounds):
        commands: dict[str, Command] = {
            "ours": ([*argv["ours"], "--run", str(root / f"run{round_}")], OUR_LINE, 1.0, env),
            "cli": (
                [*argv["cli"], "--adapter-path", str(root / f"cli{round_}")],
                CLI_LINE,
                1e3,
                env,
            ),
        }
        order = ["ours", "cli"] if round_ % 2 == 0 else ["cli", "ours"]
        results = run_round(commands, not args.sequential, order)
        ours_m, cli_m = results["ours"], results["cli"]
        wall.append(ours_m.tokens_per_second / cli_m.tokens_per_second)
        cpu.append(ours_m.tokens_per_cpu_second / cli_m.tokens_per_cpu_second)
        for who, m in (("ours", ours_m), ("cli", cli_m)):
            print(f"round {round_ + 1} {who:>4}: {m.tokens_per_second:8,.0f} tok/s  "
                  f"{m.iterations_per_second:6.2f} it/s  {m.tokens_per_cpu_second:8,.0f} "
                  f"tok/cpu-s  (process {m.seconds:.1f} s, measured "
                  f"{m.window[1] - m.window[0]:.1f} s)")  # fmt: skip
        print(f"round {round_ + 1} ratio ours/cli: {wall[-1]:.3f} (per cpu-second {cpu[-1]:.3f})")
    return wall, cpu


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        root = Path(tmp)
        data = root / "data"  # no valid.jsonl: neither side validates
        data.mkdir()
        train_rows = rows(args.rows, 1)
        (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_rows))
        model = init_model(
            root / "model", args.preset, corpus=[json.dumps(r) for r in rows(300, 2)]
        )
        mode = "sequential" if args.sequential else "side by side"
        mode += f", OPENBLAS_NUM_THREADS={args.blas_threads or ('unset' if args.sequential else 1)}"
        print(f"model: {args.preset}, {args.fine_tune_type}, {args.iters} iters, batch "
              f"{args.batch_size}, {args.rows} rows, runs {mode}, same BLAS for both")  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "dumb", "NO_COLOR": "1"}
        threads = args.blas_threads or (None if args.sequential else "1")
        if threads is not None:
            env["OPENBLAS_NUM_THREADS"] = threads
        wall, cpu = run_rounds(args, training_commands(args, model, data), root, env)
        ratio = statistics.median(wall)
        verdict = "OK" if ratio >= 0.95 else "BELOW TARGET"
        print(f"per cpu-second (insensitive to other load): {statistics.median(cpu):.3f}")
        print(f"throughput ratio ours/mlx_lm-lora, tokens/s (median of {len(wall)}): "
              f"{ratio:.3f} (target >= 0.95: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
