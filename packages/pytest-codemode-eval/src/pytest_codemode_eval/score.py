"""Score one case: the single owner of the rubric (documented in the README).

1.0  an execute_code call whose code calls the expected tool(s), in order, with binding arguments
     that match the case's pins; for a case that expects no tool (`expected = []`), a prose answer;
0.5  a direct call of the expected tool with binding arguments;
0.0  prose, a wrong tool, a malformed call, code that does not parse, a call cut off by the token
     limit, a timeout, a failed generation; any call in a case that expects none; a call of a tool
     that changes the workspace (the catalog's MUTATING) that the case does not expect.
Chains score (expected tools called in order / expected tools) x format (1.0 wrapped, 0.5 direct).
A right tool whose arguments do not bind or miss a pin gets half of what it would have had.
With a dry run (`runs`, by code) the calls the code really made are scored instead of the ones
read from its text, and code that raised scores 0.0 (`runtime_error`); code the sandbox cannot
run is read statically, with a note saying so.
Extra calls of read-only tools cost nothing; they are recorded and named in the note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from pytest_codemode_eval.arguments import check_arguments
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run.trace import DryRun, RunStatus
from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.invocations import Invocation, read_calls
from pytest_codemode_eval.parse import Parsed
from pytest_codemode_eval.suite import Case
from pytest_codemode_eval.verdicts import Score, Verdict, one_line


def score_case(
    case: Case,
    catalog: Catalog,
    generation: Generation,
    parsed: Parsed,
    runs: Mapping[str, DryRun] | None = None,
) -> Score:
    """The case's score. Never raises: an output the rubric cannot read is a verdict too.
    `runs`: the dry run of each execute_code call's code, keyed by the code."""
    try:
        score = _score_case(case, catalog, generation, parsed, runs or {})
    except Exception as exc:  # a scorer bug must not end the session; fuzzed so it never happens
        score = Score(0.0, Verdict.MALFORMED, f"Scorer error: {type(exc).__name__}: {exc}")
    note = score.note + _static_fallback_note(score, runs or {})
    if any(call.syntax == "openai" for call in parsed.calls):
        note += " (server-parsed call)"  # the raw text had no call; the server's parse was used
    return replace(score, note=one_line(note))


def _static_fallback_note(score: Score, runs: Mapping[str, DryRun]) -> str:
    """Say when a dry run could not judge the code, so the static reading was scored."""
    if score.verdict is Verdict.RUNTIME_ERROR:
        return ""
    for run in runs.values():
        if run.status is RunStatus.UNSUPPORTED:
            return f" (dry run: not supported by the sandbox, {run.error_line}; scored statically)"
        if run.status is RunStatus.CRASHED:
            return f" (dry run: {run.error or 'sandbox failed'}; scored statically)"
    return ""


def _score_case(
    case: Case,
    catalog: Catalog,
    generation: Generation,
    parsed: Parsed,
    runs: Mapping[str, DryRun],
) -> Score:
    if generation.finish == "error":
        return Score(
            0.0, Verdict.ERROR, f"Generation failed: {generation.error or 'unknown error'}"
        )
    if generation.finish == "timeout":
        called = tuple(call.name for call in parsed.calls if call.name)
        return Score(0.0, Verdict.TIMEOUT, _timeout_note(parsed, generation), called)
    if not case.expected:
        return _score_abstention(parsed, catalog, generation)
    if not parsed.calls:
        return _prose_score(parsed, generation)
    read = read_calls(parsed, catalog, generation, runs)
    if isinstance(read, Score):
        return read
    if not read.invocations:
        unknown = read.unknown
        what = f"unknown tool {', '.join(unknown)}" if unknown else "no catalog tool in the code"
        return Score(0.0, Verdict.WRONG_TOOL, f"Wrong tool: {what}")
    return _score_invocations(case, catalog, read.invocations)


