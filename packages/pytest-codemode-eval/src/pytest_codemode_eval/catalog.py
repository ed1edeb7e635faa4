"""Load a suite's tool catalog: typed Python stubs whose signatures the scorer binds against.

A catalog is a Python module a suite brings (trusted suite code, never model output) exporting
`TOOLS` (the tool functions), `WRAPPER` (the Code Mode `execute_code(code: str)` function) and
optionally `RESULT_TYPES` and `MUTATING` (the tools that change the workspace, by function or
name: a call of one that the case does not ask for costs all credit). Keeping it as real Python
keeps the stubs the model sees and the signatures the scorer binds identical by construction.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_codemode_eval.errors import SuiteError


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the model sees it and the scorer binds it."""

    name: str
    signature: inspect.Signature
    doc: str

    def signature_line(self) -> str:
        """`def name(params) -> Result` without the docstring, for the compact prompt."""
        parameters, returns = format_parameters(self.signature), format_return(self.signature)
        return f"def {self.name}({parameters}){returns}"

    def stub(self) -> str:
        """The one-line Python stub shown in the system prompt."""
        parameters, returns = format_parameters(self.signature), format_return(self.signature)
        head = f"def {self.name}({parameters}){returns}"
        return f'{head}: """{self.doc}"""'

    def required_parameters(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, param in self.signature.parameters.items()
            if param.default is inspect.Parameter.empty
        )


@dataclass(frozen=True)
class Catalog:
    """The tools of a suite plus its Code Mode wrapper, in declaration order."""

    tools: Mapping[str, ToolSpec]
    wrapper: ToolSpec
    result_types: tuple[str, ...] = ()  # one-line class stubs: "class Location(TypedDict): ..."
    source: str = ""
    # How the suite shows the catalog (set from suite.toml): "full" stubs with docstrings and
    # result types, or "compact" signatures only; and whether execute_code is offered as a native
    # tool through the chat template's `tools`, or only described in the system prompt.
    prompt_style: str = "full"
    native_tools: bool = True
    # Each tool's return annotation resolved to a type (`list[Location]`), for the dry run's
    # typed results; Any where it cannot be resolved.
    returns: Mapping[str, Any] = field(default_factory=dict)
    # Tools that change the workspace (write a file, rename, run a shell command): the scorer
    # treats an unrequested call of one as the worst outcome, whatever else the code did right.
    mutating: frozenset[str] = frozenset()

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(self.tools)

    @property
    def code_parameter(self) -> str:
        """Name of the wrapper's single code argument (`code` for execute_code)."""
        return next(iter(self.wrapper.signature.parameters))

    def fingerprint(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


def annotation_text(annotation: Any) -> str:
    """Annotations as written in the source (they are strings under postponed evaluation)."""
    if isinstance(annotation, str):
        return annotation
    forward = getattr(annotation, "__forward_arg__", None)  # TypedDict fields keep ForwardRefs
    if isinstance(forward, str):
        return forward
    return inspect.formatannotation(annotation)


def format_parameters(signature: inspect.Signature) -> str:
    parts = []
    for name, param in signature.parameters.items():
        text = name
        if param.annotation is not inspect.Parameter.empty:
            text += f": {annotation_text(param.annotation)}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    return ", ".join(parts)


def format_return(signature: inspect.Signature) -> str:
    if signature.return_annotation is inspect.Signature.empty:
        return ""
    return f" -> {annotation_text(signature.return_annotation)}"


def result_type_stub(result_type: type) -> str:
    """One line per result type, e.g. `class Location(TypedDict): file: str; line: int`."""
    fields = "; ".join(
        f"{name}: {annotation_text(value)}"
        for name, value in getattr(result_type, "__annotations__", {}).items()
    )
    bases = ", ".join(base.__name__ for base in getattr(result_type, "__orig_bases__", ()))
    return f"class {result_type.__name__}({bases or 'object'}): {fields or '...'}"


def tool_spec(function: Callable[..., Any]) -> ToolSpec:
    """Build a ToolSpec from a typed function, keeping its annotations as written."""
    signature = inspect.signature(function, eval_str=False)
    doc = inspect.getdoc(function) or ""
    return ToolSpec(function.__name__, signature, doc.splitlines()[0] if doc else "")


def load_catalog(path: Path) -> Catalog:
    """Import a catalog module from its file path and check it exports what a catalog needs."""
    if not path.is_file():
        raise SuiteError(path, "catalog file not found")
    module_name = f"_codemode_catalog_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SuiteError(path, "cannot import catalog module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:  # sys.exit() in the suite's code must not end the session
        sys.modules.pop(module_name, None)
        raise SuiteError(path, f"catalog exited while importing (exit code {exc.code!r})") from None
    except Exception as exc:  # the suite's own code: report, never crash collection
        sys.modules.pop(module_name, None)
        raise SuiteError(path, f"catalog failed to import: {exc!r}") from exc
    return catalog_from_module(path, module)


def catalog_from_module(path: Path, module: Any) -> Catalog:
    tools = getattr(module, "TOOLS", None)
    wrapper = getattr(module, "WRAPPER", None)
    if not isinstance(tools, list | tuple) or not all(callable(tool) for tool in tools):
        raise SuiteError(path, "TOOLS must be a list of tool functions")
    if not callable(wrapper):
        raise SuiteError(path, "WRAPPER must be the Code Mode function, e.g. execute_code")
    specs = [tool_spec(tool) for tool in tools]
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SuiteError(path, f"duplicate tool names in TOOLS: {', '.join(duplicates)}")
    wrapper_spec = tool_spec(wrapper)
    if len(wrapper_spec.signature.parameters) != 1:
        raise SuiteError(path, f"WRAPPER {wrapper_spec.name} must take exactly one code argument")
    result_types = tuple(result_type_stub(t) for t in getattr(module, "RESULT_TYPES", ()))
    return Catalog(
        tools={spec.name: spec for spec in specs},
        wrapper=wrapper_spec,
        result_types=result_types,
        source=path.read_text(encoding="utf-8"),
        returns={spec.name: resolved_return(tool) for spec, tool in zip(specs, tools, strict=True)},
        mutating=mutating_tools(path, getattr(module, "MUTATING", ()), names),
    )


def resolved_return(function: Callable[..., Any]) -> Any:
    """The return annotation as a type, resolved in the catalog module's namespace."""
    try:
        return typing.get_type_hints(function).get("return", Any)
    except Exception:  # an annotation naming something the module does not define
        return Any


def mutating_tools(path: Path, declared: Any, tools: list[str]) -> frozenset[str]:
    """`MUTATING` as tool names: each entry a tool function of TOOLS or its name."""
    if isinstance(declared, str) or not isinstance(declared, list | tuple | set | frozenset):
        raise SuiteError(path, "MUTATING must be a list, tuple or set of tools from TOOLS")
    names = [
        entry if isinstance(entry, str) else getattr(entry, "__name__", "") for entry in declared
    ]
    unknown = sorted(repr(name) for name in names if name not in tools)
    if unknown:
        message = f"MUTATING names tool(s) not in TOOLS: {', '.join(unknown)}"
        raise SuiteError(path, f"{message}; known: {', '.join(tools)}", _assignment_line(path))
    return frozenset(names)


def _assignment_line(path: Path) -> int | None:
    """The line of `MUTATING = ...` in the catalog source, for the error message."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"MUTATING\b", line):
            return number
    return None
