"""pytest hook wiring only: options, collection, per-case report attributes, controller reporter."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from pytest_codemode_eval import interrupts
from pytest_codemode_eval.collect import CaseFile, CaseItem, register_marker
from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.options import (
    OPTIONS_KEY,
    CodemodeOptions,
    add_options,
    resolve_options,
)
from pytest_codemode_eval.reporter import (
    CASE_ATTRIBUTE,
    IDENTITY_ATTRIBUTE,
    POSITION_ATTRIBUTE,
    RESULT_ATTRIBUTE,
    EvalReporter,
)
from pytest_codemode_eval.safe_text import json_text
from pytest_codemode_eval.session import RUNNER_KEY, runner_for
from pytest_codemode_eval.suite import CASE_FILE_SUFFIX, find_suite_file, read_categories

REPORTER_KEY = pytest.StashKey[EvalReporter]()
OTHER_SUITES_KEY = pytest.StashKey[set[Path]]()  # suites whose case files were not collected


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    options = resolve_options(config)
    config.stash[OPTIONS_KEY] = options
    interrupts.install(config)
    _register_category_markers(config, options.suite)
    if not hasattr(config, "workerinput"):
        _whole_files_per_worker(config, options)
        reporter = EvalReporter(config, options)
        config.stash[REPORTER_KEY] = reporter
        config.pluginmanager.register(reporter, "codemode-eval-reporter")


def _whole_files_per_worker(config: pytest.Config, options: CodemodeOptions) -> None:
    """Batching looks ahead at the cases a worker will run; xdist's default `--dist load` (and
    `worksteal`) hand out items in chunks nobody can predict, so a worker would generate cases
    another worker runs. With batching on they become `loadfile`: each case file goes to one
    worker."""
    if options.in_flight > 1 and getattr(config.option, "dist", "no") in ("load", "worksteal"):
        config.option.dist = "loadfile"


def _register_category_markers(config: pytest.Config, suite_file: Path | None) -> None:
    """Declare the suite's categories as markers up front, so `pytest --markers` lists them.

    Collection registers them too (for suites found without `codemode_suite`); a broken suite
    file is reported there, with its file and line, so it is ignored here.
    """
    if suite_file is None or not suite_file.is_file():
        return
    try:
        categories = read_categories(suite_file)
    except SuiteError:
        return
    for name, description in categories.items():
        register_marker(config, name, description)


def pytest_unconfigure(config: pytest.Config) -> None:
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is not None:
        runner.close()
    reporter = config.stash.get(REPORTER_KEY, None)
    if reporter is not None:
        config.pluginmanager.unregister(reporter)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if not file_path.name.endswith(CASE_FILE_SUFFIX):
        return None
    if not _in_selected_suite(parent.config, file_path):
        return None
    return CaseFile.from_parent(parent, path=file_path)


def _in_selected_suite(config: pytest.Config, case_file: Path) -> bool:
    """A suite nested in another suite's folder runs only when `codemode_suite` selects it.

    evalsuite/ holds the reference suite and evalsuite/heldout/ a larger one: `pytest evalsuite`
    runs the reference suite alone (also in a copy of the folder, where no ini selects it), and
    `--codemode-suite=evalsuite/heldout/suite.toml` runs the held-out one alone. A selected suite
    also drops the other suites of its folder tree. Skipped suites are remembered so that a run
    that collects nothing can say what to select.
    """
    found = find_suite_file(case_file)
    if found is None:
        return True  # collection reports the missing suite.toml
    owner, selected = found.resolve(), config.stash[OPTIONS_KEY].suite
    if selected is not None and _same_tree(owner.parent, selected.parent):
        keep = owner == selected
    else:
        keep = find_suite_file(owner.parent) is None  # no suite.toml in a folder above
    if not keep:
        config.stash.setdefault(OTHER_SUITES_KEY, set()).add(owner)
    return keep


def _same_tree(first: Path, second: Path) -> bool:
    return first.is_relative_to(second) or second.is_relative_to(first)


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """When every case file found belongs to a suite not selected, say how to select it."""
    skipped: set[Path] = config.stash.get(OTHER_SUITES_KEY, set())
    others = sorted(skipped)
    if not others or any(isinstance(item, CaseItem) for item in items):
        return []
    selected = config.stash[OPTIONS_KEY].suite
    return [
        f"codemode: the case files found belong to {', '.join(map(str, others))}, not to the "
        f"selected suite {selected}; select one with --codemode-suite=PATH/suite.toml"
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """No case starts after a stop signal, even one that landed where Python swallowed it."""
    if isinstance(item, CaseItem):
        interrupts.stop_if_received()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Load the model before the first case runs, so a multi-GB load counts against no case's
    backstop timeout. In each process that runs cases: serially, or in each xdist worker."""
    config = session.config
    if config.option.collectonly or config.pluginmanager.has_plugin("dsession"):
        return  # nothing runs here (an xdist controller hands the cases to workers)
    if not any(isinstance(item, CaseItem) for item in session.items):
        return
    runner = runner_for(config)
    if runner.options.backend is not None:  # else each case says which option is missing
        runner.load()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the case result to the report: report attributes survive xdist serialisation."""
    report = yield
    if isinstance(item, CaseItem):
        setattr(report, CASE_ATTRIBUTE, item.case.id)
        setattr(report, POSITION_ATTRIBUTE, item.suite.cases.index(item.case))
        if call.when == "call" and item.result is not None:
            # as JSON text: execnet sends strings as UTF-8, which a lone surrogate in model
            # output cannot be; json_text escapes it and the controller reads it back intact
            setattr(report, RESULT_ATTRIBUTE, json_text(item.result.to_dict()))
            setattr(report, IDENTITY_ATTRIBUTE, runner_for(item.config).identity(item.suite))
    return report
