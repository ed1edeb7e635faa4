"""Fleet throughput: cases/s against 1, 2 and 3 local `mlx_lm.server` processes, one model.

Three servers (fast BLAS, `HF_HUB_CACHE` set, started once, not timed) serve the benchmark model of
`eval_throughput.py` (built once under .cache/bench/). Each server first answers one warm-up
request, so each has the suite's shared prefix in its prompt cache. Then, for N = 1, 2, 3 (the
order rotating across repeats), the 27 cases of evalsuite/suite.toml, rendered by the plugin's
`build_request`, are generated through the plugin's own backend (`OpenAIBackend` for one server,
`FleetBackend` for several) with `--batch-size` requests in flight per server, and timed from the
first request to the last answer. Outputs must agree case by case with the one-server run.

On a 2-core machine no speed-up is expected past what two processes can use: the figure shows the
fleet's overhead, the point is correctness.

    uv run python benchmarks/fleet_throughput.py [--preset tiny] [--max-tokens 16]
        [--batch-size 1] [--repeats 3] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_throughput import (  # a sibling script, not a package
    _wait_for_server,
    corpus_and_requests,
    ensure_model,
    free_port,
    load_average,
    server_command,
)

SERVERS = (1, 2, 3)


@contextmanager
def server(model: Path, work: Path, env: dict[str, str]) -> Iterator[str]:
    """One `mlx_lm.server` on a free port; its base URL."""
    port = free_port()
    command, server_env = server_command(model, port, work, env)
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env)
        try:
            base = f"http://127.0.0.1:{port}/v1"
            _wait_for_server(base, process, log_path)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def backend_for(urls: Sequence[str], batch_size: int) -> Any:
    from pytest_codemode_eval.backends.fleet import FleetBackend
    from pytest_codemode_eval.backends.openai import OpenAIBackend

    if len(urls) == 1:
        return OpenAIBackend(urls[0], concurrency=batch_size)
    return FleetBackend(urls, concurrency=batch_size)


def timed_run(urls: Sequence[str], requests: Sequence[Any], batch_size: int) -> tuple[float, Any]:
    """Seconds from the first request to the last answer, and the generations by case id."""
    backend = backend_for(urls, batch_size)
    started = time.perf_counter()
    streamed = list(backend.generate_stream(requests))
    seconds = time.perf_counter() - started
    return seconds, {requests[index].case_id: generation for index, generation in streamed}


def measure(
    urls: Sequence[str], requests: Sequence[Any], batch_size: int, repeats: int
) -> dict[int, list[tuple[float, Any]]]:
    runs: dict[int, list[tuple[float, Any]]] = {n: [] for n in SERVERS}
    for repeat in range(repeats):
        order = SERVERS[repeat % 3 :] + SERVERS[: repeat % 3]
        for n in order:
            seconds, generations = timed_run(urls[:n], requests, batch_size)
            runs[n].append((seconds, generations))
            print(f"repeat {repeat + 1}, {n} server(s): {seconds:.2f} s", flush=True)
    return runs


def report(runs: dict[int, list[tuple[float, Any]]], cases: int) -> None:
    reference = runs[1][0][1]
    base = statistics.median(seconds for seconds, _ in runs[1])
    print(f"\ncases/s over {cases} cases (median of {len(runs[1])}); ratio to 1 server:")
    for n in SERVERS:
        median = statistics.median(seconds for seconds, _ in runs[n])
        agree = min(
            sum(generations[c].output == reference[c].output for c in reference)
            for _, generations in runs[n]
        )
        errors = sum(g.finish == "error" for _, gens in runs[n] for g in gens.values())
        print(
            f"{n} server(s): {cases / median:.2f} cases/s ({base / median:.2f}x), "
            f"outputs agree {agree}/{cases}, errors {errors}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--preset", default="tiny", help="init_model preset (default: tiny)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1, help="requests in flight per server")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--blas-threads", type=int, help="OPENBLAS_NUM_THREADS for the servers")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    corpus, requests = corpus_and_requests(args.max_tokens)
    model = ensure_model(args.preset, 3, 6.0, corpus)
    print(
        f"model {model}; {len(requests)} cases, max_tokens {args.max_tokens}, greedy; batch "
        f"{args.batch_size} per server; cpus {os.cpu_count()}; load {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="fleet-throughput-") as work, ExitStack() as stack:
        urls = [stack.enter_context(server(model, Path(work) / f"s{n}", env)) for n in SERVERS]
        for url in urls:  # warm-up: each server's prompt cache holds the shared prefix
            backend_for([url], 1).generate(requests[0])
        runs = measure(urls, requests, args.batch_size, args.repeats)
    report(runs, len(requests))
    print(f"load at end: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
