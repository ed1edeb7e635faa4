"""Static checks of a Code Mode snippet against the catalog, without running it.

A training snippet teaches the model the catalog's API. Code that calls functions the sandbox
does not have, passes arguments the signatures reject, or reads attributes the results do not
have (``goto_definition(...).success`` when it returns ``list[Location]``) teaches another API.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codemode_trainer.rows import messages_of
from pytest_codemode_eval.catalog import Catalog, annotation_text
from pytest_codemode_eval.code_calls import analyse_code
from pytest_codemode_eval.parse import parse_output

BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class CodeReport:
    """What is wrong with one snippet; all empty means it fits the catalog."""

    syntax_error: str | None = None
    tools: tuple[str, ...] = ()  # catalog tools called, in order
    unknown_calls: tuple[str, ...] = ()
    bad_arguments: tuple[str, ...] = ()
    result_attributes: tuple[str, ...] = field(default=())  # "tool().attr (returns T)"


def check_code(code: str, catalog: Catalog) -> CodeReport:
    """Parse ``code`` and compare its calls and result uses with the catalog."""
    analysis = analyse_code(code)
    if analysis.syntax_error:
        return CodeReport(syntax_error=analysis.syntax_error)
    tree = ast.parse(code)
    known = catalog.tools.keys() | BUILTINS | _imported_names(tree)
    unknown = sorted({call.name for call in analysis.calls if call.name not in known})
    bad = []
    for call in analysis.calls:
        if call.name in catalog.tools and not call.starred:
            try:
                catalog.tools[call.name].signature.bind(*call.args, **call.kwargs)
            except TypeError as exc:
                bad.append(f"{call.name}: {exc}")
    return CodeReport(
        tools=tuple(call.name for call in analysis.calls if call.name in catalog.tools),
        unknown_calls=tuple(unknown),
        bad_arguments=tuple(bad),
        result_attributes=tuple(_result_attributes(tree, catalog)),
    )


def _imported_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _runtime_type(annotation: str) -> type:
    """What a result really is at run time: TypedDicts are dicts, ``list[X]`` is a list."""
    base = annotation.split("[", 1)[0].split("|", 1)[0].strip()
    return {"str": str, "list": list, "int": int, "bool": bool, "float": float}.get(base, dict)


def _result_attributes(tree: ast.AST, catalog: Catalog) -> list[str]:
    """``name.attr`` reads where ``name = tool(...)`` and the result type has no ``attr``."""
    returns: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id in catalog.tools:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        returns[target.id] = func.id
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            tool = returns.get(node.value.id)
            if tool is None:
                continue
            annotation = annotation_text(catalog.tools[tool].signature.return_annotation)
            if not hasattr(_runtime_type(annotation), node.attr):
                found[f"{tool}(...).{node.attr} (returns {annotation})"] = None
    return list(found)


def named_tools(message: Mapping[str, Any], catalog: Catalog) -> tuple[tuple[str, ...], str | None]:
    """The tools an assistant turn calls, as the eval's parser reads them, or what went wrong.

    The wrapper counts as a name followed by the catalog tools its code calls, so a direct
    ``read_file`` call and a wrapped one read differently: ``(execute_code, read_file)``.
    Structured ``tool_calls`` are read only when the text holds no call, as the eval does.
    """
    content = message.get("content")
    parsed = parse_output(
        content if isinstance(content, str) else "", message.get("tool_calls") or ()
    )
    names: list[str] = []
    problem = "; ".join(parsed.problems) or None
    for call in parsed.calls:
        if call.problem or not call.complete:
            return tuple(names), f"{call.name or 'call'}: {call.problem or 'never closed'}"
        names.append(call.name)
        if call.name == catalog.wrapper.name:
            code = call.arguments.get(catalog.code_parameter)
            if not isinstance(code, str):
                return tuple(names), f"{call.name} without a {catalog.code_parameter} argument"
            analysis = analyse_code(code)
            if analysis.syntax_error:
                return tuple(names), f"code does not parse ({analysis.syntax_error})"
            names += [c.name for c in analysis.calls if c.name in catalog.tools]
    return tuple(names), problem


def count_tool_calls(rows: Iterable[Mapping[str, Any]], catalog: Catalog) -> dict[str, int]:
    """Calls per catalog tool over every assistant turn (wrapped or direct), to see balance."""
    counts = dict.fromkeys(catalog.tools, 0)
    for row in rows:
        for message in messages_of(row):
            if message.get("role") == "assistant":
                for name in named_tools(message, catalog)[0]:
                    if name in counts:
                        counts[name] += 1
    return counts
