"""The runner's continuous batching: one stream over the cases to come, pulled only as far as
the case being run needs, and a broken stream never costs a case its result."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pytest_codemode_eval.generation import Generation, GenerationRequest
from pytest_codemode_eval.options import CodemodeOptions
from pytest_codemode_eval.session import CaseRunner
from pytest_codemode_eval.suite import Case, Suite


class StreamingBackend:
    """Yields the requests in reverse order (as rows finishing out of order would)."""

    name = "fake-stream"

    def __init__(self, fail_after: int | None = None) -> None:
        self.streams: list[list[str]] = []
        self.yielded: list[str] = []
        self.one_by_one: list[str] = []
        self.fail_after = fail_after
        self.closed = 0

    def generate(self, request: GenerationRequest) -> Generation:
        self.one_by_one.append(request.case_id)
        return Generation(f"alone {request.case_id}")

    def generate_stream(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[int, Generation]]:
        self.streams.append([r.case_id for r in requests])
        try:
            for count, index in enumerate(reversed(range(len(requests)))):
                if self.fail_after is not None and count == self.fail_after:
                    raise RuntimeError("decode failed")
                self.yielded.append(requests[index].case_id)
                yield index, Generation(f"batched {requests[index].case_id}")
        finally:
            self.closed += 1

    def identity(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def ahead(cases: Sequence[Case]) -> list[tuple[Case, int]]:
    """The upcoming samples a runner batches: each case once (no repeats)."""
    return [(case, 0) for case in cases]


def runner_with(backend: StreamingBackend, batch_size: int) -> CaseRunner:
    runner = CaseRunner(CodemodeOptions(backend="fake", batch_size=batch_size))
    runner._backend = backend  # type: ignore[assignment]
    return runner


def run_all(runner: CaseRunner, suite: Suite, cases: Sequence[Case]) -> list[str]:
    return [runner.run(case, suite, ahead(cases[i + 1 :])).output for i, case in enumerate(cases)]


def test_one_stream_serves_every_case_and_is_pulled_lazily(suite: Suite) -> None:
    cases = suite.cases[:5]
    backend = StreamingBackend()
    runner = runner_with(backend, batch_size=2)
    first = runner.run(cases[0], suite, ahead(cases[1:]))
    assert first.output == f"batched {cases[0].id}"
    assert backend.yielded == [c.id for c in reversed(cases)]  # case 0 came last here
    outputs = [
        first.output,
        *(runner.run(c, suite, ahead(cases[i + 2 :])).output for i, c in enumerate(cases[1:])),
    ]
    assert outputs == [f"batched {c.id}" for c in cases]
    assert backend.streams == [[c.id for c in cases]]  # one stream for the whole run
    assert backend.one_by_one == []


def test_a_stream_that_breaks_leaves_the_rest_to_one_by_one(suite: Suite) -> None:
    """Once batching failed, no new stream is opened for each later case (it would fail again,
    re-rendering and re-sending everything left); a warning says why."""
    cases = suite.cases[:6]
    backend = StreamingBackend(fail_after=2)  # yields cases 5 and 4, then fails
    runner = runner_with(backend, batch_size=4)
    with pytest.warns(pytest.PytestWarning, match="batched generation failed.*decode failed"):
        outputs = run_all(runner, suite, cases)
    assert outputs == [
        *(f"alone {c.id}" for c in cases[:4]),
        *(f"batched {c.id}" for c in cases[4:]),
    ]
    assert backend.one_by_one == [c.id for c in cases[:4]]
    assert len(backend.streams) == 1
    assert backend.closed == 1


def test_cases_with_the_same_id_in_two_suites_keep_their_own_outputs(suite: Suite) -> None:
    """Case ids are unique within a suite only; a second suite's cst-02 is another case."""
    other = dataclasses.replace(suite, path=suite.path.with_name("other-suite.toml"))
    cases = suite.cases[:3]
    backend = StreamingBackend()
    runner = runner_with(backend, batch_size=3)
    runner.run(cases[0], suite, ahead(cases[1:]))  # suite's stream: all three are done
    theirs = runner.run(cases[1], other, [])
    assert theirs.output == f"alone {cases[1].id}"  # not the first suite's batched output
    assert runner.run(cases[1], suite, ahead(cases[2:])).output == f"batched {cases[1].id}"


def test_batch_size_one_never_opens_a_stream(suite: Suite) -> None:
    cases = suite.cases[:3]
    backend = StreamingBackend()
    outputs = run_all(runner_with(backend, batch_size=1), suite, cases)
    assert outputs == [f"alone {c.id}" for c in cases]
    assert backend.streams == []


def test_closing_the_runner_closes_an_unfinished_stream(suite: Suite) -> None:
    cases = suite.cases[:3]
    backend = StreamingBackend()
    runner = runner_with(backend, batch_size=3)
    runner.run(cases[2], suite, [])  # not batched: nothing upcoming
    runner.run(cases[0], suite, ahead(cases[1:]))
    runner.close()
    assert backend.closed == 1
