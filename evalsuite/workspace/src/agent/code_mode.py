"""Code Mode: run the Python snippet the model wrote and return what it printed.

The model gets one tool, ``execute_code``. Its snippet runs with a reduced set
of builtins and a few pre-imported modules; imports of anything that touches
the host (``os``, ``subprocess``, sockets, ...) are rejected before execution.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import math
import re
import traceback
from dataclasses import dataclass

MAX_OUTPUT_CHARS = 8_000

ALLOWED_MODULES = frozenset(
    {"collections", "datetime", "functools", "itertools", "json", "math", "re", "statistics"}
)

BLOCKED_BUILTINS = frozenset(
    {"__import__", "breakpoint", "compile", "eval", "exec", "exit", "input", "open", "quit"}
)


@dataclass(frozen=True)
class CodeModeResult:
    """Outcome of one snippet: captured stdout plus the error, if any."""

    stdout: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def render(self) -> str:
        """Text handed back to the model as the tool result."""
        text = self.stdout if self.ok else f"{self.stdout}{self.error}"
        if len(text) > MAX_OUTPUT_CHARS:
            text = text[:MAX_OUTPUT_CHARS] + "\n... [output truncated]"
        return text.rstrip("\n")


def validate_code(code: str) -> list[str]:
    """Return the policy violations in ``code`` (an empty list means it may run)."""
    tree = ast.parse(code, filename="<code-mode>")
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            if isinstance(node, ast.Name) and node.id in BLOCKED_BUILTINS:
                problems.append(f"use of {node.id}() is not allowed")
            continue
        for name in names:
            if name.split(".")[0] not in ALLOWED_MODULES:
                problems.append(f"import of {name!r} is not allowed")
    return problems


def _safe_import(name: str, *args: object, **kwargs: object) -> object:
    if name.split(".")[0] not in ALLOWED_MODULES:
        raise ImportError(f"import of {name!r} is not allowed")
    return __import__(name, *args, **kwargs)  # type: ignore[arg-type]


def _sandbox_globals() -> dict[str, object]:
    safe = {k: v for k, v in vars(builtins).items() if k not in BLOCKED_BUILTINS}
    safe["__import__"] = _safe_import
    return {"__builtins__": safe, "__name__": "__code_mode__", "json": json, "math": math, "re": re}


def run_code(code: str) -> CodeModeResult:
    """Validate and execute ``code``, capturing stdout and any exception."""
    try:
        problems = validate_code(code)
    except SyntaxError as exc:
        return CodeModeResult("", f"SyntaxError: {exc.msg} (line {exc.lineno})")
    if problems:
        return CodeModeResult("", "PolicyError: " + "; ".join(problems))

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, "<code-mode>", "exec"), _sandbox_globals())
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        error = f"{type(exc).__name__}: {exc} (line {last.lineno})"
        return CodeModeResult(buffer.getvalue(), error)
    return CodeModeResult(buffer.getvalue())


def execute_code(code: str) -> str:
    """Run a Code Mode snippet and return its output (or error) as text for the model."""
    if not code.strip():
        return "Error: no code given"
    return run_code(code).render()
