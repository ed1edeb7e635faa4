"""Realistic arguments for each catalog tool, drawn from the fixture workspace, with the words
a user would type for them (the template slots).

Arguments and wording come from one draw, so the prompt names exactly the file, symbol, count or
command the code passes: a model trained on it learns to copy what the user said.
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


#: The argument that names "the file" a chain works on, per tool.
FILE_PARAMETER: dict[str, str] = {
    "read_file": "path", "typecheck": "path", "ruff_check": "path", "git_status": "path",
    "git_diff": "path", "git_log": "path", "document_symbols": "file_path",
    "cst_find_pattern": "file_path", "cst_rename": "file_path", "cst_add_import": "file_path",
    "goto_definition": "file_path", "find_references": "file_path", "hover": "file_path",
    "validate_component": "file_path", "check_render_tree": "file_path",
    "validate_escape_context": "file_path", "validate_service_registration": "file_path",
    "check_dependency_graph": "file_path", "validate_injection_site": "file_path",
    "validate_middleware_chain": "file_path", "check_di_template_binding": "file_path",
    "validate_route_pattern": "file_path",
}  # fmt: skip
#: Which files suit a tool, as text that such files contain (others get any source file).
FILE_HINTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("validate_component", "check_render_tree", "validate_escape_context"), ("html(",)
    ),
    "check_di_template_binding": ("html(",),
    **dict.fromkeys(
        ("validate_service_registration", "check_dependency_graph", "validate_injection_site"),
        ("Inject[", "@injectable", "svcs"),
    ),
    "validate_middleware_chain": ("middleware",),
    "validate_route_pattern": ("@route(", "route("),
}
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


class ArgumentSampler:
    """Draws a tool's arguments and slot texts; ``path`` pins the file of a chain."""

    def __init__(self, facts: WorkspaceFacts, rng: random.Random) -> None:
        self.facts = facts
        self.rng = rng
        self.symbols = [d for d in facts.public_definitions if d.kind != "method"]
        self._builders: dict[str, Callable[[str, set[str], str | None], Step]] = {
            "write_file": self._write_file, "run_command": self._run_command,
            "pytest_run": self._pytest_run, "workspace_symbols": self._workspace_symbols,
            "goto_definition": self._lsp, "find_references": self._lsp, "hover": self._lsp,
            "cst_rename": self._cst_rename, "git_diff": self._git, "git_log": self._git,
            "git_status": self._git,
        }  # fmt: skip

    def pool(self, tool: str) -> tuple[str, ...]:
        """Files that suit ``tool``, most of the time; any source file now and then."""
        hinted = self.facts.files_containing(*FILE_HINTS.get(tool, ()))
        if tool in FILE_HINTS and hinted and self.rng.random() < 0.85:
            return hinted
        return self.facts.source_files

    def files_with_symbols(self) -> list[str]:
        """Files defining a class or function (a chain can locate one of them)."""
        return sorted({d.file for d in self.symbols})

    def common_file(self, tools: list[str], with_symbols: bool = False) -> str | None:
        """A file that suits every tool of a chain, if there is one."""
        shared = set(self.files_with_symbols() if with_symbols else self.facts.source_files)
        for tool in tools:
            if tool in FILE_HINTS:
                shared &= set(self.facts.files_containing(*FILE_HINTS[tool]))
        return self.rng.choice(sorted(shared)) if shared else None

    def step(self, tool: str, variant: str, needs: set[str], path: str | None = None) -> Step:
        """Arguments for one call; ``needs`` are the slots its template uses."""
        builder = self._builders.get(tool)
        step = (builder or self._file_tool)(tool, needs, path)
        if variant == "staged":
            step.kwargs["staged"] = True
        if tool == "cst_find_pattern":
            what, pattern = self.rng.choice(PATTERNS)
            step.kwargs["pattern"], step.slots["what"] = pattern, what
        elif tool == "cst_add_import":
            step.kwargs["import_stmt"] = step.slots["import_stmt"] = self.rng.choice(IMPORTS)
        return step

    def _file_tool(self, tool: str, needs: set[str], path: str | None) -> Step:
        if path is None:
            choices = list(self.pool(tool))
            if tool in {"typecheck", "ruff_check"} and self.rng.random() < 0.5:
                choices = list(self.facts.folders)
            elif tool == "read_file" and self.rng.random() < 0.1:
                choices = [p for p in self.facts.texts if not p.endswith(".py")] or choices
            path = self.rng.choice(choices)
        return Step(tool, {FILE_PARAMETER[tool]: path}, {"path": path})

    def _write_file(self, tool: str, needs: set[str], path: str | None) -> Step:
        out, content = self.rng.choice(OUTPUTS), self.rng.choice(CONTENTS)
        return Step(
            "write_file",
            {"path": out, "content": content},
            {"path": out, "out": out, "content": content},
        )

    def _run_command(self, tool: str, needs: set[str], path: str | None) -> Step:
        command = self.rng.choice(COMMANDS)
        if self.rng.random() < 0.3:
            head, *rest = command.split(" ")
            return Step("run_command", {"command": head, "args": rest}, {"command": command})
        return Step("run_command", {"command": command}, {"command": command})

    def _pytest_run(self, tool: str, needs: set[str], path: str | None) -> Step:
        target = self.rng.choice(["tests/", "tests/", *self.facts.test_files])
        return Step("pytest_run", {"path": target}, {"path": target, "tests": target})

    def _workspace_symbols(self, tool: str, needs: set[str], path: str | None) -> Step:
        name = self.rng.choice(self.symbols).name
        pieces = _CAMEL.findall(name)
        query = self.rng.choice(pieces) if pieces and self.rng.random() < 0.3 else name
        return Step("workspace_symbols", {"query": query}, {"query": query})

    def definition_in(self, path: str | None) -> Definition:
        """A class or function of ``path`` (any one when it has none)."""
        inside = [d for d in self.symbols if d.file == path] if path else []
        return self.rng.choice(inside or self.symbols)

    def file_of(self, step: Step) -> str | None:
        """The Python file a step works on, if it works on one (not a folder or ``.``)."""
        value = step.kwargs.get(FILE_PARAMETER.get(step.tool, ""))
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

    def _lsp(self, tool: str, needs: set[str], path: str | None) -> Step:
        """Point at a usage of a symbol, or at its definition when the chain's file is given."""
        return self.locate_step(tool, self.definition_in(path), at_definition=path is not None)

    def _cst_rename(self, tool: str, needs: set[str], path: str | None) -> Step:
        definition = self.definition_in(path)
        new = renamed(definition.name, self.rng)
        kwargs = {"file_path": definition.file, "old_name": definition.name, "new_name": new}
        return Step(
            "cst_rename", kwargs, {"path": definition.file, "old": definition.name, "new": new}
        )

    def _git(self, tool: str, needs: set[str], path: str | None) -> Step:
        target = path or (self.rng.choice(self.facts.folders) if "path" in needs else ".")
        kwargs: dict[str, Any] = {"path": target}
        slots = {"path": target}
        if "count" in needs:
            count = self.rng.choice(COUNTS)
            kwargs["count"], slots["count"] = count, str(count)
        return Step(tool, kwargs, slots)


def renamed(name: str, rng: random.Random) -> str:
    """A plausible new name in the same naming style."""
    if name[:1].isupper():
        return rng.choice([f"Legacy{name}", f"{name}V2", f"Base{name}", f"{name}Impl"])
    return rng.choice([f"{name}_v2", f"legacy_{name}", f"new_{name}", f"{name}_impl"])
