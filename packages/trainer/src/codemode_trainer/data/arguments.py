"""Realistic arguments for catalog tools, drawn from the fixture workspace, with the words a
user would type for them (the template slots).

Arguments and wording come from one draw, so the prompt names exactly the file, symbol, count or
command the code passes: a model trained on it learns to copy what the user said. Which builder
a tool uses, its file parameter and file hints are the tool's entry in ``data/tools.py``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_codemode_eval.workspace_facts import Definition, Occurrence, WorkspaceFacts


@dataclass(frozen=True)
class Var:
    """A Python expression known only when the code runs (e.g. ``path`` from an earlier call)."""

    source: str


@dataclass
class Step:
    """One tool call: keyword arguments (literals or `Var`s) and the text for template slots."""

    tool: str
    kwargs: dict[str, Any]
    slots: dict[str, str] = field(default_factory=dict)


PATTERNS = (
    ("class definitions", "ClassDef"), ("classes", "ClassDef"), ("function definitions",
    "FunctionDef"), ("functions", "FunctionDef"), ("import statements", "Import"),
    ("async functions", "AsyncFunctionDef"), ("return statements", "Return"),
    ("decorators", "Decorator"), ("assignments", "Assign"), ("with blocks", "With"),
)  # fmt: skip
IMPORTS = (
    "from collections import defaultdict", "import logging", "from pathlib import Path",
    "from typing import Any", "import json", "from dataclasses import field",
    "from functools import cache", "import re", "from datetime import datetime",
    "from collections.abc import Iterator",
)  # fmt: skip
COMMANDS = (
    "ls src/", "ls tests/", "git branch", "python --version", "uv run pytest -q",
    "wc -l src/agent/config.py", "grep -rn TODO src/", "cat pyproject.toml", "du -sh src",
    "ls src/views/", "find src -name '*.py'", "uv pip list",
)  # fmt: skip
OUTPUTS = ("output/notes.txt", "output/todo.md", "output/report.txt", "output/status.txt")
CONTENTS = (
    "Training run finished", "TODO: migrate views to t-strings", "release 0.3.0",
    "Eval passed at 84%", "adapter saved", "Remember to rerun the linter",
)  # fmt: skip
COUNTS = (3, 4, 5, 6, 8, 10, 12, 15, 20)
_CAMEL = re.compile(r"[A-Z][a-z]{3,}")


@dataclass(frozen=True)
class Request:
    """What a tool's builder is asked for: the phrasing's variant and slots (``needs``), the file
    a chain pins (None: draw one) and, from the tool's entry, how it takes and likes files."""

    tool: str
    variant: str
    needs: set[str]
    path: str | None
    file_parameter: str | None
    file_hints: tuple[str, ...]


class ArgumentSampler:
    """Draws from the workspace: files that suit a tool, symbols, the places they are used."""

    def __init__(self, facts: WorkspaceFacts, rng: random.Random) -> None:
        self.facts = facts
        self.rng = rng
        self.symbols = [d for d in facts.public_definitions if d.kind != "method"]

    def pool(self, hints: tuple[str, ...]) -> tuple[str, ...]:
        """Files with one of ``hints`` in them, most of the time; any source file now and then."""
        hinted = self.facts.files_containing(*hints)
        if hints and hinted and self.rng.random() < 0.85:
            return hinted
        return self.facts.source_files

    def files_with_symbols(self) -> list[str]:
        """Files defining a class or function (a chain can locate one of them)."""
        return sorted({d.file for d in self.symbols})

    def common_file(self, hints: list[tuple[str, ...]], with_symbols: bool = False) -> str | None:
        """A file that suits every tool of a chain (each tool's file hints), if there is one."""
        shared = set(self.files_with_symbols() if with_symbols else self.facts.source_files)
        for tool_hints in hints:
            if tool_hints:
                shared &= set(self.facts.files_containing(*tool_hints))
        return self.rng.choice(sorted(shared)) if shared else None

    def definition_in(self, path: str | None) -> Definition:
        """A class or function of ``path`` (any one when it has none)."""
        inside = [d for d in self.symbols if d.file == path] if path else []
        return self.rng.choice(inside or self.symbols)

    def file_of(self, step: Step, file_parameter: str | None) -> str | None:
        """The Python file a step works on, if it works on one (not a folder or ``.``)."""
        value = step.kwargs.get(file_parameter or "")
        return value if isinstance(value, str) and value in self.facts.python_files else None

    def locate_step(self, tool: str, definition: Definition, at_definition: bool = False) -> Step:
        """A call that finds ``definition``: by name, or at a place its name is written."""
        if tool == "workspace_symbols":
            return Step(tool, {"query": definition.name}, {"query": definition.name})
        site: Definition | Occurrence = definition
        if not at_definition:
            site = self.facts.usage_site(definition)
        kwargs = {
            "file_path": site.file,
            "line": site.line,
            "column": site.column,
            "symbol": definition.name,
        }
        return Step(tool, kwargs, {"symbol": definition.name, "path": site.file})


