"""Servers for the OpenAI backend tests: a real `mlx_lm.server` subprocess and a scripted fake.

The real one serves an offline model on a free loopback port, with `HF_HUB_CACHE` pointed at an
existing folder (its `/v1/models` crashes otherwise) and the same fast BLAS as the in-process
backend (`python -m pytest_codemode_eval.blas`), so greedy outputs can be compared bit for bit.
The fake (`http.server` in a thread) answers each POST with the next scripted reply: an HTTP
status, a server-sent-event stream, or silence.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVER_START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mlx_server(model_dir: Path, workdir: Path) -> Iterator[str]:
    """Run `mlx_lm.server` on `model_dir`; yield its base URL; terminate (then kill) it."""
    with mlx_server_process(model_dir, workdir) as (base_url, _):
        yield base_url


@contextmanager
def mlx_server_process(
    model_dir: Path, workdir: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mlx_server`, also yielding the process (for a test that kills it)."""
    port = free_port()
    hub = workdir / "hf-hub"
    hub.mkdir(parents=True, exist_ok=True)
    log = (workdir / "mlx-server.log").open("wb")
    command = [
        sys.executable, "-m", "pytest_codemode_eval.blas", "mlx_lm", "server",
        "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "WARNING",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_listed(base_url, process, workdir / "mlx-server.log")
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_until_listed(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlx_lm.server exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                if json.loads(response.read())["data"]:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mlx_lm.server not up after {SERVER_START_TIMEOUT} s:\n{log.read_text()}")


# ---------------------------------------------------------------------------------------------
# The fake server.

Reply = Callable[["FakeHandler"], None]


def chunk(
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    finish: str | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk` event as mlx_lm.server writes it (think text as `reasoning`,
    a call as one complete `tool_calls` entry; see the docstring of backends/openai.py)."""
    delta: dict[str, Any] = {"role": "assistant"}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = list(tool_calls)
    return {
        "object": "chat.completion.chunk",
        "system_fingerprint": "fake-1",
        "choices": [{"index": 0, "finish_reason": finish, "delta": delta}],
    }


def usage(prompt: int, completion: int) -> dict[str, Any]:
    return {"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def status(code: int, message: str = "busy") -> Reply:
    def reply(handler: FakeHandler) -> None:
        handler.send_json(code, {"error": message})

    return reply


def sse(*events: Mapping[str, Any], end: str = "done", delay: float = 0.0) -> Reply:
    """Stream `events` (each `delay` s apart), then end: `done` sends `[DONE]`, `close` hangs
    up without it (a server that died), `hang` keeps the stream open and silent."""

    def reply(handler: FakeHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(b": keepalive 1/1\n\n")  # mlx_lm.server's prefill progress comment
        for event in events:
            time.sleep(delay)
            handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            handler.wfile.flush()
        if end == "hang":
            handler.server.release.wait()
        elif end == "done":
            handler.wfile.write(b"data: [DONE]\n\n")

    return reply


def silence(handler: FakeHandler) -> None:
    """Accept the request and never answer (a hung server)."""
    handler.server.release.wait()


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def send_json(self, code: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        served = self.server.models
        if self.path != "/v1/models":
            self.send_json(404, {"error": "not found"})
        elif served is None:  # mlx_lm.server without its Hugging Face cache folder:
            self.send_response(200)  # headers sent, then the handler crashes
            self.end_headers()
        else:
            models = [{"id": name, "object": "model"} for name in served]
            self.send_json(200, {"object": "list", "data": models})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.server.headers.append(dict(self.headers))
        replies = self.server.replies
        replies[min(len(self.server.bodies), len(replies)) - 1](self)


class FakeServer(ThreadingHTTPServer):
    """Serves `models` on GET /v1/models; the n-th POST gets `replies[n]` (the last repeats)."""

    daemon_threads = True

    def __init__(self, models: Sequence[str] | None, replies: Sequence[Reply]) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.models = None if models is None else list(models)
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def fake_server(
    models: Sequence[str] | None = ("fake-model",), *replies: Reply
) -> Iterator[FakeServer]:
    server = FakeServer(models, replies or [sse(chunk("hi", finish="stop"))])
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
