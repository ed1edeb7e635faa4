"""Which catalog tools an output calls: read from its calls, from its Code Mode code, or from the
dry run of that code.

Reading can end early: a call cut off or malformed, code that does not parse, code whose dry run
raised. Then the reader returns the zero :class:`Score` that says why, instead of invocations; the
caller scores it as is. That is a value, not an exception: every path says what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.code_calls import MAX_CODE_CHARS, analyse_code
from pytest_codemode_eval.dry_run.trace import DryRun, RunStatus
from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.parse import Parsed, ToolCall
from pytest_codemode_eval.verdicts import Score, Verdict


@dataclass(frozen=True)
class Invocation:
    """A catalog tool the output calls, wrapped in Code Mode code or called directly."""

    tool: str
    args: tuple[object, ...]
    kwargs: dict[str, object]
    wrapped: bool
    starred: bool = False


@dataclass(frozen=True)
class Calls:
    """The catalog tools an output invokes, in order, and the unknown tools it calls directly."""

    invocations: tuple[Invocation, ...]
    unknown: tuple[str, ...]


# What reading an output gives: its calls, or the zero score of an output that cannot be credited.
Reading = Calls | Score


def read_calls(
    parsed: Parsed,
    catalog: Catalog,
    generation: Generation,
    runs: Mapping[str, DryRun] | None = None,
) -> Reading:
    """The catalog tools the output's calls invoke (`runs`: the dry run of each code, by code)."""
    invocations: list[Invocation] = []
    unknown: list[str] = []
    code_chars = 0  # all the output's code together, so 256 calls cannot each bring 20,000
    for call in parsed.calls:
        if (stop := _unreadable_call(call, generation)) is not None:
            return stop
        if call.name == catalog.wrapper.name:
            code = call.arguments.get(catalog.code_parameter)
            code_chars += len(code) if isinstance(code, str) else 0
            read = _code_invocations(code, catalog, runs or {}, code_chars)
            if isinstance(read, Score):
                return read
            invocations.extend(read)
        elif call.name in catalog.tools:
            invocations.append(Invocation(call.name, (), dict(call.arguments), wrapped=False))
        else:
            unknown.append(call.name)
    return Calls(tuple(invocations), tuple(unknown))


def _unreadable_call(call: ToolCall, generation: Generation) -> Score | None:
    """A call cut off or malformed: scoring stops with its own verdict."""
    if not call.complete:
        verdict = Verdict.TRUNCATED if generation.finish == "length" else Verdict.MALFORMED
        what = "cut off by the token limit" if verdict is Verdict.TRUNCATED else "never closed"
        return Score(0.0, verdict, f"Tool call {call.name or ''} {what}".replace("  ", " "))
    if call.problem:
        return Score(0.0, Verdict.MALFORMED, f"Malformed tool call: {call.problem}")
    return None


def _code_invocations(
    code: object, catalog: Catalog, runs: Mapping[str, DryRun], code_chars: int
) -> list[Invocation] | Score:
    wrapper = catalog.wrapper.name
    if not isinstance(code, str) or not code.strip():
        return _malformed(f"{wrapper} without a {catalog.code_parameter} argument")
    if code_chars > MAX_CODE_CHARS:  # reading code is a pure-Python AST walk: bounded per output
        return _malformed(f"{wrapper} code too long to analyse (over {MAX_CODE_CHARS:,} chars)")
    analysis = analyse_code(code)
    if analysis.syntax_error:
        return _malformed(f"{wrapper} code does not parse ({analysis.syntax_error})")
    run = runs.get(code)
    if run is not None and run.status in (RunStatus.COMPLETED, RunStatus.RAISED):
        return _run_invocations(run, catalog)
    return [
        Invocation(call.name, call.args, dict(call.kwargs), wrapped=True, starred=call.starred)
        for call in analysis.calls
        if call.name in catalog.tools
    ]


def _run_invocations(run: DryRun, catalog: Catalog) -> list[Invocation] | Score:
    """The calls the dry run recorded, with the values bound at run time."""
    if run.status is RunStatus.RAISED:
        called = tuple(call.tool for call in run.calls)
        return Score(0.0, Verdict.RUNTIME_ERROR, f"Runtime error: {run.error_line}", called)
    return [
        Invocation(call.tool, call.args, dict(call.kwargs), wrapped=True)
        for call in run.calls
        if call.tool in catalog.tools
    ]


def _malformed(note: str) -> Score:
    return Score(0.0, Verdict.MALFORMED, note)
