"""Run one case end to end: request -> backend -> parse -> score -> CaseResult. No pytest here.

A backend that raises becomes an `error` verdict for that case only; the session, the loaded
model and the other results carry on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.backends.replay import MissingReplay
from pytest_codemode_eval.generation import Backend, Generation, GenerationRequest
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.prompt import build_messages, offered_tools
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Case, Suite


@dataclass(frozen=True)
class Budgets:
    """Command-line overrides; a case's own value wins, then these, then the suite default."""

    max_tokens: int | None = None
    time_budget: float | None = None


def build_request(case: Case, suite: Suite, budgets: Budgets) -> GenerationRequest:
    return GenerationRequest(
        case_id=case.id,
        messages=build_messages(suite.catalog, case.prompt),
        tools=offered_tools(suite.catalog),
        max_tokens=case.max_tokens or budgets.max_tokens or suite.max_tokens,
        time_budget=case.time_budget or budgets.time_budget or suite.time_budget,
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


def result_from_generation(case: Case, suite: Suite, generation: Generation) -> CaseResult:
    parsed = parse_output(generation.output, generation.server_tool_calls)
    score = score_case(case, suite.catalog, generation, parsed)
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
        extra_calls=score.extra_calls,
        prompt_tokens=generation.prompt_tokens,
        generated_tokens=generation.generated_tokens,
        output=generation.output,
        think=parsed.think,
        error=generation.error,
        server_tool_calls=tuple(generation.server_tool_calls),
    )


def evaluate_case(case: Case, suite: Suite, backend: Backend, budgets: Budgets) -> CaseResult:
    generation = generate_safely(backend, build_request(case, suite, budgets))
    return result_from_generation(case, suite, generation)
