"""The Code Mode snippet of an example and what it prints.

Code calls every tool with keyword arguments and prints the result in a style that fits the
result type. The snippet is then run against seeded stub tools, so the tool response in a
multi-turn example is exactly what this code would print. Only code generated here is run.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codemode_trainer.data.arguments import Step, Var
from pytest_codemode_eval.dry_run.fake_tools import Stub

#: Print styles per result annotation; @CALL@ is the call, @VAR@ a variable holding the result.
STYLES: dict[str, tuple[str, ...]] = {
    "str": ("print(@CALL@)", "@VAR@ = @CALL@\nprint(@VAR@)"),
    "list[Diagnostic]": (
        "for d in @CALL@:\n    print(f\"{d['file']}:{d['line']} {d['code']} {d['message']}\")",
        '@VAR@ = @CALL@\nprint(f"{len(@VAR@)} issue(s)")\nfor d in @VAR@:\n'
        '    print(d["file"], d["line"], d["code"], d["message"])',
    ),
    "TestReport": (
        "@VAR@ = @CALL@\nprint(f\"passed: {@VAR@['passed']}, failed: {@VAR@['failed']}\")\n"
        'for error in @VAR@["errors"]:\n    print(error)',
        "print(@CALL@)",
    ),
    "list[Location]": (
        "for loc in @CALL@:\n    print(f\"{loc['file']}:{loc['line']}:{loc['column']}\")",
        '@VAR@ = @CALL@\nprint(f"{len(@VAR@)} location(s)")\nfor loc in @VAR@:\n'
        '    print(loc["file"], loc["line"])',
    ),
    "list[Symbol]": (
        'for sym in @CALL@:\n    print(sym["kind"], sym["name"], sym["location"]["line"])',
        "print(@CALL@)",
    ),
    "list[Commit]": (
        'for commit in @CALL@:\n    print(commit["sha"][:7], commit["author"], commit["message"])',
    ),
    "CheckResult": (
        '@VAR@ = @CALL@\nprint("ok" if @VAR@["ok"] else "problems found")\n'
        "for issue in @VAR@[\"issues\"]:\n    print(f\"{issue['line']}: {issue['message']}\")",
        "print(@CALL@)",
    ),
}
VARIABLES = {
    "str": "text",
    "list[Diagnostic]": "issues",
    "TestReport": "report",
    "list[Location]": "locations",
    "CheckResult": "result",
}


@dataclass(frozen=True)
class Ran:
    """What running an example's code produced: its output and each call with its result."""

    output: str
    calls: tuple[tuple[str, Mapping[str, Any], Any], ...]


def literal(value: Any) -> str:
    """Python source for an argument (double-quoted strings, like most people write them)."""
    if isinstance(value, Var):
        return value.source
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return repr(value)


def call_source(step: Step) -> str:
    arguments = ", ".join(f"{name}={literal(value)}" for name, value in step.kwargs.items())
    return f"{step.tool}({arguments})"


def step_source(step: Step, returns: str, rng: random.Random) -> str:
    """One call and its printing, in a style chosen for the result type."""
    style = rng.choice(STYLES.get(returns, ("print(@CALL@)",)))
    variable = VARIABLES.get(returns, "result")
    return style.replace("@CALL@", call_source(step)).replace("@VAR@", variable)


def chain_source(
    steps: Sequence[Step], returns: Mapping[str, str], rng: random.Random, preamble: str = ""
) -> str:
    """A snippet calling each step in order, after an optional preamble (``path = ...``)."""
    parts = [preamble] if preamble else []
    parts += [step_source(step, returns[step.tool], rng) for step in steps]
    return "\n".join(parts)


def locate_preamble(step: Step) -> str:
    """Calls the locating tool and binds ``path`` to the file it found."""
    if step.tool == "workspace_symbols":
        lookup = 'matches[0]["location"]["file"]'
        return f"matches = {call_source(step)}\npath = {lookup}\nprint(path)"
    return f'locations = {call_source(step)}\npath = locations[0]["file"]\nprint(path)'


def run_code(code: str, stubs: Mapping[str, Stub]) -> Ran:
    """Run generated code against stub tools, recording calls and capturing what it prints."""
    calls: list[tuple[str, Mapping[str, Any], Any]] = []

    def recorded(name: str, stub: Stub) -> Stub:
        def call(**kwargs: Any) -> Any:
            result = stub(**kwargs)
            calls.append((name, kwargs, result))
            return result

        return call

    namespace: dict[str, Any] = {"__builtins__": builtins}
    namespace.update({name: recorded(name, stub) for name, stub in stubs.items()})
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<generated example>", "exec"), namespace)
    return Ran(buffer.getvalue().rstrip("\n") or "(no output)", tuple(calls))
