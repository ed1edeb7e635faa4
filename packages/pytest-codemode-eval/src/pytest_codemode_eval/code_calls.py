"""Find the tool calls inside Code Mode code with `ast`: real Call nodes only, in execution order.

A tool named in a string, a comment or a docstring is not a Call node, so it never counts. A
name the code binds itself (`def read_file(...)`, `read_file = ...`, an import) shadows the tool,
so calling it does not count either. The code is parsed, never executed.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Unresolved:
    """An argument whose value is only known at run time (e.g. the result of an earlier call).

    Built from its expression node, whose source text is made only when a note needs it: most
    are never shown, and unparsing every argument of `f(f(f(...)))` was quadratic. Equal when the
    source texts are.
    """

    __slots__ = ("_node", "_source")

    def __init__(self, source: str | ast.expr) -> None:
        self._node = None if isinstance(source, str) else source
        self._source = source if isinstance(source, str) else None

    @property
    def source(self) -> str:
        if self._source is None and self._node is not None:
            self._source, self._node = expression_source(self._node), None
        return self._source or ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unresolved) and self.source == other.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Unresolved({self.source!r})"


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


MAX_CODE_CHARS = 20_000
MAX_NODES = 5_000
"""Code longer than this, or with more syntax nodes, is not analysed. A case allows 512-768 tokens
(about 3 KB of code, some 1,500 nodes); the caps keep the analysis of pathological code (the AST is
walked in pure Python, some microseconds per node) within tens of milliseconds."""


def analyse_code(code: object, max_chars: int = MAX_CODE_CHARS) -> CodeAnalysis:
    """Every call by bare name in `code`, in the order Python would make them. Never raises."""
    if not isinstance(code, str):
        return CodeAnalysis(syntax_error=f"code is {type(code).__name__}, not a string")
    if len(code) > max_chars:
        message = f"too long to analyse: {len(code):,} characters, limit {max_chars:,}"
        return CodeAnalysis(syntax_error=message)
    try:
        with warnings.catch_warnings():  # model code's own warnings (`"\#"`) are not the user's
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
    except SyntaxError as exc:
        return CodeAnalysis(syntax_error=f"line {exc.lineno}: {exc.msg}")
    except (RecursionError, MemoryError):  # CPython's parser: "too complex" / recursion depth
        return CodeAnalysis(syntax_error="nested too deeply")
    except ValueError as exc:  # null bytes; lone surrogates (UnicodeEncodeError)
        return CodeAnalysis(syntax_error=f"{type(exc).__name__}: {exc}")
    try:
        names = _names(tree, MAX_NODES)
        if names is None:
            return CodeAnalysis(syntax_error=f"too complex to analyse: over {MAX_NODES:,} nodes")
        stores, shadowed = names
        collector = _CallCollector(_constants(tree, stores), shadowed)
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
        return Unresolved(node)


SHOWN_NODES = 32  # a larger argument is only named in a note (`loc[0]["file"]` is 8 nodes)


def expression_source(node: ast.expr) -> str:
    """The expression as Python source, for a note.

    `ast.unparse` raises ValueError on some code that parses: an f-string whose expression part
    holds a character it must escape (`f"{d['\\u2028']}"`), an int past Python's digit limit.
    And unparsing every argument of `f(f(f(...)))` is quadratic, so a large one is only named.
    """
    what = "f-string" if isinstance(node, ast.JoinedStr) else "expression"
    if not _at_most(node, SHOWN_NODES):
        return f"<{what} on line {node.lineno}>"
    try:
        return ast.unparse(node)
    except ValueError:
        return f"<{what} on line {node.lineno}>"


def _at_most(node: ast.AST, limit: int) -> bool:
    """Whether the tree under `node` has at most `limit` nodes; stops counting past the limit."""
    stack = [ast.iter_child_nodes(node)]
    count = 1
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        count += 1
        if count > limit:
            return False
        stack.append(ast.iter_child_nodes(child))
    return True


def _constants(tree: ast.Module, stores: Mapping[str, int]) -> dict[str, Any]:
    """Names bound once, by a top-level literal assignment: `path = "a.py"` or `n: int = 5`."""
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


def _names(tree: ast.Module, max_nodes: int) -> tuple[dict[str, int], set[str]] | None:
    """How often each name is stored or deleted, and the names the code defines or assigns
    itself (calling those is not calling the tool); one walk of the tree for both. None when the
    tree has more than `max_nodes` nodes: the walk stops there.

    Imports do not shadow: `from tools import read_file` still names the tool.
    """
    stores: dict[str, int] = {}
    bound: set[str] = set()
    for count, node in enumerate(ast.walk(tree)):
        if count == max_nodes:
            return None
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store | ast.Del):
                stores[node.id] = stores.get(node.id, 0) + 1
            if isinstance(node.ctx, ast.Store):
                bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return stores, bound
