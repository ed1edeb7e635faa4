"""Run one case end to end: request -> backend -> parse -> score -> CaseResult. No pytest here.

A backend that raises becomes an `error` verdict for that case only; the session, the loaded
model and the other results carry on.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.backends.replay import MissingReplay
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.code_calls import analyse_code
from pytest_codemode_eval.dry_run.trace import DryRun
from pytest_codemode_eval.generation import Backend, Generation, GenerationRequest
from pytest_codemode_eval.parse import Parsed, parse_output
from pytest_codemode_eval.prompt import build_messages, offered_tools
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Case, Suite

if TYPE_CHECKING:
    from pytest_codemode_eval.dry_run.sandbox import Sandbox


@dataclass(frozen=True)
class Budgets:
    """Command-line overrides; a case's own value wins, then these, then the suite default.
    `seed` is the run's base seed, from which every request's own seed is derived."""

    max_tokens: int | None = None
    time_budget: float | None = None
    seed: int | None = None


def request_seed(base: int | None, case_id: str, repeat: int) -> int:
    """A seed of its own for every (case, repeat): sampled outputs then depend neither on the
    order cases run in nor on which xdist worker runs them, and repeats differ from each other."""
    digest = hashlib.sha256(f"{base or 0}/{case_id}/{repeat}".encode()).hexdigest()
    return int(digest[:8], 16)


def build_request(case: Case, suite: Suite, budgets: Budgets, repeat: int = 0) -> GenerationRequest:
    return GenerationRequest(
        case_id=case.id,
        messages=build_messages(suite.catalog, case.prompt),
        tools=offered_tools(suite.catalog),
        max_tokens=case.max_tokens or budgets.max_tokens or suite.max_tokens,
        time_budget=case.time_budget or budgets.time_budget or suite.time_budget,
        repeat=repeat,
        seed=request_seed(budgets.seed, case.id, repeat),
    )


def generate_safely(backend: Backend, request: GenerationRequest) -> Generation:
    """Call the backend; a crash becomes an `error` generation, never a lost session."""
    started = time.perf_counter()
    try:
        return backend.generate(request)
    except MissingReplay:
        raise
    except Exception as exc:
        return Generation(
            output="",
            seconds=time.perf_counter() - started,
            finish="error",
            error=f"{type(exc).__name__}: {exc}",
        )


def result_from_generation(
    case: Case,
    suite: Suite,
    generation: Generation,
    sandbox: Sandbox | None = None,
    repeat: int = 0,
) -> CaseResult:
    """`sandbox`: dry-run the code of every execute_code call (--codemode-dry-run)."""
    parsed = parse_output(generation.output, generation.server_tool_calls)
    runs = None
    if sandbox is not None:  # a failed or timed-out generation is scored without running
        runs = (
            {}
            if generation.finish in ("error", "timeout")
            else dry_run_calls(parsed, suite, sandbox)
        )
    score = score_case(case, suite.catalog, generation, parsed, runs)
    return CaseResult(
        id=case.id,
        category=case.category,
        prompt=case.prompt,
        score=score.value,
        verdict=score.verdict,
        note=score.note,
        seconds=round(generation.seconds, 3),
        finish=generation.finish,
        tools_called=score.tools_called,
        expected=case.expected,
        extra_calls=score.extra_calls,
        prompt_tokens=generation.prompt_tokens,
        generated_tokens=generation.generated_tokens,
        output=generation.output,
        think=parsed.think,
        error=generation.error,
        server_tool_calls=tuple(generation.server_tool_calls),
        dry_run=None if runs is None else tuple(run.to_dict() for run in runs.values()),
        repeat=repeat,
        endpoint=generation.endpoint,
        endpoint_failures=tuple(generation.endpoint_failures),
    )


def dry_run_calls(parsed: Parsed, suite: Suite, sandbox: Sandbox) -> dict[str, DryRun]:
    """The dry run of each distinct piece of code the output passes to execute_code and that
    Python parses (code that does not parse is scored `malformed` without running)."""
    runs: dict[str, DryRun] = {}
    for code in wrapped_code(parsed, suite.catalog):
        if code not in runs and not analyse_code(code).syntax_error:
            runs[code] = sandbox.run(code, suite.catalog, suite_workspace(suite))
    return runs


def wrapped_code(parsed: Parsed, catalog: Catalog) -> list[str]:
    return [
        code
        for call in parsed.calls
        if call.name == catalog.wrapper.name and call.complete and not call.problem
        if isinstance(code := call.arguments.get(catalog.code_parameter), str) and code.strip()
    ]


def suite_workspace(suite: Suite) -> Path:
    """The fixture workspace the fakes answer from: `workspace/` beside suite.toml, or beside a
    parent suite folder (a held-out suite nested in the reference suite's folder shares it)."""
    for folder in (suite.path.parent, *suite.path.parent.parents[:2]):
        if (folder / "workspace").is_dir():
            return folder / "workspace"
    return suite.path.parent / "workspace"


def evaluate_case(
    case: Case,
    suite: Suite,
    backend: Backend,
    budgets: Budgets,
    sandbox: Sandbox | None = None,
    repeat: int = 0,
) -> CaseResult:
    generation = generate_safely(backend, build_request(case, suite, budgets, repeat))
    return result_from_generation(case, suite, generation, sandbox, repeat)