def _score_abstention(parsed: Parsed, catalog: Catalog, generation: Generation) -> Score:
    """A case whose right answer calls no tool: a prose answer earns full credit, a call none.

    A malformed or truncated call is scored as such (reading stops on it): an output that
    tried to call a tool and failed is never credited as an abstention.
    """
    if not parsed.calls:
        if not parsed.prose:
            return _prose_score(parsed, generation)  # empty or think-only: no answer at all
        note = "Answered without a tool call"
        note += " (hit the token limit)" if generation.finish == "length" else ""
        return Score(1.0, Verdict.NO_CALL, note)
    read = read_calls(parsed, catalog, generation)
    if isinstance(read, Score):
        return read  # a malformed or truncated call keeps its own verdict
    called = _names(read.invocations)
    names = ", ".join(dict.fromkeys(call.name for call in parsed.calls))
    inside = f" calling {', '.join(dict.fromkeys(called))}" if called else ""
    return Score(
        0.0, Verdict.UNNEEDED_CALL, f"Unneeded call: {names}{inside}; no tool was needed", called
    )


def _score_invocations(case: Case, catalog: Catalog, invocations: Sequence[Invocation]) -> Score:
    called = _names(invocations)
    expected = " → ".join(case.expected)
    changes = [t for t in dict.fromkeys(called) if t in catalog.mutating and t not in case.expected]
    if changes:
        note = f"Unrequested change: {', '.join(changes)} (expected {expected})"
        return Score(0.0, Verdict.UNREQUESTED_CHANGE, note, called)
    matched = match_in_order(case.expected, called)
    if not matched:
        return Score(
            0.0,
            Verdict.WRONG_TOOL,
            f"Wrong tool: {', '.join(called)} (expected {expected})",
            called,
        )
    score = _credit(case, catalog, invocations, matched)
    extra = tuple(dict.fromkeys(t for t in called if t not in case.expected))
    if not extra:
        return score
    note = f"{score.note}; extra read-only call(s): {', '.join(extra)}"
    return replace(score, note=note, extra_calls=extra)


def _credit(
    case: Case, catalog: Catalog, invocations: Sequence[Invocation], matched: list[int]
) -> Score:
    """The credit of the expected tools that were called: chain fraction x format x arguments."""
    called = _names(invocations)
    fraction = len(matched) / len(case.expected)
    wrapped = all(invocations[i].wrapped for i in matched)
    factor = 1.0 if wrapped else 0.5
    problems = [
        problem
        for i in matched
        if (
            problem := check_arguments(
                invocations[i], catalog.tools[invocations[i].tool], case.pins
            )
        )
    ]
    if problems:
        return Score(
            round(fraction * factor * 0.5, 4), Verdict.BAD_ARGUMENTS, "; ".join(problems), called
        )
    if fraction < 1.0:
        hit = {called[i] for i in matched}
        missing = [tool for tool in case.expected if tool not in hit and tool not in called]
        late = [tool for tool in case.expected if tool not in hit and tool in called]
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"out of order {', '.join(late)}"] if late else []
        note = f"Chain {len(matched)}/{len(case.expected)}, {'; '.join(parts)}"
        note += "" if wrapped else ", direct calls"
        return Score(round(fraction * factor, 4), Verdict.PARTIAL_CHAIN, note, called)
    if wrapped:
        return Score(
            1.0, Verdict.CODE_MODE, f"Code Mode call of {' → '.join(case.expected)}", called
        )
    return Score(0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code", called)


def match_in_order(expected: Sequence[str], called: Sequence[str]) -> list[int]:
    """Indices into `called` of a longest in-order match of `expected` (an LCS)."""
    rows, cols = len(expected), len(called)
    best = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            best[i][j] = (
                best[i + 1][j + 1] + 1
                if expected[i] == called[j]
                else max(best[i + 1][j], best[i][j + 1])
            )
    matched, i, j = [], 0, 0
    while i < rows and j < cols:
        if expected[i] == called[j]:
            matched.append(j)
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return matched


def _prose_score(parsed: Parsed, generation: Generation) -> Score:
    if not parsed.prose:
        note = "Empty output" if not parsed.think else "Only a think block, no answer"
    else:
        note = "Prose only, no tool call"
    if generation.finish == "length":
        note += " (hit the token limit)"
    return Score(0.0, Verdict.PROSE, note)


def _timeout_note(parsed: Parsed, generation: Generation) -> str:
    what = "prose then no call" if parsed.prose or parsed.think else "no output"
    if parsed.calls:
        finished = all(call.complete for call in parsed.calls)
        what = "call finished after the budget" if finished else "call not finished in time"
    return f"Timeout after {generation.seconds:.1f}s — {what}"


def _names(invocations: Sequence[Invocation]) -> tuple[str, ...]:
    return tuple(invocation.tool for invocation in invocations)
