"""Controller-only reporter: gathers results from (worker) reports, summarises once, writes files.

Registered only where `not hasattr(config, "workerinput")`, like pytest's junitxml, so a run with
`-n 2` produces exactly the files a serial run does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_codemode_eval import interrupts
from pytest_codemode_eval.aggregate import CaseResult, Summary, summarize
from pytest_codemode_eval.backends.replay import read_replay, record_line
from pytest_codemode_eval.compare import (
    Comparison,
    RunResults,
    compare_runs,
    load_results,
    results_from_document,
)
from pytest_codemode_eval.compare_report import (
    render_comparison_markdown,
    render_comparison_terminal,
)
from pytest_codemode_eval.confusion import confusion_matrix
from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.gate import (
    EXIT_GATE_MISSED,
    EXIT_GATE_PASSED,
    combine_exit_statuses,
    gate_exit_status,
    gate_lines,
)
from pytest_codemode_eval.html_report import render_html_report
from pytest_codemode_eval.options import CodemodeOptions
from pytest_codemode_eval.pictures import (
    draw_categories,
    draw_confusion,
    picture_paths,
    render_picture_links,
)
from pytest_codemode_eval.report import render_markdown, render_terminal, results_document
from pytest_codemode_eval.safe_text import json_text
from pytest_codemode_eval.session import CACHED_BACKENDS
from pytest_codemode_eval.suite import load_suite
from pytest_codemode_eval.targets import Targets, find_targets, load_targets

CASE_ATTRIBUTE = "codemode_case"
RESULT_ATTRIBUTE = "codemode_result"
IDENTITY_ATTRIBUTE = "codemode_identity"
POSITION_ATTRIBUTE = "codemode_position"
_KEEP_EXIT = {
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
}


class EvalReporter:
    def __init__(self, config: pytest.Config, options: CodemodeOptions) -> None:
        self.config = config
        self.options = options
        self.results: dict[tuple[str, int], tuple[int, CaseResult]] = {}  # (id, repeat)
        self.identities: list[dict[str, Any]] = []
        self.ran: dict[str, int] = {}  # every case that reported, with its suite position
        self.summary: Summary | None = None
        self.baseline: RunResults | None = load_baseline(options.baseline)
        self.comparison: Comparison | None = None
        self.failures: dict[str, str] = {}  # case id -> why it gave no result (first line)
        self.no_result: str | None = None  # why no case at all gave a result
        self.interrupted = False
        self.started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_id = getattr(report, CASE_ATTRIBUTE, None)
        position = getattr(report, POSITION_ATTRIBUTE, 0)
        if isinstance(case_id, str):
            self.ran.setdefault(case_id, position)
        result = getattr(report, RESULT_ATTRIBUTE, None)
        if isinstance(result, str):
            result = json.loads(result)
        if report.failed and not isinstance(result, dict) and isinstance(case_id, str):
            self.failures.setdefault(case_id, _first_line(report.longreprtext))
        if report.when != "call" or not isinstance(result, dict):
            return
        case = CaseResult.from_dict(result)
        self.results[(case.id, case.repeat)] = (position, case)
        identity = getattr(report, IDENTITY_ATTRIBUTE, None)
        if isinstance(identity, dict) and identity not in self.identities:
            self.identities.append(identity)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.ran:
            return
        if not self.results:  # say why first: the backend's own error, not a side effect
            reasons = list(dict.fromkeys(self.failures.values()))
            self.no_result = reasons[0] if reasons else "every selected case ended without one"
            if self.options.gating and exitstatus not in _KEEP_EXIT:
                session.exitstatus = EXIT_GATE_MISSED
            return
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or interrupts.received()
        self.summary = self._summarize()
        if self.baseline is not None:
            current = results_from_document(results_document(self.summary), "this run")
            self.comparison = compare_runs(self.baseline, current)
        self._write_files(self.summary)
        if exitstatus in _KEEP_EXIT:
            return
        statuses = []
        if self.options.gating:
            statuses.append(gate_exit_status(self.summary, self.options.gate_mode))
        if self.options.fail_on_regression and self.comparison is not None:
            worse = self.comparison.overall.verdict == "worse"
            statuses.append(EXIT_GATE_MISSED if worse else EXIT_GATE_PASSED)
        if statuses:
            session.exitstatus = combine_exit_statuses(statuses)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.no_result is not None:
            terminalreporter.write_sep("=", "codemode eval")
            terminalreporter.write_line(
                f"codemode eval: no case produced a result: {self.no_result}", red=True
            )
            return
        if self.summary is None:
            return
        terminalreporter.write_sep("=", "codemode eval")
        terminalreporter.write_line(render_terminal(self.summary))
        cache = self.summary.identity.get("cache")
        if cache and self.summary.identity.get("backend") in CACHED_BACKENDS:
            hits = sum(1 for case in self.summary.cases if case.cached)
            terminalreporter.write_line(
                f"codemode cache: {hits} of {len(self.summary.cases)} outputs from the cache "
                f"({cache})"
            )
        if self.comparison is not None:
            terminalreporter.write_line(render_comparison_terminal(self.comparison))
            if self.options.fail_on_regression and self.comparison.overall.verdict == "worse":
                terminalreporter.write_line(
                    "codemode gate: overall worse than the baseline", red=True
                )
        if self.options.gating:
            for line in gate_lines(self.summary, self.options.gate_mode):
                terminalreporter.write_line(line, red=True)
            for case_id in self.summary.missing:
                terminalreporter.write_line(
                    f"codemode gate: case {case_id} produced no result", red=True
                )

    def _summarize(self) -> Summary:
        ordered = sorted(self.results.values(), key=lambda pair: (pair[0], pair[1].repeat))
        identity = dict(self.identities[0]) if self.identities else {}
        warnings = []
        if len(self.identities) > 1:
            warnings.append(
                "workers measured different models or suites: results are not comparable"
            )
        targets = self._targets(identity)
        warnings += _baseline_warnings(targets, identity)
        suite_cases = _suite_cases(identity.get("suite_path"))
        if suite_cases is not None and self.options.backend == "replay" and self.options.replay:
            warnings += _unknown_replay_ids(self.options.replay, suite_cases)
        if self.interrupted:
            not_run = [c for c in suite_cases or {} if c not in self.ran]
            identity.update(incomplete=True, not_run=not_run)
            warnings.append(
                f"INCOMPLETE: the run was interrupted after {len(self.ran)} case(s); "
                f"{len(not_run)} never ran: {', '.join(not_run) or '—'}"
            )
        identity.update(started=self.started, warnings=warnings)
        order = [case_id for case_id, _ in sorted(self.ran.items(), key=lambda pair: pair[1])]
        return summarize(
            [r for _, r in ordered],
            identity.get("categories", []),
            targets,
            order,
            identity,
            suite_cases,
        )

    def _targets(self, identity: dict[str, Any]) -> Targets:
        path = find_targets(self.options.targets, identity.get("suite_path"))
        if path is None:
            return Targets()
        try:
            return load_targets(path, identity.get("categories", []))
        except SuiteError as exc:
            raise pytest.UsageError(str(exc)) from exc

    def _write_files(self, summary: Summary) -> None:
        sections = []
        if self.comparison is not None:
            sections.append(render_comparison_markdown(self.comparison))
        if self.options.report:
            sections.append(
                render_picture_links(_draw_pictures_beside(summary, self.options.report))
            )
        markdown = render_markdown(summary, sections)
        if self.options.report:
            _write(self.options.report, markdown)
        if self.options.results:
            document = results_document(summary)
            if self.comparison is not None:
                document["comparison"] = self.comparison.to_dict()
            _write(self.options.results, json_text(document, indent=2) + "\n")
        if self.options.html:
            html = render_html_report(summary, self.comparison, self.options.baseline)
            _write(self.options.html, html)
        if self.options.record:
            lines = [record_line(c.id, _record_fields(c)) for c in summary.cases]
            _write(self.options.record, "\n".join(lines) + "\n")
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            _append(Path(step_summary), markdown)


def _draw_pictures_beside(summary: Summary, report: Path) -> dict[str, Path]:
    paths = picture_paths(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    drawn = {}
    if draw_categories(summary, paths["categories"]):
        drawn["categories"] = paths["categories"]
    if draw_confusion(confusion_matrix(summary.cases), paths["confusion"]):
        drawn["confusion"] = paths["confusion"]
    return drawn


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no result"


def _suite_cases(suite_path: Any) -> dict[str, str] | None:
    """Every case of the suite that was measured (id -> category), so a partial run is seen."""
    if not isinstance(suite_path, str):
        return None
    try:
        suite = load_suite(Path(suite_path))
    except SuiteError:
        return None
    return {case.id: case.category for case in suite.cases}


def _unknown_replay_ids(replay: Path, suite_cases: dict[str, str]) -> list[str]:
    unknown = [case_id for case_id in read_replay(replay) if case_id not in suite_cases]
    if not unknown:
        return []
    shown = ", ".join(unknown[:10]) + (
        f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    )
    return [f"the replay file {replay} has outputs for ids that are not in the suite: {shown}"]


def load_baseline(path: Path | None) -> RunResults | None:
    """The baseline results file, read before any case runs: a bad one is a usage error now."""
    if path is None:
        return None
    try:
        return load_results(path)
    except SuiteError as exc:
        raise pytest.UsageError(f"--codemode-baseline: {exc}") from None


def _record_fields(case: CaseResult) -> dict[str, Any]:
    fields: dict[str, Any] = {"output": case.output, "seconds": case.seconds, "finish": case.finish}
    if case.error is not None:
        fields["error"] = case.error
    if case.server_tool_calls:
        fields["tool_calls"] = [dict(call) for call in case.server_tool_calls]
    if case.prompt_tokens is not None:
        fields["prompt_tokens"] = case.prompt_tokens
    if case.generated_tokens is not None:
        fields["generated_tokens"] = case.generated_tokens
    return fields


def _baseline_warnings(targets: Targets, identity: dict[str, Any]) -> list[str]:
    baseline = targets.baseline
    if baseline is None:
        return []
    found = []
    for key, label in (("suite_hash", "suite"), ("renderer_hash", "prompt renderer")):
        recorded = getattr(baseline, key)
        if recorded and identity.get(key) and recorded != identity[key]:
            found.append(
                f"baseline {baseline.name} was measured with a different {label} "
                f"({recorded} vs {identity[key]}): the comparison is not like for like"
            )
    return found


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _append(path: Path, text: str) -> None:
    """Append as its own markdown block: a blank line after whatever the file already holds."""
    existing = path.stat().st_size if path.is_file() else 0
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("\n" if existing else "") + text)
