"""Plausible tool results grounded in the fixture workspace: one home for the trainer's
multi-turn examples and the eval's dry run.

Results come from the workspace where they can (file text, real definitions and references), so
a tool response never contradicts the files the prompts name. Every stub takes the catalog's
keyword arguments and is called by the example's own code, so responses match what it prints.
With ``always_found`` (the dry run) no lookup comes back empty: code that reads the fields of a
diagnostic or a location inside a loop must really read them to be judged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from pytest_codemode_eval.workspace_facts import WorkspaceFacts

Stub = Callable[..., Any]

LINT = (
    ("F401", "`os` imported but unused"),
    ("E501", "line too long (104 > 100)"),
    ("B006", "do not use mutable data structures for argument defaults"),
    ("SIM108", "use a ternary operator instead of if-else"),
)
TYPING = (
    ("arg-type", 'argument 1 has incompatible type "str"; expected "Path"'),
    ("return-value", 'incompatible return value type (got "None", expected "Node")'),
    ("attr-defined", '"AgentConfig" has no attribute "adapter"'),
    ("union-attr", 'item "None" of "User | None" has no attribute "email"'),
)
CHECKS = {
    "validate_component": "component __call__ must return a Node built with html()",
    "check_render_tree": "child component receives props it does not declare",
    "validate_escape_context": "html() receives an f-string; use a t-string",
    "validate_service_registration": "service is not decorated with @injectable",
    "check_dependency_graph": "views layer depends on a repository directly",
    "validate_injection_site": "Inject[] type is used but never imported",
    "validate_middleware_chain": "middleware __call__ must accept (component, props, context)",
    "check_di_template_binding": "html() renders an injectable component without context=",
    "validate_route_pattern": "route parameter '{id' is not closed",
}
AUTHORS = ("mira", "jonas", "paul", "ana")
MESSAGES = (
    "Add circuit breaker middleware",
    "Fix invoice totals",
    "Move views to t-strings",
    "Bump mlx-lm",
    "Add LoRA config validation",
    "Tidy websocket session handling",
)
SHELL = {
    "python --version": "Python 3.14.0",
    "git branch": "* main\n  phase40-smaller-model",
    "uv run pytest -q": "14 passed in 0.42s",
    "du -sh src": "96K\tsrc",
    "grep -rn TODO src/": "src/agent/tools.py:88: # TODO: stream long outputs",
}


class FakeTools:
    """Stub implementations of the catalog tools over the workspace facts, seeded."""

    def __init__(
        self, facts: WorkspaceFacts, rng: random.Random, always_found: bool = False
    ) -> None:
        self.facts, self.rng, self.always_found = facts, rng, always_found

    def _empty(self, chance: float) -> bool:
        """Whether this answer is the empty one (never in the dry run)."""
        return not self.always_found and self.rng.random() < chance

    def stubs(self, tools: Mapping[str, object]) -> dict[str, Stub]:
        """One callable per catalog tool; tools without a fake answer with a short string."""
        return {name: getattr(self, name, self._generic(name)) for name in tools}

    def _generic(self, name: str) -> Stub:
        return lambda **kwargs: f"{name}: done"

    def _lines(self, path: str) -> list[str]:
        return self.facts.texts.get(path, "").splitlines()

    def _files_under(self, path: str) -> list[str]:
        inside = [p for p in self.facts.python_files if p == path or p.startswith(path.rstrip("/"))]
        return inside or list(self.facts.source_files)

    def read_file(self, path: str) -> str:
        lines = self._lines(path)
        return "\n".join(lines[:18] + (["..."] if len(lines) > 18 else [])) or "(empty file)"

    def write_file(self, path: str, content: str) -> str:
        return f"Wrote {len(content)} characters to {path}"

    def run_command(
        self, command: str, args: list[str] | None = None, cwd: str | None = None
    ) -> str:
        line = " ".join([command, *(args or [])])
        if line.startswith("ls "):
            folder = line[3:].strip().rstrip("/") + "/"
            names = sorted(
                {p[len(folder) :].split("/")[0] for p in self.facts.texts if p.startswith(folder)}
            )
            return "\n".join(names)
        return SHELL.get(line, f"$ {line}\n(exit 0)")

    def _diagnostics(self, path: str, codes: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
        if self._empty(0.4):
            return []
        found = []
        for _ in range(self.rng.randint(1, 3)):
            file = self.rng.choice(self._files_under(path))
            code, message = self.rng.choice(codes)
            line = self.rng.randint(1, max(1, len(self._lines(file))))
            found.append({"file": file, "line": line, "code": code, "message": message})
        return found

    def typecheck(self, path: str) -> list[dict[str, Any]]:
        return self._diagnostics(path, TYPING)

    def ruff_check(self, path: str) -> list[dict[str, Any]]:
        return self._diagnostics(path, LINT)

    def pytest_run(self, path: str) -> dict[str, Any]:
        failed = self.rng.choice([0, 0, 0, 1, 2])
        errors = [f"{path.rstrip('/')}::test_case_{i} - AssertionError" for i in range(failed)]
        return {"passed": self.rng.randint(3, 30), "failed": failed, "errors": errors}

    def _location(self, file: str, line: int, column: int) -> dict[str, Any]:
        return {"file": file, "line": line, "column": column}

    def goto_definition(self, file_path: str, line: int, column: int, symbol: str) -> list[Any]:
        found = [
            self._location(d.file, d.line, d.column)
            for d in self.facts.public_definitions
            if d.name == symbol
        ][:1]
        return found or self._fallback_location(file_path, line, column)

    def find_references(self, file_path: str, line: int, column: int, symbol: str) -> list[Any]:
        found = [self._location(o.file, o.line, o.column) for o in self.facts.occurrences(symbol)]
        return found[:8] or self._fallback_location(file_path, line, column)

    def _fallback_location(self, file: str, line: int, column: int) -> list[Any]:
        return [self._location(file, line, column)] if self.always_found else []

    def hover(self, file_path: str, line: int, column: int, symbol: str) -> str:
        for d in self.facts.public_definitions:
            if d.name == symbol:
                return f"({d.kind}) {symbol}  [{d.file}:{d.line}]\n{d.doc or 'No docstring.'}"
        return f"{symbol}: unknown"

    def _symbols(self, definitions: Any) -> list[dict[str, Any]]:
        return [
            {"name": d.name, "kind": d.kind, "location": self._location(d.file, d.line, d.column)}
            for d in definitions
        ]

    def document_symbols(self, file_path: str) -> list[dict[str, Any]]:
        return self._symbols(self.facts.definitions_in(file_path)[:10])

    def workspace_symbols(self, query: str) -> list[dict[str, Any]]:
        found = [d for d in self.facts.public_definitions if query.lower() in d.name.lower()]
        exact = [d for d in found if d.name == query]
        return self._symbols((exact + [d for d in found if d not in exact])[:6])

    def git_status(self, path: str) -> str:
        if self.rng.random() < 0.25:
            return "On branch main\nnothing to commit, working tree clean"
        candidates = self._files_under(path)
        files = sorted(self.rng.sample(candidates, k=min(2, len(candidates))))
        return "On branch main\nChanges not staged for commit:\n" + "\n".join(
            f"\tmodified:   {file}" for file in files
        )

    def git_diff(self, path: str, staged: bool = False) -> str:
        file = self.rng.choice(self._files_under(path))
        lines = self._lines(file) or [""]
        number = self.rng.randrange(len(lines))
        old = lines[number]
        return (
            f"diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n"
            f"@@ -{number + 1} +{number + 1} @@\n-{old}\n+{old.rstrip()}  # reviewed"
        )

    def git_log(self, path: str, count: int = 10) -> list[dict[str, Any]]:
        return [
            {
                "sha": f"{self.rng.getrandbits(160):040x}",
                "author": self.rng.choice(AUTHORS),
                "message": self.rng.choice(MESSAGES),
            }
            for _ in range(min(count, 5))
        ]

    def cst_find_pattern(self, file_path: str, pattern: str) -> list[dict[str, Any]]:
        kinds = {"ClassDef": {"class"}, "FunctionDef": {"function", "method"}}.get(pattern)
        defs = self.facts.definitions_in(file_path)
        if kinds:
            return [self._location(d.file, d.line, d.column) for d in defs if d.kind in kinds]
        lines = self._lines(file_path) or [""]
        picks = sorted(self.rng.sample(range(len(lines)), k=min(2, len(lines))))
        return [self._location(file_path, n + 1, 4) for n in picks]

    def cst_rename(self, file_path: str, old_name: str, new_name: str) -> str:
        count = sum(1 for o in self.facts.occurrences(old_name) if o.file == file_path)
        return f"Renamed {old_name} to {new_name} in {file_path} ({count} occurrences)"

    def cst_add_import(self, file_path: str, import_stmt: str) -> str:
        return f"Added '{import_stmt}' to {file_path}"

    def __getattr__(self, name: str) -> Stub:
        if name not in CHECKS:
            raise AttributeError(name)

        def check(file_path: str) -> dict[str, Any]:
            if self._empty(0.5):
                return {"ok": True, "issues": []}
            line = self.rng.randint(1, max(1, len(self._lines(file_path))))
            issue = {"file": file_path, "line": line, "code": name, "message": CHECKS[name]}
            return {"ok": False, "issues": [issue]}

        return check
