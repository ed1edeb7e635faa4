"""The catalog's tools as sandbox functions: each records the call with its run-time arguments and
answers with a result of the tool's declared type.

A call whose arguments do not bind to the signature raises `TypeError`, as the real function
would. Answers come from the workspace fakes where a tool has one; a fake that fails on odd
arguments answers with the type's default instead, so a host error never surfaces in the
model's code as if the code had raised it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run.trace import RecordedCall
from pytest_codemode_eval.dry_run.typed_results import typed_value

Stub = Callable[..., Any]


class ToolRecorder:
    """Stubs for one dry run; `calls` lists every tool call in the order the code made them."""

    def __init__(self, catalog: Catalog, fakes: Mapping[str, Stub]) -> None:
        self.catalog = catalog
        self.fakes = fakes
        self.calls: list[RecordedCall] = []

    def lookup(self) -> dict[str, Stub]:
        """The names the sandbox resolves to host functions: the catalog's tools, nothing else."""
        return {name: self._stub(name) for name in self.catalog.tools}

    def _stub(self, name: str) -> Stub:
        spec = self.catalog.tools[name]

        def call_tool(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(RecordedCall(name, tuple(args), dict(kwargs)))
            try:
                bound = spec.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{name}(): {exc}") from None
            bound.apply_defaults()
            return typed_value(
                self._answer(name, bound.arguments), self.catalog.returns.get(name, Any)
            )

        call_tool.__name__ = name
        return call_tool

    def _answer(self, name: str, arguments: Mapping[str, Any]) -> Any:
        fake = self.fakes.get(name)
        if fake is None:
            return None
        try:
            return fake(**arguments)
        except Exception:  # the fake's own limits, not the model's error
            return None
