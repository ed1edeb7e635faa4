"""Crash-safe output cache: every generated output is appended and flushed as it arrives.

A killed run (SIGKILL, the OOM killer, a CI timeout) loses at most the outputs in flight:
rerunning the same command regenerates only what is missing, and a second identical run
generates nothing. An output is keyed by everything that could change it: the model's and the
adapter's content fingerprints (a re-fused or re-quantized model at the same path gets new keys),
the backend's settings, the rendered prompt (messages and tools), the token and time budgets,
the request's seed and the repeat index. Failed generations (`finish: error`: a refused
connection, a crash) are never cached; they are tried again.

Layout: `DIR/<model fingerprint>/<host>-<pid>-<start>.jsonl`, one file per process, so xdist
workers never write to the same file; a reader takes every file of the folder and skips a torn
last line.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pytest_codemode_eval.generation import Generation, GenerationRequest
from pytest_codemode_eval.safe_text import json_text

CACHE_FORMAT = 1
OFF = "off"


def default_cache_dir() -> Path:
    """Beside the fingerprint store: $CODEMODE_CACHE_DIR, $XDG_CACHE_HOME/codemode-eval or
    ~/.cache/codemode-eval, then `outputs/`."""
    if os.environ.get("CODEMODE_CACHE_DIR"):
        return Path(os.environ["CODEMODE_CACHE_DIR"]) / "outputs"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "codemode-eval" / "outputs"


def output_key(backend: str, model: Mapping[str, Any], request: GenerationRequest) -> str:
    """The cache key of one request to one model; any input that changes the output changes it."""
    payload = {
        "format": CACHE_FORMAT,
        "backend": backend,
        "model": {key: value for key, value in model.items() if key != "fingerprint_method"},
        "messages": list(request.messages),
        "tools": list(request.tools),
        "max_tokens": request.max_tokens,
        "time_budget": request.time_budget,
        "seed": request.seed,
        "repeat": request.repeat,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def model_namespace(model: Mapping[str, Any]) -> str:
    """A folder per model (and adapter), so a cache of many models stays quick to read."""
    parts = [str(model.get("fingerprint") or model.get("name") or "model")]
    if model.get("adapter_fingerprint"):
        parts.append(str(model["adapter_fingerprint"]))
    return "-".join(part for part in parts if part)[:80].replace("/", "_")


class OutputCache:
    """Outputs of one model, read once at start and appended to as they are generated."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries = read_entries(folder)
        self._handle: IO[str] | None = None

    def get(self, key: str) -> Generation | None:
        record = self.entries.get(key)
        return None if record is None else _generation(record)

    def put(self, key: str, case_id: str, generation: Generation) -> None:
        """Append and flush to disk now: the line survives a SIGKILL a moment later."""
        if generation.finish == "error" or key in self.entries:
            return
        record = {
            "key": key,
            "id": case_id,
            "output": generation.output,
            "seconds": generation.seconds,
            "finish": generation.finish,
            "prompt_tokens": generation.prompt_tokens,
            "generated_tokens": generation.generated_tokens,
            "tool_calls": [dict(call) for call in generation.server_tool_calls],
        }
        handle = self._open()
        handle.write(json_text(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        self.entries[key] = record

    def _open(self) -> IO[str]:
        if self._handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"
            self._handle = (self.folder / name).open("a", encoding="utf-8")
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """Every complete line of every file of the folder (a torn last line is skipped)."""
    entries: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return entries
    for path in sorted(folder.glob("*.jsonl")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.split("\n"):
            record = _record(line)
            if record is not None:
                entries.setdefault(record["key"], record)
    return entries


def _record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return None
    if not isinstance(record.get("output"), str):
        return None
    return record


def _generation(record: Mapping[str, Any]) -> Generation:
    finish = record.get("finish")
    tool_calls = record.get("tool_calls")
    return Generation(
        output=record["output"],
        seconds=float(record.get("seconds") or 0.0),
        finish=finish if finish in ("stop", "length", "timeout") else "stop",
        prompt_tokens=_int(record.get("prompt_tokens")),
        generated_tokens=_int(record.get("generated_tokens")),
        server_tool_calls=tuple(tool_calls) if isinstance(tool_calls, list) else (),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
