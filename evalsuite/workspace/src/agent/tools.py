"""Tool schemas offered to the model and the dispatcher that runs its calls."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.agent.code_mode import execute_code
from src.agent.config import AgentConfig


class ToolError(Exception):
    """A tool call the agent refuses or cannot complete."""


@dataclass(frozen=True)
class ToolSpec:
    """One tool as described to the model (OpenAI-style function schema)."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": self.parameters,
                    "required": sorted(self.parameters),
                },
            },
        }


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "execute_code",
        "Run a short Python snippet and return what it prints.",
        {"code": {"type": "string"}},
    ),
    ToolSpec("read_file", "Read a UTF-8 text file in the workspace.", {"path": {"type": "string"}}),
    ToolSpec(
        "write_file",
        "Create or overwrite a text file in the workspace.",
        {"path": {"type": "string"}, "content": {"type": "string"}},
    ),
    ToolSpec(
        "run_command",
        "Run a shell command in the workspace.",
        {"command": {"type": "string"}},
    ),
)


def _resolve(config: AgentConfig, relative: str) -> Path:
    root = config.workspace_root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ToolError(f"{relative!r} is outside the workspace")
    return path


def _read_file(config: AgentConfig, path: str) -> str:
    return _resolve(config, path).read_text(encoding="utf-8")


def _write_file(config: AgentConfig, path: str, content: str) -> str:
    target = _resolve(config, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return f"wrote {len(content)} characters to {path}"


def _run_command(config: AgentConfig, command: str) -> str:
    proc = subprocess.run(
        command,
        shell=True,
        cwd=config.workspace_root,
        capture_output=True,
        text=True,
        timeout=config.tool_timeout_s,
    )
    return f"exit code {proc.returncode}\n{proc.stdout}{proc.stderr}".rstrip()


_HANDLERS: Mapping[str, Callable[..., str]] = {
    "execute_code": lambda _config, code: execute_code(code),
    "read_file": _read_file,
    "write_file": _write_file,
    "run_command": _run_command,
}


def dispatch_tool_call(config: AgentConfig, name: str, arguments: str | Mapping[str, Any]) -> str:
    """Run the tool ``name`` with the model's JSON ``arguments`` and return its text result."""
    handler = _HANDLERS.get(name)
    if handler is None:
        raise ToolError(f"unknown tool {name!r}")
    args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    try:
        return handler(config, **args)
    except TypeError as exc:
        raise ToolError(f"bad arguments for {name}: {exc}") from exc
