"""Training throughput of ``codemode-train train`` on 1 process vs 2 ``mlx.launch`` ranks.

Both train the same generated model and data with the same settings and global batch, one after
the other (side by side they would fight over the same cores), with the same BLAS. Throughput is
measured from the outside as in ``train_throughput.py``: rank 0's report lines are timestamped as
they arrive and tokens/s is the growth of the trained-token count (summed over the ranks) between
the first and last report, so start-up, loading and the first compile are left out. Rounds
alternate which one runs first; the ratio printed is the median over rounds.

On one 2-core machine two ranks cannot be faster: each rank gets one core and both exchange
gradients over loopback TCP every step. The figure is for the record (the overhead of the ring);
the gain comes from several Macs, each with its own cores.

    uv run python benchmarks/train_ranks.py [--preset tiny] [--iters 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from train_throughput import Measure, collect, rate, rows

from codemode_trainer.training.init_model import init_model

# rank 0's line under mlx.launch, the plain line alone:
# "[rank 0/2] iter 10/80  loss 2.345  1,234 tok/s  5,678 tokens  ETA 0:12"
RANK0_LINE = re.compile(r"^(?:\[rank 0/\d+\] )?iter\s+(\d+)/\d+\s+loss [\d.]+\s+.*?([\d,]+) tokens")


def train_command(args: argparse.Namespace, model: Path, data: Path, run: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "codemode-train"), "train", "--model", str(model),
        "--data", str(data), "--run", str(run), "--fine-tune-type", args.fine_tune_type,
        "--iters", str(args.iters), "--batch-size", str(args.batch_size), "--seed", "0",
        "--learning-rate", "1e-4", "--num-layers", "-1", "--set", "optimizer=adam",
        "--set", f"steps_per_report={args.report}", "--set", f"save_every={args.iters}",
    ]  # fmt: skip


def measure(command: list[str], env: dict[str, str], name: str) -> Measure:
    result: dict[str, object] = {}
    collect(command, RANK0_LINE, 1.0, env, result)
    return rate(result, 0.0, float("inf"), name)


def run_round(args: argparse.Namespace, round_: int, root: Path, env: dict[str, str]) -> float:
    """One 1-process run and one 2-rank run (alternating which goes first); their ratio."""
    model, data = root / "model", root / "data"
    one = train_command(args, model, data, root / f"one{round_}")
    two = [str(Path(sys.executable).parent / "mlx.launch"), "--backend", "ring", "-n", "2", "--",
           *train_command(args, model, data, root / f"two{round_}")]  # fmt: skip
    order = [("1 process", one), ("2 ranks", two)]
    if round_ % 2:
        order.reverse()
    results = {name: measure(command, env, name) for name, command in order}
    for name, m in results.items():
        print(f"round {round_ + 1} {name:>9}: {m.tokens_per_second:8,.0f} tok/s  "
              f"{m.iterations_per_second:6.2f} it/s  (process {m.seconds:.1f} s, "
              f"measured {m.window[1] - m.window[0]:.1f} s)")  # fmt: skip
    ratio = results["2 ranks"].tokens_per_second / results["1 process"].tokens_per_second
    print(f"round {round_ + 1} ratio 2 ranks / 1 process: {ratio:.3f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", help="init-model preset (tiny, small)")
    parser.add_argument("--fine-tune-type", default="lora", choices=["lora", "dora", "full"])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch")
    parser.add_argument("--report", type=int, default=10, help="steps per report")
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "dumb", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="train-ranks-") as tmp:
        root = Path(tmp)
        (root / "data").mkdir()  # no valid.jsonl: no validation in the measured loop
        lines = "".join(json.dumps(r) + "\n" for r in rows(args.rows, 1))
        (root / "data" / "train.jsonl").write_text(lines)
        init_model(root / "model", args.preset, corpus=[json.dumps(r) for r in rows(300, 2)])
        print(f"model: {args.preset}, {args.fine_tune_type}, {args.iters} iters, global batch "
              f"{args.batch_size}, {args.rows} rows, {os.cpu_count()} cores, runs one after "
              "the other")  # fmt: skip
        ratios = [run_round(args, round_, root, env) for round_ in range(args.rounds)]
    median = statistics.median(ratios)
    print(f"tokens/s, 2 local ranks / 1 process (median of {len(ratios)}): {median:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
