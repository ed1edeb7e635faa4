"""Collect `*.cases.toml` files into one pytest item per case, marked with its category.

The suite (suite.toml above the case file) is loaded once per process and cached; collection is
deterministic (sorted files, suite order) so xdist workers always agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.suite import Case, Suite, load_suite
from pytest_codemode_eval.session import runner_for

SUITE_FILE = "suite.toml"
SUITES_KEY = pytest.StashKey[dict[Path, Suite | SuiteError]]()
TIMEOUT_BACKSTOP_SECONDS = 120.0  # pytest-timeout only catches a backend that ignores its budget


def find_suite_file(case_file: Path) -> Path | None:
    for folder in case_file.parents:
        candidate = folder / SUITE_FILE
        if candidate.is_file():
            return candidate
    return None


def suite_for(config: pytest.Config, case_file: Path) -> Suite:
    suite_file = find_suite_file(case_file)
    if suite_file is None:
        raise SuiteError(case_file, f"no {SUITE_FILE} in this folder or above it")
    cache = config.stash.setdefault(SUITES_KEY, {})
    if suite_file not in cache:
        try:
            cache[suite_file] = load_suite(suite_file)
        except SuiteError as exc:
            cache[suite_file] = exc
    loaded = cache[suite_file]
    if isinstance(loaded, SuiteError):
        raise loaded
    return loaded


class CaseFile(pytest.File):
    def collect(self) -> list[CaseItem]:
        suite = suite_for(self.config, self.path)
        items = []
        for case in suite.cases_in(self.path):
            self.config.addinivalue_line(
                "markers", f"{case.category}: {suite.categories[case.category]}"
            )
            item = CaseItem.from_parent(self, name=case.id, case=case, suite=suite)
            item.add_marker(case.category)
            item.add_marker(pytest.mark.timeout(_backstop(case, suite)))
            items.append(item)
        return items

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


def _backstop(case: Case, suite: Suite) -> float:
    return (case.time_budget or suite.time_budget) + TIMEOUT_BACKSTOP_SECONDS


class CaseBelowFullCredit(Exception):
    """A case scored below 1.0 (without --codemode-gate): its verdict and note are the message."""


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.suite = suite
        self.result: CaseResult | None = None

    def runtest(self) -> None:
        runner = runner_for(self.config)
        self.result = runner.run(self.case, self.suite)
        for name, value in (
            ("score", self.result.score),
            ("verdict", str(self.result.verdict)),
            ("category", self.case.category),
        ):
            self.user_properties.append((name, value))
        if not runner.options.gate and self.result.score < 1.0:
            raise CaseBelowFullCredit(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseBelowFullCredit) and self.result is not None:
            result = self.result
            output = " ".join(result.output.split())[:300]
            return f"score {result.score:.2f} [{result.verdict}] {result.note}\noutput: {output!r}"
        if excinfo.errisinstance((SuiteError, LookupError)) and not excinfo.errisinstance(KeyError):
            return str(excinfo.value)
        from pytest_codemode_eval.backends.replay import MissingReplay

        if isinstance(excinfo.value, MissingReplay):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.case.source, self.case.line - 1, f"{self.case.id} [{self.case.category}]"
