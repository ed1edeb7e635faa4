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
from pytest_codemode_eval.options import OPTIONS_KEY
from pytest_codemode_eval.session import runner_for
from pytest_codemode_eval.suite import SUITE_FILE, Case, Suite, find_suite_file, load_suite
from pytest_codemode_eval.targets import find_targets, load_targets

SUITES_KEY = pytest.StashKey[dict[Path, Suite | SuiteError]]()
REPORTED_KEY = pytest.StashKey[set[Path]]()  # files whose suite error was already shown
TIMEOUT_BACKSTOP_SECONDS = 120.0  # pytest-timeout only catches a backend that ignores its budget


def suite_for(config: pytest.Config, case_file: Path) -> Suite:
    suite_file = find_suite_file(case_file)
    if suite_file is None:
        raise SuiteError(case_file, f"no {SUITE_FILE} in this folder or above it")
    cache = config.stash.setdefault(SUITES_KEY, {})
    if suite_file not in cache:
        try:
            cache[suite_file] = _load_checked(config, suite_file)
        except SuiteError as exc:
            cache[suite_file] = exc
    loaded = cache[suite_file]
    if isinstance(loaded, SuiteError):
        raise loaded
    return loaded


def _load_checked(config: pytest.Config, suite_file: Path) -> Suite:
    """Load the suite and check its targets file now, so a bad one stops the run before any case."""
    suite = load_suite(suite_file)
    options = config.stash.get(OPTIONS_KEY, None)
    targets = find_targets(options.targets if options else None, suite.path)
    if targets is not None:
        load_targets(targets, suite.categories)
    return suite


def register_marker(config: pytest.Config, name: str, description: str) -> None:
    """Declare a category marker once (strict markers accept it; `--markers` lists it)."""
    if not any(line.split(":", 1)[0].strip() == name for line in config.getini("markers")):
        config.addinivalue_line("markers", f"{name}: {description}")


class CaseFile(pytest.File):
    def collect(self) -> list[CaseItem]:
        try:
            suite = suite_for(self.config, self.path)
        except SuiteError as exc:
            # One broken suite is one error, shown by the first of its case files to be collected.
            reported = self.config.stash.setdefault(REPORTED_KEY, set())
            if exc.path in reported:
                return []
            reported.add(exc.path)
            raise
        options = self.config.stash.get(OPTIONS_KEY, None)
        repeats = options.repeats if options else 1
        items = []
        for case in suite.cases_in(self.path):
            register_marker(self.config, case.category, suite.categories[case.category])
            for repeat in range(repeats):
                item = CaseItem.from_parent(
                    self, name=item_name(case, repeat, repeats), case=case, suite=suite,
                    repeat=repeat,
                )  # fmt: skip
                item.add_marker(case.category)
                item.add_marker(pytest.mark.timeout(_backstop(case, suite)))
                items.append(item)
        return items

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


def item_name(case: Case, repeat: int, repeats: int) -> str:
    """`git-03`, or `git-03[2-5]` for the second of five repeats (`-k git-03` selects them all)."""
    return case.id if repeats == 1 else f"{case.id}[{repeat + 1}-{repeats}]"


def _backstop(case: Case, suite: Suite) -> float:
    return (case.time_budget or suite.time_budget) + TIMEOUT_BACKSTOP_SECONDS


class CaseBelowFullCredit(Exception):
    """A case scored below 1.0 (without --codemode-gate): its verdict and note are the message."""


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, suite: Suite, repeat: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.suite = suite
        self.repeat = repeat
        self.result: CaseResult | None = None

    def runtest(self) -> None:
        runner = runner_for(self.config)
        upcoming = self.upcoming() if runner.options.in_flight > 1 else []
        self.result = runner.run(self.case, self.suite, upcoming, self.repeat)
        for name, value in (
            ("score", self.result.score),
            ("verdict", str(self.result.verdict)),
            ("category", self.case.category),
        ):
            self.user_properties.append((name, value))
        if not runner.options.gating and self.result.score < 1.0:
            raise CaseBelowFullCredit(self.result)

    def upcoming(self) -> list[tuple[Case, int]]:
        """The cases of this suite that this process will run after this one, for batching.

        Serially that is the rest of the session; an xdist worker only knows it gets whole
        files with `--dist loadfile`, so there it looks ahead within this file only.
        """
        items = self.session.items
        same_file_only = hasattr(self.config, "workerinput")
        start = items.index(self) + 1 if self in items else len(items)
        found: list[tuple[Case, int]] = []
        for item in items[start:]:
            same_scope = not same_file_only or item.path == self.path
            if isinstance(item, CaseItem) and item.suite is self.suite and same_scope:
                found.append((item.case, item.repeat))
        return found

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from pytest_codemode_eval.session import BackendUnavailable

        if excinfo.errisinstance(BackendUnavailable):
            return f"ERROR: {excinfo.value}"
        if isinstance(excinfo.value, CaseBelowFullCredit) and self.result is not None:
            result = self.result
            output = " ".join(result.output.split())[:300]
            return f"score {result.score:.2f} [{result.verdict}] {result.note}\noutput: {output!r}"
        if excinfo.errisinstance((SuiteError, LookupError)) and not excinfo.errisinstance(KeyError):
            return str(excinfo.value)
        if excinfo.errisinstance(pytest.UsageError):  # e.g. no backend chosen: a message, not a bug
            return f"ERROR: {excinfo.value}"
        from pytest_codemode_eval.backends.replay import MissingReplay

        if isinstance(excinfo.value, MissingReplay):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.case.source, self.case.line - 1, f"{self.name} [{self.case.category}]"
