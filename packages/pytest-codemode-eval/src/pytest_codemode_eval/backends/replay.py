"""Replay backend: score recorded outputs, so the whole pipeline runs with no model at all.

File format, one JSON object per line:
`{"id": "git-01", "output": "<raw model text>", "seconds": 5.1, "finish": "stop"}`
with `seconds` and `finish` (stop | length | timeout) optional. `--codemode-record` writes the same,
plus, when they apply, `finish: "error"` with the backend's `error` message, token counts, and the
`tool_calls` a server returned instead of the call text (so an openai run replays faithfully).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from math import inf
from pathlib import Path
from typing import Any

from pytest_codemode_eval.errors import SuiteError, read_text_file
from pytest_codemode_eval.generation import Generation, GenerationRequest
from pytest_codemode_eval.safe_text import json_text

REPLAY_FINISH = ("stop", "length", "timeout", "error")


class MissingReplay(Exception):
    """The replay file has no output for a case that was selected to run."""


def read_replay(path: Path) -> dict[str, list[Generation]]:
    """Load and check a replay file; each bad line is an error naming file, line and field.

    Several lines for one id are its repeats, in order (`--codemode-repeats`)."""
    text = read_text_file(path, "replay file")
    generations: dict[str, list[Generation]] = {}
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is no line end
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(path, f"not a JSON object ({exc.msg})", line=number) from exc
        except RecursionError as exc:
            raise SuiteError(path, "not a JSON object (nested too deeply)", line=number) from exc
        case_id, generation = _generation(record, path, number)
        generations.setdefault(case_id, []).append(generation)
    return generations


def _generation(record: Any, path: Path, line: int) -> tuple[str, Generation]:
    def fail(message: str) -> SuiteError:
        return SuiteError(path, message, line=line)

    if not isinstance(record, dict):
        raise fail("expected a JSON object with 'id' and 'output'")
    case_id, output = record.get("id"), record.get("output")
    if not isinstance(case_id, str) or not case_id:
        raise fail("field 'id' must be a non-empty string")
    if not isinstance(output, str):
        raise fail(f"case {case_id!r}: field 'output' must be a string")
    seconds = record.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds < inf:
        raise fail(f"case {case_id!r}: field 'seconds' must be a non-negative number")
    finish = record.get("finish", "stop")
    if finish not in REPLAY_FINISH:
        raise fail(f"case {case_id!r}: field 'finish' must be one of {', '.join(REPLAY_FINISH)}")
    return case_id, Generation(
        output=output,
        seconds=float(seconds),
        finish=finish,
        prompt_tokens=_optional_int(record.get("prompt_tokens")),
        generated_tokens=_optional_int(record.get("generated_tokens")),
        error=record.get("error") if isinstance(record.get("error"), str) else None,
        server_tool_calls=_tool_calls(record.get("tool_calls", []), fail, case_id),
    )


def _tool_calls(value: Any, fail: Any, case_id: str) -> tuple[dict[str, Any], ...]:
    """Optional OpenAI `tool_calls` a server returned instead of the call text."""
    if not isinstance(value, list) or not all(isinstance(call, dict) for call in value):
        raise fail(
            f"case {case_id!r}: field 'tool_calls' must be a list of OpenAI tool call objects"
        )
    return tuple(value)


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ReplayBackend:
    """Serves each case the output recorded for it."""

    name = "replay"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.generations = read_replay(path)
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    def identity(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.path.name, "fingerprint": self.sha256}

    def missing(self, case_ids: Iterable[str]) -> list[str]:
        return [case_id for case_id in case_ids if case_id not in self.generations]

    def generate(self, request: GenerationRequest) -> Generation:
        recorded = self.generations.get(request.case_id, [])
        if not recorded:
            raise MissingReplay(f"{self.path}: no recorded output for case {request.case_id!r}")
        if request.repeat >= len(recorded):
            raise MissingReplay(
                f"{self.path}: case {request.case_id!r} has {len(recorded)} recorded output(s), "
                f"no repeat {request.repeat + 1} (one line per repeat, in order)"
            )
        return recorded[request.repeat]

    def close(self) -> None:
        return None


def record_line(case_id: str, generation: Mapping[str, Any]) -> str:
    """One replay-format line, UTF-8-encodable and one line to any splitter; `read_replay` reads
    every string back as it was."""
    return json_text({"id": case_id, **generation})
