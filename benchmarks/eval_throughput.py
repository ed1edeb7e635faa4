"""Eval throughput: the plugin's in-process mlx backend against mlx_lm.server and a naive loop.

One offline model (``init_model(preset, corpus=[system prompt, case prompts])``, random weights
multiplied by ``--sharpen`` like the tests' ``sharp_model_dir``, so greedy outputs differ from
case to case), the 27 cases of evalsuite/suite.toml, each rendered by the plugin's own
``build_request`` (same messages, tools and per-case ``max_tokens``: ``--max-tokens`` unless a
case sets its own, as multi-01 does with 768), greedy, the same BLAS everywhere. Timed three ways:

(a) ``mlx_lm.server`` (started once per repeat, not timed as such) and the cases POSTed one by one
    to ``/v1/chat/completions``, non-streamed; the server reuses the prefix's KV cache itself.
(b) a naive loop in a fresh process: ``mlx_lm.generate`` per case on the full templated prompt
    (``enable_thinking=False``), no cache reuse.
(c) ``pytest evalsuite --codemode-backend=mlx ...`` as a subprocess, for each ``--batch-sizes``,
    with the output cache off (``--codemode-cache=off``: a repeat must generate, not replay).
    hypothesis's pytest plugin (a dependency of this repository's tests, not of the plugin) is
    turned off there: its terminal summary alone took ~1 s. This script is also loaded into that
    pytest (``-p eval_throughput``) as a measuring plugin:
    it only reads the clock around item runs, the backend's construction and its
    ``generate`` calls and every pull of its ``generate_stream``, and writes the times to a JSON
    file.

First, without a model, ``pytest evalsuite --codemode-backend=replay``: the seconds from process
start to the first case (goal <= 1 s) and the mlx modules the run imported (goal: none).
Then the outputs are compared case by case and the times, ratios and the plugin's overhead are
printed. Every variant runs in its own process; across repeats their order rotates.

    uv run python benchmarks/eval_throughput.py [--preset small] [--max-tokens 64]
        [--repeats 1] [--batch-sizes 1,9,27] [--blas-threads N] [--sharpen 6] [--keep]

On a shared, busy machine pass ``--blas-threads 1``: with more runnable threads than cores,
OpenBLAS's spinning worker threads made decoding 5-15x slower here (it applies to all variants).
The model is cached under .cache/bench/ (git-ignored); ``--keep`` keeps the logs and JSON files.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "evalsuite" / "suite.toml"
CACHE = ROOT / ".cache" / "bench"  # git-ignored (/.cache/)
TIMINGS_ENV = "EVAL_THROUGHPUT_TIMINGS"  # set: this module, loaded by pytest, records times
TIME_BUDGET = 3600.0  # seconds per case for (c): no case may time out
SERVER_START_TIMEOUT = 120.0
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
MLX_ROOTS = ("mlx", "mlx_lm")
REPLAY = ROOT / "evalsuite" / "replays" / "phase40-8b.jsonl"
STARTUP_GOAL = 1.0  # seconds from `pytest` process start to the first case, replay backend

# ---------------------------------------------------------------------------------------------
# The measuring plugin, active only inside the pytest subprocess of (c) (`-p eval_throughput`).

_marks: dict[str, Any] = {"items": [], "calls": []}


def pytest_configure(config: pytest.Config) -> None:
    if TIMINGS_ENV not in os.environ:
        return
    _marks["configure"] = time.monotonic()
    from pytest_codemode_eval.backends import factory

    make_backend = factory.make_backend

    def timed_make_backend(options: Any) -> Any:
        """The model load: importing the mlx backend (mlx, BLAS) and constructing it."""
        start = time.monotonic()
        backend = make_backend(options)
        _marks["load"] = [start, time.monotonic()]
        _time_generation(backend)
        return backend

    # session.py imports make_backend from the factory module when the backend is first needed
    factory.make_backend = timed_make_backend


def _time_generation(backend: Any) -> None:
    generate = backend.generate
    stream = getattr(backend, "generate_stream", None)

    def timed_generate(request: Any) -> Any:
        start = time.monotonic()
        try:
            return generate(request)
        finally:
            _marks["calls"].append(
                {"cases": [request.case_id], "start": start, "end": time.monotonic()}
            )

    def timed_stream(requests: Any) -> Any:
        """Times every pull: the runner's time inside the backend, case by case."""
        assert stream is not None
        inner = stream(requests)
        while True:
            start = time.monotonic()
            try:
                index, generation = next(inner)
            except StopIteration:
                return
            finally:
                _marks["calls"].append({"cases": [], "start": start, "end": time.monotonic()})
            _marks["calls"][-1]["cases"] = [requests[index].case_id]
            yield index, generation

    backend.generate = timed_generate
    if stream is not None:
        backend.generate_stream = timed_stream


