"""Find the tool calls inside Code Mode code with `ast`: real Call nodes only, in execution order.

A tool named in a string, a comment or a docstring is not a Call node, so it never counts. A
name the code binds itself (`def read_file(...)`, `read_file = ...`, an import) shadows the tool,
so calling it does not count either. The code is parsed, never executed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unresolved:
    """An argument whose value is only known at run time (e.g. the result of an earlier call)."""

    source: str


@dataclass(frozen=True)
class CodeCall:
    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    line: int
    starred: bool = False  # *args or **kwargs: the binding cannot be checked statically


@dataclass(frozen=True)
class CodeAnalysis:
    calls: tuple[CodeCall, ...] = field(default=())
    syntax_error: str | None = None


def analyse_code(code: object) -> CodeAnalysis:
    """Every call by bare name in `code`, in the order Python would make them."""
    if not isinstance(code, str):
        return CodeAnalysis(syntax_error=f"code is {type(code).__name__}, not a string")
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return CodeAnalysis(syntax_error=f"line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return CodeAnalysis(syntax_error=f"{type(exc).__name__}: {exc}")
    try:
        collector = _CallCollector(_constants(tree), _bound_names(tree))
        collector.visit(tree)
    except RecursionError:
        return CodeAnalysis(syntax_error="code is nested too deeply to analyse")
    return CodeAnalysis(tuple(collector.calls))


class _CallCollector(ast.NodeVisitor):
    def __init__(self, constants: Mapping[str, Any], shadowed: set[str]) -> None:
        self.constants = constants
        self.shadowed = shadowed
        self.calls: list[CodeCall] = []

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)  # the callee and arguments run before the call itself
        if not isinstance(node.func, ast.Name) or node.func.id in self.shadowed:
            return
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        )
        self.calls.append(
            CodeCall(
                name=node.func.id,
                args=tuple(self._value(a) for a in node.args if not isinstance(a, ast.Starred)),
                kwargs={k.arg: self._value(k.value) for k in node.keywords if k.arg is not None},
                line=node.lineno,
                starred=starred,
            )
        )

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        return literal_value(node)


def literal_value(node: ast.expr) -> Any:
    """The value of a literal expression (an f-string without placeholders too), else Unresolved."""
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Unresolved(ast.unparse(node))


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Names bound once, by a top-level literal assignment: `path = "a.py"` or `n: int = 5`."""
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            stores[node.id] = stores.get(node.id, 0) + 1
    constants: dict[str, Any] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value_node = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value_node = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and stores.get(target.id) == 1:
            value = literal_value(value_node)
            if not isinstance(value, Unresolved):
                constants[target.id] = value
    return constants


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the code defines or assigns itself: calling them is not calling the tool.

    Imports do not shadow: `from tools import read_file` still names the tool.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names