Builder = Callable[[ArgumentSampler, Request], Step]


# --- builders: one per way a tool takes its arguments; the tool table names them ---


def file_arguments(s: ArgumentSampler, r: Request) -> Step:
    """The default: the tool's file parameter, a file that suits it (or the chain's file)."""
    return _file_step(s, r, None)


def _file_step(
    s: ArgumentSampler, r: Request, widen: Callable[[list[str]], list[str]] | None
) -> Step:
    if r.file_parameter is None:
        raise ValueError(f"tool {r.tool}: no file_parameter and no arguments builder")
    path = r.path
    if path is None:
        choices = list(s.pool(r.file_hints))
        if widen is not None:
            choices = widen(choices)
        path = s.rng.choice(choices)
    return Step(r.tool, {r.file_parameter: path}, {"path": path})


def file_or_folder(s: ArgumentSampler, r: Request) -> Step:
    """Checkers run on folders too: half the drawn targets are a folder."""
    return _file_step(s, r, lambda files: list(s.facts.folders) if s.rng.random() < 0.5 else files)


def any_text_file(s: ArgumentSampler, r: Request) -> Step:
    """Reading is not only for Python: now and then a text file that is not source."""

    def widen(files: list[str]) -> list[str]:
        if s.rng.random() < 0.1:
            return [p for p in s.facts.texts if not p.endswith(".py")] or files
        return files

    return _file_step(s, r, widen)


def cst_find_pattern(s: ArgumentSampler, r: Request) -> Step:
    step = file_arguments(s, r)
    what, pattern = s.rng.choice(PATTERNS)
    step.kwargs["pattern"], step.slots["what"] = pattern, what
    return step


def cst_add_import(s: ArgumentSampler, r: Request) -> Step:
    step = file_arguments(s, r)
    step.kwargs["import_stmt"] = step.slots["import_stmt"] = s.rng.choice(IMPORTS)
    return step


def write_file(s: ArgumentSampler, r: Request) -> Step:
    out, content = s.rng.choice(OUTPUTS), s.rng.choice(CONTENTS)
    return Step(
        "write_file",
        {"path": out, "content": content},
        {"path": out, "out": out, "content": content},
    )


def run_command(s: ArgumentSampler, r: Request) -> Step:
    command = s.rng.choice(COMMANDS)
    if s.rng.random() < 0.3:
        head, *rest = command.split(" ")
        return Step("run_command", {"command": head, "args": rest}, {"command": command})
    return Step("run_command", {"command": command}, {"command": command})


def pytest_run(s: ArgumentSampler, r: Request) -> Step:
    target = s.rng.choice(["tests/", "tests/", *s.facts.test_files])
    return Step("pytest_run", {"path": target}, {"path": target, "tests": target})


def workspace_symbols(s: ArgumentSampler, r: Request) -> Step:
    name = s.rng.choice(s.symbols).name
    pieces = _CAMEL.findall(name)
    query = s.rng.choice(pieces) if pieces and s.rng.random() < 0.3 else name
    return Step("workspace_symbols", {"query": query}, {"query": query})


def symbol_site(s: ArgumentSampler, r: Request) -> Step:
    """Point at a usage of a symbol, or at its definition when the chain's file is given."""
    definition = s.definition_in(r.path)
    return s.locate_step(r.tool, definition, at_definition=r.path is not None)


def cst_rename(s: ArgumentSampler, r: Request) -> Step:
    definition = s.definition_in(r.path)
    new = renamed(definition.name, s.rng)
    kwargs = {"file_path": definition.file, "old_name": definition.name, "new_name": new}
    return Step("cst_rename", kwargs, {"path": definition.file, "old": definition.name, "new": new})


def git(s: ArgumentSampler, r: Request) -> Step:
    """A folder (or ``.``), a count when the phrasing names one, ``staged`` for that variant."""
    target = r.path or (s.rng.choice(s.facts.folders) if "path" in r.needs else ".")
    kwargs: dict[str, Any] = {"path": target}
    slots = {"path": target}
    if "count" in r.needs:
        count = s.rng.choice(COUNTS)
        kwargs["count"], slots["count"] = count, str(count)
    if r.variant == "staged":
        kwargs["staged"] = True
    return Step(r.tool, kwargs, slots)


def renamed(name: str, rng: random.Random) -> str:
    """A plausible new name in the same naming style."""
    if name[:1].isupper():
        return rng.choice([f"Legacy{name}", f"{name}V2", f"Base{name}", f"{name}Impl"])
    return rng.choice([f"{name}_v2", f"legacy_{name}", f"new_{name}", f"{name}_impl"])