def pytest_collection_finish(session: pytest.Session) -> None:
    if TIMINGS_ENV in os.environ:
        _marks["collected"] = time.monotonic()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    start = time.monotonic()
    try:
        return (yield)
    finally:
        if TIMINGS_ENV in os.environ:
            _marks["items"].append({"id": item.name, "start": start, "end": time.monotonic()})


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if TIMINGS_ENV in os.environ:
        _marks["sessionfinish"] = time.monotonic()


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS_ENV in os.environ:
        _marks["terminal_summary"] = time.monotonic()


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get(TIMINGS_ENV)
    if path:
        _marks["unconfigure"] = time.monotonic()
        _marks["mlx_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in MLX_ROOTS)
        Path(path).write_text(json.dumps(_marks), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The model and the requests.


def corpus_and_requests(max_tokens: int, suite_path: Path = SUITE) -> tuple[list[str], list[Any]]:
    from pytest_codemode_eval.evaluate import Budgets, build_request
    from pytest_codemode_eval.prompt import render_system_prompt
    from pytest_codemode_eval.suite import load_suite

    suite = load_suite(suite_path)
    corpus = [render_system_prompt(suite.catalog), *(case.prompt for case in suite.cases)]
    budgets = Budgets(max_tokens=max_tokens, time_budget=TIME_BUDGET)
    return corpus, [build_request(case, suite, budgets) for case in suite.cases]


def ensure_model(preset: str, seed: int, sharpen: float, corpus: list[str]) -> Path:
    """The benchmark model under .cache/bench/, built once per (preset, seed, sharpen, corpus)."""
    digest = hashlib.sha256("\0".join(corpus).encode()).hexdigest()[:10]
    out = CACHE / f"eval-{preset}-seed{seed}-x{sharpen:g}-{digest}"
    if (out / "model.safetensors").is_file():
        return out
    from pytest_codemode_eval.blas import use_fast_blas

    use_fast_blas()  # before mlx (init_model imports it)
    from codemode_trainer.training.init_model import init_model

    scratch = out.with_name(out.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    init_model(scratch, preset, corpus=corpus, seed=seed)
    if sharpen != 1:
        import mlx.core as mx

        weights = mx.load(str(scratch / "model.safetensors"))
        assert isinstance(weights, dict)
        sharp = {k: v if "norm" in k else v * sharpen for k, v in weights.items()}
        mx.save_safetensors(str(scratch / "model.safetensors"), sharp)
    scratch.rename(out)
    return out


def parameter_count(model: Path) -> int:
    """From the safetensors header alone (no mlx needed)."""
    raw = (model / "model.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    total = 0
    for name, info in header.items():
        if name != "__metadata__":
            count = 1
            for dim in info["shape"]:
                count *= dim
            total += count
    return total


# ---------------------------------------------------------------------------------------------
# The three ways.


@dataclass
class Run:
    """One timed pass over the 27 cases."""

    label: str
    wall: float  # including start-up: process (or server) start to the last answer
    work: float  # excluding start-up (see the printed definitions)
    startup: float
    outputs: dict[str, str]
    tokens: dict[str, int | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def server_command(
    model: Path, port: int, work: Path, env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """`mlx_lm.server` on 127.0.0.1:`port` (fast BLAS, offline, its hub cache under `work`)."""
    hub = work / "hf-hub"
    hub.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pytest_codemode_eval.blas", "mlx_lm", "server",
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "WARNING",
    ]  # fmt: skip
    return command, {**env, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}


def run_server(model: Path, requests: Sequence[Any], work: Path, env: dict[str, str]) -> Run:
    """(a) mlx_lm.server (fast BLAS) and the cases over HTTP, one by one, not streamed."""
    port = free_port()
    command, server_env = server_command(model, port, work, env)
    base = f"http://127.0.0.1:{port}/v1"
    log_path = work / "server.log"
    began = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env)
        try:
            served = _wait_for_server(base, process, log_path)
            up = time.monotonic()
            answers = ask_server(base, served, requests)
            done = time.monotonic()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    return Run(
        "(a) mlx_lm.server, HTTP one by one",
        wall=done - began,
        work=done - up,
        startup=up - began,
        outputs=answers.pop("outputs"),
        tokens=answers.pop("tokens"),
        extra=answers,
    )


def ask_server(base: str, served: str, requests: Sequence[Any]) -> dict[str, Any]:
    """Each case POSTed in turn: outputs, completion tokens, and per case the seconds, the
    reasoning/content split, the server's parsed tool calls and its cached prompt tokens."""
    found: dict[str, Any] = {
        "outputs": {}, "tokens": {}, "seconds": {}, "cached_tokens": [], "tool_calls": {},
        "parts": {},
    }  # fmt: skip
    for request in requests:
        body = {
            "model": served,
            "messages": list(request.messages),
            "tools": list(request.tools),
            "max_tokens": request.max_tokens,
            "temperature": 0.0,
            "stream": False,
            "chat_template_kwargs": {"enable_thinking": False},
        }
        start = time.monotonic()
        answer = _get_json(f"{base}/chat/completions", body, timeout=TIME_BUDGET)
        found["seconds"][request.case_id] = time.monotonic() - start
        message = answer["choices"][0]["message"]
        reasoning = message.get("reasoning") or message.get("reasoning_content")
        text = message.get("content") or ""
        if reasoning:  # shown so; compared split (the server loses where it was)
            text = f"<think>{reasoning}</think>{text}"
        found["outputs"][request.case_id] = text
        found["parts"][request.case_id] = (reasoning or "", message.get("content") or "")
        if message.get("tool_calls"):
            found["tool_calls"][request.case_id] = message["tool_calls"]
        usage = answer.get("usage") or {}
        found["tokens"][request.case_id] = usage.get("completion_tokens")
        details = usage.get("prompt_tokens_details") or {}
        if isinstance(details.get("cached_tokens"), int):
            found["cached_tokens"].append(details["cached_tokens"])
    return found


def _wait_for_server(base: str, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"mlx_lm.server exited ({process.returncode}):\n{log.read_text()}")
        try:
            listed = _get_json(f"{base}/models", timeout=2)["data"]
            if listed:
                return str(listed[0]["id"])
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    sys.exit(f"mlx_lm.server not up after {SERVER_START_TIMEOUT:g} s:\n{log.read_text()}")


def run_naive(
    model: Path, max_tokens: int, work: Path, env: dict[str, str], suite: Path = SUITE
) -> Run:
    """(b) this script's `--worker naive` in a fresh process: mlx_lm.generate per case."""
    out = work / "naive.json"
    command = [
        sys.executable, __file__, "--worker", "naive", "--model", str(model), "--suite", str(suite),
        "--max-tokens", str(max_tokens), "--out", str(out),
    ]  # fmt: skip
    began = time.monotonic()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - began
    if completed.returncode != 0:
        sys.exit(f"naive worker failed:\n{completed.stdout}\n{completed.stderr}")
    result = json.loads(out.read_text())
    return Run(
        "(b) naive mlx_lm.generate loop",
        wall=wall,
        work=result["loop"],
        startup=wall - result["loop"],
        outputs=result["outputs"],
        extra={"load": result["load"], "seconds": result["seconds"]},
    )


def naive_worker(model: str, max_tokens: int, out: Path, suite: Path) -> None:
    """The user's first attempt: load, then `mlx_lm.generate` on each full prompt."""
    started = time.monotonic()
    from pytest_codemode_eval.blas import use_fast_blas

    use_fast_blas()  # the same BLAS as (a) and (c)
    import mlx_lm

    from pytest_codemode_eval.chat_template import prompt_token_ids

    loaded_model, tokenizer = mlx_lm.load(model)
    loaded = time.monotonic()
    _, requests = corpus_and_requests(max_tokens, suite)
    outputs: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for request in requests:
        start = time.monotonic()
        ids = prompt_token_ids(tokenizer, request.messages, request.tools)
        outputs[request.case_id] = mlx_lm.generate(
            loaded_model, tokenizer, ids, max_tokens=request.max_tokens
        )
        seconds[request.case_id] = time.monotonic() - start
    done = time.monotonic()
    result = {"load": loaded - started, "loop": done - loaded, "outputs": outputs}
    out.write_text(json.dumps({**result, "seconds": seconds}), encoding="utf-8")


def run_plugin(
    model: Path,
    batch_size: int,
    max_tokens: int,
    work: Path,
    env: dict[str, str],
    suite: Path = SUITE,
) -> Run:
    """(c) the real plugin path, `pytest evalsuite --codemode-backend=mlx`, in a subprocess
    (output cache off: every case is generated)."""
    results = work / f"results-b{batch_size}.json"
    marks, began, ended = run_measured_pytest(
        [
            str(suite.parent), "--codemode-backend=mlx", f"--codemode-model={model}",
            f"--codemode-batch-size={batch_size}", f"--codemode-max-tokens={max_tokens}",
            f"--codemode-time-budget={TIME_BUDGET:g}", f"--codemode-results={results}",
            "--codemode-cache=off",
        ],
        work / f"timings-b{batch_size}.json",
        env,
        needs=results,
    )  # fmt: skip
    document = json.loads(results.read_text())
    cases = {case["id"]: case for case in document["cases"]}
    first, last = min(i["start"] for i in marks["items"]), max(i["end"] for i in marks["items"])
    load = marks["load"][1] - marks["load"][0]
    # the plugin loads the model before the first case; an older one loaded it inside it
    work_time = (last - first) - (load if marks["load"][0] >= first else 0.0)
    generation = sum(c["end"] - c["start"] for c in marks["calls"])
    return Run(
        f"(c) pytest plugin, batch {batch_size}",
        wall=ended - began,
        work=work_time,
        startup=ended - began - work_time,
        outputs={case_id: case["output"] for case_id, case in cases.items()},
        tokens={case_id: case["generated_tokens"] for case_id, case in cases.items()},
        extra={
            "breakdown": breakdown(marks, began, ended, work_time - generation),
            "generation": generation,
            "load": load,
            "calls": len(marks["calls"]),
            "finish": {case_id: case["finish"] for case_id, case in cases.items()},
            "prompt_tokens": [case["prompt_tokens"] for case in cases.values()],
            "blas": document["identity"]["model"].get("blas"),
        },
    )


def run_measured_pytest(
    arguments: list[str], timings: Path, env: dict[str, str], needs: Path | None = None
) -> tuple[dict[str, Any], float, float]:
    """`pytest ARGUMENTS` in a subprocess with this module as its measuring plugin: the marks
    it wrote, and when the process started and ended (on the same monotonic clock)."""
    command = [
        sys.executable, "-m", "pytest", *arguments, "-p", "eval_throughput",
        "-p", "no:hypothesispytest",
    ]  # fmt: skip
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    plugin_env = {**env, TIMINGS_ENV: str(timings), "PYTHONPATH": path}
    began = time.monotonic()
    completed = subprocess.run(
        command, cwd=ROOT, env=plugin_env, capture_output=True, text=True, check=False
    )
    ended = time.monotonic()
    missing = needs is not None and not needs.is_file()
    if completed.returncode not in (0, 1) or missing or not timings.is_file():
        sys.exit(f"pytest exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}")
    marks: dict[str, Any] = json.loads(timings.read_text())
    return marks, began, ended


def breakdown(
    marks: dict[str, Any], began: float, ended: float, per_case: float
) -> dict[str, float]:
    """Where a plugin run's wall-clock time went, phase by phase."""
    first = min(i["start"] for i in marks["items"])
    last = max(i["end"] for i in marks["items"])
    return {
        "python + pytest start-up": marks["configure"] - began,
        "collection (suite load)": marks["collected"] - marks["configure"],
        "until the first case (with model load)": first - marks["collected"],
        "model load": marks["load"][1] - marks["load"][0],
        "generation (backend calls)": sum(c["end"] - c["start"] for c in marks["calls"]),
        "per-case overhead": per_case,
        "session finish (summary, results JSON)": marks["terminal_summary"] - last,
        "terminal summary (all plugins)": marks["unconfigure"] - marks["terminal_summary"],
        "unconfigure + interpreter exit": ended - marks["unconfigure"],
    }


def run_startup(work: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    """`pytest evalsuite --codemode-backend=replay`: seconds from process start to the first
    case, and the mlx modules the whole run imported (none expected)."""
    marks, began, _ = run_measured_pytest(
        ["evalsuite", "--codemode-backend=replay", f"--codemode-replay={REPLAY}", "-q"],
        work / "timings-startup.json",
        env,
    )
    first = min(i["start"] for i in marks["items"])
    return first - began, list(marks["mlx_modules"])


# ---------------------------------------------------------------------------------------------
# Agreement of the outputs.


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# mlx_lm.server's text state machine for a template with thinking and `<tool_call>` (0.32.2,
# generate.make_text_state_machine): the tags are dropped, reasoning text goes to `reasoning`,
# tool text to `tool_calls` (parsed; a body it cannot parse is dropped), the rest to `content`.
SERVER_TRANSITIONS = {
    "normal": [(THINK_OPEN, "reasoning"), (TOOL_CALL_OPEN, "tool")],
    "reasoning": [(THINK_CLOSE, "normal"), (TOOL_CALL_OPEN, "tool")],
    "tool": [(TOOL_CALL_CLOSE, "normal")],
}


def server_split(text: str) -> tuple[str, str, list[str]]:
    """Raw model text as mlx_lm.server returns it: (reasoning, content, tool-call bodies)."""
    parts: dict[str, str] = {"normal": "", "reasoning": ""}
    calls: list[str] = []
    state = "normal"
    while True:
        found = [(text.find(tag), tag, to) for tag, to in SERVER_TRANSITIONS[state]]
        hits = [hit for hit in found if hit[0] >= 0]
        at, tag, to = min(hits) if hits else (len(text), "", state)
        if state == "tool":
            calls.append(text[:at])
        else:
            parts[state] += text[:at]
        if not hits:
            return parts["reasoning"], parts["normal"], calls
        text, state = text[at + len(tag) :], to


def first_difference(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


STOPPED = "equal up to the plugin's stop at the end of the first tool call (the other goes on)"
# Where mlx-lm's streaming detokenizer (serial `generate`/`stream_generate`, mlx_lm.server)
# and `tokenizer.decode` (the plugin's batched path) write the same tokens differently. Each is
# applied only while the two texts differ, and named when it moved their first difference.
NORMALISERS: list[tuple[str, Callable[[str], str]]] = [
    (
        "leading space of the first token: mlx-lm's streaming detokenizer drops it, "
        "tokenizer.decode (the plugin's batched path) keeps it",
        lambda text: text.removeprefix(" "),
    ),
    (
        "byte 0x00: mlx-lm's streaming detokenizer writes its byte-level BPE symbol 'Ā' "
        "(its `if res:` skips byte 0), tokenizer.decode writes '\\x00'",
        lambda text: text.replace("\u0100", "\x00"),
    ),
]


def normalise(a: str, b: str) -> tuple[str, str, list[str]]:
    reasons: list[str] = []
    for reason, fix in NORMALISERS:
        if a == b:
            break
        fixed_a, fixed_b = fix(a), fix(b)
        if fixed_a == fixed_b or first_difference(fixed_a, fixed_b) > first_difference(a, b):
            a, b = fixed_a, fixed_b
            reasons.append(reason)
    return a, b, reasons


def agree_raw(plugin: str, other: str) -> tuple[bool, str]:
    """(b) or another (c) against the plugin's raw output."""
    if plugin == other:
        return True, "identical"
    mine, theirs, reasons = normalise(plugin, other)
    if mine == theirs:
        return True, "; ".join(reasons)
    if mine.endswith(TOOL_CALL_CLOSE) and theirs.startswith(mine):
        return True, "; ".join([STOPPED, *reasons])
    at = first_difference(mine, theirs)
    return False, "; ".join([f"differs from character {at} on (after normalising)", *reasons])


def agree_server(plugin: str, reasoning: str, content: str) -> tuple[bool, str]:
    """(a)'s `reasoning` and `content` against the plugin's raw output split the server's way."""
    if not reasoning and plugin == content:
        return True, "identical"
    mine_reasoning, mine_content, calls = server_split(plugin)
    reasons = (
        [
            f"split as the server does ({len(mine_reasoning)} chars of think text as "
            f"`reasoning`, {len(calls)} tool-call bodies out of content)"
        ]
        if reasoning or mine_reasoning or calls
        else []
    )
    mine_reasoning, reasoning, more = normalise(mine_reasoning, reasoning)
    mine_content, content, most = normalise(mine_content, content)
    reasons += [r for r in more + most if r not in reasons]
    if (mine_reasoning, mine_content) == (reasoning, content):
        return True, "; ".join(reasons)
    if (
        plugin.endswith(TOOL_CALL_CLOSE)
        and reasoning.startswith(mine_reasoning)
        and content.startswith(mine_content)
    ):
        return True, "; ".join([STOPPED, *reasons])
    if mine_reasoning != reasoning:
        at = first_difference(mine_reasoning, reasoning)
        return False, "; ".join([f"think text differs from character {at} on", *reasons])
    at = first_difference(mine_content, content)
    return False, "; ".join([f"content differs from character {at} on", *reasons])


def compare(reference: Run, others: Sequence[Run]) -> list[str]:
    lines: list[str] = []
    for other in others:
        parts = other.extra.get("parts")
        agreed, notes = 0, []
        for case_id, text in reference.outputs.items():
            theirs = other.outputs.get(case_id, "")
            if parts is not None:
                ok, why = agree_server(text, *parts.get(case_id, ("", "")))
            else:
                ok, why = agree_raw(text, theirs)
            agreed += ok
            if why != "identical":
                notes.append((ok, case_id, why, text, theirs))
        lines.append(f"{other.label} vs {reference.label}: {agreed}/{len(reference.outputs)} agree")
        grouped: dict[str, list[str]] = {}
        for ok, case_id, why, _, _ in notes:
            if ok:
                grouped.setdefault(why, []).append(case_id)
        for why, case_ids in grouped.items():
            lines.append(f"  normalised ({len(case_ids)}: {', '.join(case_ids)}): {why}")
        for ok, case_id, why, mine, theirs in notes:
            if not ok:
                at = first_difference(mine, theirs)
                window = slice(max(at - 30, 0), at + 50)
                lines.append(f"  DIFFERS {case_id}: {why}")
                lines.append(f"    plugin [{window.start}:]: {mine[window]!r}")
                lines.append(f"    other  [{window.start}:]: {theirs[window]!r}")
    return lines


# ---------------------------------------------------------------------------------------------
# The report.


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def median_run(runs: Sequence[Run]) -> Run:
    """The repeat with the median excluding-start-up time, the faster middle one for an even
    count (its other numbers go with it)."""
    return sorted(runs, key=lambda r: r.work)[(len(runs) - 1) // 2]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--preset", default="small", help="init_model preset (default: small)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--sharpen",
        type=float,
        default=6.0,
        help="multiply every non-norm weight (1: plain random init; default 6, as the tests)",
    )
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch-sizes", default="1,9,27", help="for (c), comma-separated")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="OPENBLAS_NUM_THREADS for every variant (default: OpenBLAS's own choice)",
    )
    parser.add_argument("--skip", default="", help="variants to leave out: a, b (comma-separated)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, JSON)")
    parser.add_argument("--worker", choices=["naive"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--model",
        type=Path,
        help="an existing model folder (e.g. a demo's train/fused) instead of building one",
    )
    parser.add_argument(
        "--suite", type=Path, default=SUITE, help="suite.toml (default: evalsuite/suite.toml)"
    )
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker == "naive":
        naive_worker(str(args.model), args.max_tokens, args.out, args.suite)
        return 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    if args.blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    corpus, requests = corpus_and_requests(args.max_tokens, args.suite)
    model = args.model or ensure_model(args.preset, args.seed, args.sharpen, corpus)
    loads = [load_average()]
    work = Path(tempfile.mkdtemp(prefix="eval-throughput-"))
    print_setup(args, model, requests, env, work)
    print(f"load average at start: {loads[0]}", flush=True)
    print_startup(work, env, max(args.repeats, 2))
    runs = run_variants(variants(args, model, requests, env), args.repeats, work, loads)
    chosen = {key: median_run(rs) for key, rs in runs.items()}
    print()
    print_table(chosen, runs)
    plugin_keys = [k for k in chosen if k.startswith("c")]
    print_ratios(chosen, plugin_keys)
    print_overhead(chosen, plugin_keys)
    print_agreement(chosen, runs, plugin_keys)
    print(f"\nload average seen: {' | '.join(loads)} (1/5/15 min; {os.cpu_count()} CPUs)")
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_setup(
    args: argparse.Namespace, model: Path, requests: Sequence[Any], env: dict[str, str], work: Path
) -> None:
    print(
        f"model: {model} ({parameter_count(model) / 1e6:.1f} M params"
        + (")" if args.model else f", {args.preset}, seed {args.seed}, weights x{args.sharpen:g})")
        + f"; suite {args.suite}"
    )
    budgets = sorted({r.max_tokens for r in requests})
    print(
        f"cases: {len(requests)}, max_tokens {args.max_tokens} (case overrides: "
        f"{[(r.case_id, r.max_tokens) for r in requests if r.max_tokens != args.max_tokens]}),"
        f" greedy; OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', 'unset')}; "
        f"cpus {os.cpu_count()}; budgets {budgets}; work folder {work}"
    )


def print_startup(work: Path, env: dict[str, str], repeats: int) -> None:
    """The replay run's start-up, every repeat (it needs no model)."""
    if env.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "NOTE: PYTHONDONTWRITEBYTECODE is set: every module (and pytest's assertion rewrite of "
            "every plugin module) is compiled from source on each start, about twice the start-up "
            "of a normal Python; unset it to measure what users see",
            flush=True,
        )
    for repeat in range(repeats):
        folder = work / f"startup{repeat}"
        folder.mkdir()
        seconds, mlx_modules = run_startup(folder, env)
        verdict = "met" if seconds <= STARTUP_GOAL else "NOT met"
        print(
            f"start-up {repeat + 1}: `pytest evalsuite --codemode-backend=replay`, process start "
            f"-> first case {seconds:.2f} s (goal <= {STARTUP_GOAL:g} s: {verdict}); mlx modules "
            f"imported by the whole run: {len(mlx_modules)} (load average {load_average()})",
            flush=True,
        )


def variants(
    args: argparse.Namespace, model: Path, requests: Sequence[Any], env: dict[str, str]
) -> dict[str, Callable[[Path], Run]]:
    """The ways to time, by key: a (server), b (naive loop), c<N> (the plugin at batch N)."""
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    chosen: dict[str, Callable[[Path], Run]] = {}
    if "a" not in skip:
        chosen["a"] = lambda w: run_server(model, requests, w, env)
    if "b" not in skip:
        chosen["b"] = lambda w: run_naive(model, args.max_tokens, w, env, args.suite)
    for size in (int(b) for b in args.batch_sizes.split(",") if b.strip()):
        chosen[f"c{size}"] = functools.partial(
            run_plugin, model, size, args.max_tokens, env=env, suite=args.suite
        )
    return chosen


def run_variants(
    chosen: dict[str, Callable[[Path], Run]], repeats: int, work: Path, loads: list[str]
) -> dict[str, list[Run]]:
    """Every variant once a repeat, in its own process; across repeats their order rotates."""
    runs: dict[str, list[Run]] = {key: [] for key in chosen}
    keys = list(chosen)
    for repeat in range(repeats):
        order = keys[repeat % len(keys) :] + keys[: repeat % len(keys)]
        for key in order:
            folder = work / f"r{repeat}-{key}"
            folder.mkdir()
            run = chosen[key](folder)
            runs[key].append(run)
            loads.append(load_average())
            print(
                f"repeat {repeat + 1} {run.label}: {run.wall:.2f} s including start-up, "
                f"{run.work:.2f} s excluding (load average {loads[-1]})",
                flush=True,
            )
    return runs


def print_table(chosen: dict[str, Run], runs: dict[str, list[Run]]) -> None:
    print("DEFINITIONS (wall-clock seconds; per variant the repeat with the median 'excluding'")
    print("  time, the faster middle one for an even count of repeats):")
    print("  (a) including = server process start -> last answer; excluding = first request ->")
    print("      last answer (the server's start-up and model load are left out)")
    print("  (b) including = worker process start -> exit; excluding = the generate loop only")
    print("      (after imports and mlx_lm.load)")
    print("  (c) including = `pytest` process start -> exit (start-up, collection, model load,")
    print("      report, exit); excluding = first case's start -> last case's end (the model")
    print("      loads before the first case)")
    print()
    width = max(len(r.label) for r in chosen.values())
    print(
        f"{'variant':<{width}}  {'including':>10}  {'excluding':>10}  {'start-up':>9}  "
        f"{'tokens':>7}  all repeats (excluding)"
    )
    for key, run in chosen.items():
        counted = [t for t in run.tokens.values() if t is not None]
        tokens = str(sum(counted)) if counted else "-"
        every = ", ".join(f"{r.work:.1f}" for r in runs[key])
        print(
            f"{run.label:<{width}}  {run.wall:10.2f}  {run.work:10.2f}  {run.startup:9.2f}  "
            f"{tokens:>7}  [{every}]"
        )


def print_ratios(chosen: dict[str, Run], plugin_keys: list[str]) -> None:
    print("\nRATIOS (time of the other way / time of (c); > 1 means the plugin is faster)")
    targets = {"a": 1.5, "b": 5.0}
    for key in plugin_keys:
        mine = chosen[key]
        for other_key, target in targets.items():
            if other_key not in chosen:
                continue
            if (key, other_key) == ("c1", "b"):
                target = 1.0  # one case at a time against the plain mlx_lm.generate loop
            other = chosen[other_key]
            including, excluding = other.wall / mine.wall, other.work / mine.work
            verdict = (
                "met"
                if min(including, excluding) >= target
                else ("met excluding start-up only" if excluding >= target else "NOT met")
            )
            print(
                f"  {mine.label} vs {other.label[:3]}: {including:5.2f}x including start-up, "
                f"{excluding:5.2f}x excluding (target >= {target:g}x: {verdict})"
            )


def print_overhead(chosen: dict[str, Run], plugin_keys: list[str]) -> None:
    print("\nPLUGIN OVERHEAD (c). G = time inside the backend: its generate() calls and every")
    print("  pull of its generate_stream() (prompt rendering, prefill, decode), L = model load;")
    print("  per-case overhead = (first case start -> last case end) - G (L comes before the")
    print("  first case): pytest's item protocol, the runner, scoring, reporting hooks and")
    print("  terminal output for 27 cases.")
    for key in plugin_keys:
        run = chosen[key]
        extra = run.extra
        print(f"  {run.label} ({extra['calls']} backend calls/pulls, BLAS {extra['blas']}):")
        for name, seconds in extra["breakdown"].items():
            print(f"    {name:<36} {seconds:8.3f} s")
        per_case = extra["breakdown"]["per-case overhead"]
        generation = extra["generation"]
        print(
            f"    per-case overhead / G          = {per_case:.3f} / {generation:.2f} = "
            f"{per_case / generation:6.2%} (target <= 2%), {per_case / 27 * 1000:.1f} ms a case"
        )
        whole = run.wall - generation - extra["load"]
        print(
            f"    everything but G and L / G     = {whole:.3f} / {generation:.2f} = "
            f"{whole / generation:6.2%} (also start-up, collection, report and exit)"
        )


def print_agreement(
    chosen: dict[str, Run], runs: dict[str, list[Run]], plugin_keys: list[str]
) -> None:
    if not plugin_keys:
        return
    reference = chosen[plugin_keys[0]]
    print(
        f"\nOUTPUTS (reference: {reference.label}; {len(set(reference.outputs.values()))} "
        f"distinct outputs over {len(reference.outputs)} cases)"
    )
    finishes = reference.extra["finish"]
    calls_closed = sum(text.endswith(TOOL_CALL_CLOSE) for text in reference.outputs.values())
    print(
        f"  finish reasons: {dict(sorted(_count(finishes.values()).items()))}; outputs "
        f"ending in {TOOL_CALL_CLOSE}: {calls_closed}; containing {TOOL_CALL_OPEN}: "
        f"{sum(TOOL_CALL_OPEN in t for t in reference.outputs.values())}"
    )
    others = [chosen[k] for k in chosen if k != plugin_keys[0]]
    for line in compare(reference, others):
        print(f"  {line}")
    if "a" in chosen:
        cached = chosen["a"].extra["cached_tokens"]
        if cached:
            print(
                f"  server cached prompt tokens per request: first {cached[0]}, median of the "
                f"rest {statistics.median(cached[1:] or cached):.0f} (prompt tokens "
                f"{min(reference.extra['prompt_tokens'])}-"
                f"{max(reference.extra['prompt_tokens'])})"
            )
    for repeats in runs.values():
        if any(r.outputs != repeats[0].outputs for r in repeats[1:]):
            print(f"  NOTE: {repeats[0].label} gave different outputs on different repeats")


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


if __name__ == "__main__":
    raise SystemExit(main())
