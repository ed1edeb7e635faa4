"""Reference BLAS vs ``use_fast_blas()`` for mlx on the CPU: a 1024² fp32 matmul and a forward +
backward pass of a tiny Qwen3 (the size the trainer uses), each side in its own subprocess because
mlx binds its BLAS once per process.

    uv run python benchmarks/blas_matmul.py [--repeats N] [--source auto|SONAME|PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def _median_seconds(step: Callable[[], Any], repeats: int) -> float:
    import mlx.core as mx

    mx.eval(step())  # warm-up: lazy init, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(step())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child(repeats: int) -> dict[str, Any]:
    """Measure in this process (the parent set CODEMODE_BLAS) and return the timings."""
    from pytest_codemode_eval.blas import use_fast_blas

    blas = use_fast_blas()
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models import qwen3

    mx.random.seed(0)
    a, b = mx.random.normal((1024, 1024)), mx.random.normal((1024, 1024))
    matmul = _median_seconds(lambda: a @ b, repeats)

    args = qwen3.ModelArgs(
        model_type="qwen3", hidden_size=128, num_hidden_layers=2, intermediate_size=384,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, rms_norm_eps=1e-6,
        vocab_size=1024, max_position_embeddings=512, tie_word_embeddings=True, rope_theta=1e6,
    )  # fmt: skip
    model = qwen3.Model(args)
    tokens = mx.random.randint(0, args.vocab_size, (16, 129))  # batch 16 x 128 tokens

    def loss(m: Any, x: Any, y: Any) -> Any:
        return nn.losses.cross_entropy(m(x), y).mean()

    grad = nn.value_and_grad(model, loss)  # type: ignore[attr-defined]
    step = _median_seconds(lambda: grad(model, tokens[:, :-1], tokens[:, 1:]), repeats)
    return {"blas": blas or "reference", "matmul_s": matmul, "train_step_s": step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", default="auto", help="CODEMODE_BLAS for the fast side")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(child(opts.repeats)))
        return
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CODEMODE_BLAS")}
    results = {}
    for name, source in (("reference", "reference"), ("fast", opts.source)):
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--repeats", str(opts.repeats)],
            env={**env, "CODEMODE_BLAS": source},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    ref, fast = results["reference"], results["fast"]
    print(f"fast BLAS: {fast['blas']}")
    print(f"{'median of ' + str(opts.repeats):<28}{'reference':>12}{'fast':>12}{'speed-up':>10}")
    for key, label in (
        ("matmul_s", "fp32 matmul 1024x1024"),
        ("train_step_s", "tiny Qwen3 fwd+bwd"),
    ):
        ms_ref, ms_fast = ref[key] * 1e3, fast[key] * 1e3
        print(f"{label:<28}{ms_ref:>10.1f}ms{ms_fast:>10.1f}ms{ms_ref / ms_fast:>9.1f}x")


if __name__ == "__main__":
    main()
