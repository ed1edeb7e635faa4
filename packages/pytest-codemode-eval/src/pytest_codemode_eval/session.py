"""The per-process runner: owns the backend (created once per process, once per xdist worker)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.evaluate import Budgets, evaluate_case
from pytest_codemode_eval.generation import Backend
from pytest_codemode_eval.options import OPTIONS_KEY, CodemodeOptions
from pytest_codemode_eval.prompt import renderer_fingerprint
from pytest_codemode_eval.suite import Case, Suite

RUNNER_KEY = pytest.StashKey["CaseRunner"]()


class CaseRunner:
    """Evaluates cases in this process with a backend made on first use and closed at the end."""

    def __init__(self, options: CodemodeOptions) -> None:
        self.options = options
        self._backend: Backend | None = None
        self._identity: dict[str, Any] | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            if self.options.backend is None:
                raise pytest.UsageError(
                    "no backend chosen: pass --codemode-backend=replay|mlx|openai "
                    "(or set codemode_backend in the ini file)"
                )
            from pytest_codemode_eval.backends.factory import make_backend

            self._backend = make_backend(self.options)
        return self._backend

    def run(self, case: Case, suite: Suite) -> CaseResult:
        budgets = Budgets(self.options.max_tokens, self.options.time_budget)
        return evaluate_case(case, suite, self.backend, budgets)

    def identity(self, suite: Suite) -> dict[str, Any]:
        """What this process measured; travels with every result to the controller."""
        if self._identity is None:
            self._identity = {
                "suite": suite.name,
                "suite_path": str(suite.path),
                "suite_hash": suite.fingerprint,
                "renderer_hash": renderer_fingerprint(suite.catalog),
                "categories": list(suite.categories),
                "backend": self.backend.name,
                "model": self.backend.identity(),
            }
        return self._identity

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
