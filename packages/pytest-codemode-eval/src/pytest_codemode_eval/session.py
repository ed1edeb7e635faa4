"""The per-process runner: owns the backend (created once per process, once per xdist worker).

With `--codemode-batch-size N` and a backend that can generate several cases together, the
runner generates the case about to run together with the next N-1 cases this process will
run, and hands those outputs out as their items come up. Scores, budgets and records stay per
case; only the generation is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.evaluate import (
    Budgets,
    build_request,
    generate_safely,
    result_from_generation,
)
from pytest_codemode_eval.generation import Backend, Generation, GenerationRequest
from pytest_codemode_eval.options import OPTIONS_KEY, CodemodeOptions
from pytest_codemode_eval.prompt import renderer_fingerprint
from pytest_codemode_eval.suite import Case, Suite

RUNNER_KEY = pytest.StashKey["CaseRunner"]()


@runtime_checkable
class BatchingBackend(Protocol):
    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...


class BackendUnavailable(Exception):
    """The backend could not be created; every case in this process reports the same one line."""


class CaseRunner:
    """Evaluates cases in this process with a backend made on first use and closed at the end."""

    def __init__(self, options: CodemodeOptions) -> None:
        self.options = options
        self.budgets = Budgets(options.max_tokens, options.time_budget)
        self._backend: Backend | None = None
        self._failure: str | None = None
        self._identities: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, Generation] = {}

    @property
    def backend(self) -> Backend:
        if self._failure is not None:
            raise BackendUnavailable(self._failure)
        if self._backend is None:
            if self.options.backend is None:
                raise pytest.UsageError(
                    "no backend chosen: pass --codemode-backend=replay|mlx|openai "
                    "(or set codemode_backend in the ini file)"
                )
            from pytest_codemode_eval.backends.factory import make_backend

            try:
                self._backend = make_backend(self.options)
            except Exception as exc:  # a model that fails to load: one clear line per case
                self._failure = (
                    f"backend {self.options.backend} unavailable: {type(exc).__name__}: {exc}"
                )
                raise BackendUnavailable(self._failure) from exc
        return self._backend

    def run(self, case: Case, suite: Suite, upcoming: Sequence[Case] = ()) -> CaseResult:
        """Score one case; `upcoming` are the cases this process runs next (for batching)."""
        generation = self._pending.pop(case.id, None)
        if generation is None:
            batch = [case, *(c for c in upcoming if c.id not in self._pending)]
            generation = self._generate(batch[: self.options.batch_size], suite)
        return result_from_generation(case, suite, generation)

    def _generate(self, batch: list[Case], suite: Suite) -> Generation:
        backend = self.backend
        requests = [build_request(case, suite, self.budgets) for case in batch]
        if len(requests) == 1 or not isinstance(backend, BatchingBackend):
            return generate_safely(backend, requests[0])
        try:
            generations = backend.generate_many(requests)
        except Exception:  # fall back to one by one: a failing case must not take its batch down
            return generate_safely(backend, requests[0])
        self._pending.update(
            {case.id: g for case, g in zip(batch[1:], generations[1:], strict=True)}
        )
        return generations[0]

    def identity(self, suite: Suite) -> dict[str, Any]:
        """What this process measured; travels with every result to the controller."""
        key = str(suite.path)
        if key not in self._identities:
            self._identities[key] = {
                "suite": suite.name,
                "suite_path": str(suite.path),
                "suite_hash": suite.fingerprint,
                "renderer_hash": renderer_fingerprint(suite.catalog),
                "categories": list(suite.categories),
                "backend": self.backend.name,
                "model": self.backend.identity(),
            }
        return self._identities[key]

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def runner_for(config: pytest.Config) -> CaseRunner:
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is None:
        runner = CaseRunner(config.stash[OPTIONS_KEY])
        config.stash[RUNNER_KEY] = runner
    return runner
