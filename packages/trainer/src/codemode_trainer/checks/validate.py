"""Check a chat JSONL dataset someone brings against the suite before it is trained on.

Each problem is a row-numbered `Finding` (row = line number in the file). Errors are what breaks
training or trains something other than what the eval asks (unreadable rows, unknown tools,
code that does not parse, a system prompt or tool schema other than the eval's); warnings are
legal but costly choices (calls typed as text, direct calls that score 0.5, call turns that
mlx-lm's ``mask_prompt`` never trains, result attributes the catalog's types do not have).

Every row's code is also dry-run (the eval's sandbox, with the same typed tool results): code
that raises when run (a result field the tool does not return, an undefined name, arguments the
signature rejects) is a ``runtime-error``. Code the sandbox cannot run is checked statically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from codemode_trainer.checks.code_checks import check_code, count_tool_calls
from codemode_trainer.checks.report_text import (
    Problem,
    describe_difference,
    render_summary,
    summarise,
)
from codemode_trainer.errors import DataError
from codemode_trainer.rows import (
    content_text,
    read_jsonl,
    uncovered_call_turns,
)
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run.sandbox import Sandbox
from pytest_codemode_eval.dry_run.trace import RunStatus
from pytest_codemode_eval.parse import TOOL_CALL_OPEN, ToolCall, parse_output
from pytest_codemode_eval.prompt import offered_tools, render_system_prompt

Severity = Literal["error", "warning"]
ROLES = frozenset({"system", "user", "assistant", "tool"})
KINDS: dict[str, Severity] = {
    "bad-json": "error", "bad-messages": "error", "missing-role": "error",
    "unknown-role": "error", "no-assistant": "error", "system-prompt-mismatch": "error",
    "tools-mismatch": "error", "unknown-tool": "error", "unknown-code-call": "error",
    "code-syntax-error": "error", "malformed-call": "error", "text-tool-call": "warning",
    "direct-call": "warning", "bad-arguments": "warning", "no-tool-in-code": "warning",
    "call-not-last": "warning", "result-attribute": "warning", "runtime-error": "error",
    "not-dry-run": "warning",
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One problem in one row; ``detail`` carries longer context such as a prompt diff."""

    row: int
    kind: str
    message: str
    detail: str = ""

    @property
    def severity(self) -> Severity:
        return KINDS[self.kind]


def validate_dataset(
    path: Path, catalog: Catalog, sandbox: Sandbox | None = None, workspace: Path | None = None
) -> list[Finding]:
    """Every finding in the file, in row order; with a sandbox, every row's code is dry-run with
    tool results from ``workspace``."""
    checker = _RowChecker(catalog, sandbox, workspace)
    lines = list(read_jsonl(path))
    rows = [line.row for line in lines if line.row is not None]
    uncovered = iter(uncovered_call_turns(rows))
    findings: list[Finding] = []
    for line in lines:
        if line.row is None:
            findings.append(Finding(line.number, "bad-json", line.error or "unreadable"))
        else:
            findings.extend(checker.check(line.number, line.row, next(uncovered)))
    return findings


class _RowChecker:
    def __init__(
        self, catalog: Catalog, sandbox: Sandbox | None = None, workspace: Path | None = None
    ) -> None:
        self.catalog = catalog
        self.sandbox, self.workspace = sandbox, workspace
        self.system = render_system_prompt(catalog)
        self.tools = offered_tools(catalog)
        self._diffs: dict[str, str] = {}

    def check(self, number: int, row: Mapping[str, Any], untrained: list[int]) -> list[Finding]:
        """``untrained``: call turns that neither end this row nor any other row of the file."""
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            return [Finding(number, "bad-messages", "no 'messages' list, or it is empty")]
        found = self._roles(number, messages)
        found += self._prompt(number, messages, row.get("tools"))
        for index, message in enumerate(messages):
            if isinstance(message, dict) and message.get("role") == "assistant":
                found += self._assistant(number, index, message)
        if untrained:
            turns = ", ".join(map(str, untrained))
            message = f"call turn(s) {turns} are not the last message and no row ends with them:"
            found.append(
                Finding(number, "call-not-last", f"{message} mask_prompt never trains them")
            )
        return found

    def _roles(self, number: int, messages: list[Any]) -> list[Finding]:
        found = []
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role is None:
                found.append(Finding(number, "missing-role", f"message {index} has no role"))
            elif role not in ROLES:
                found.append(Finding(number, "unknown-role", f"message {index}: role {role!r}"))
        if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            found.append(Finding(number, "no-assistant", "no assistant turn: nothing to train"))
        return found

    def _prompt(self, number: int, messages: list[Any], tools: Any) -> list[Finding]:
        found = []
        first = messages[0] if isinstance(messages[0], dict) else {}
        if first.get("role") != "system":
            found.append(Finding(number, "system-prompt-mismatch", "no system message"))
        elif (text := content_text(first)) != self.system:
            if text not in self._diffs:
                self._diffs[text] = describe_difference(text, self.system)
            found.append(
                Finding(
                    number,
                    "system-prompt-mismatch",
                    "system prompt differs from the eval's",
                    self._diffs[text],
                )
            )
        if tools is None:
            found.append(
                Finding(
                    number,
                    "tools-mismatch",
                    "no 'tools': the eval offers the "
                    f"{self.catalog.wrapper.name} schema and the template renders it",
                )
            )
        elif tools != self.tools:
            found.append(
                Finding(
                    number,
                    "tools-mismatch",
                    f"'tools' differ from the eval's [{self.catalog.wrapper.name}] schema",
                )
            )
        return found

    def _assistant(self, number: int, index: int, message: Mapping[str, Any]) -> list[Finding]:
        found = []
        text = content_text(message)
        calls = list(parse_output(text).calls) if TOOL_CALL_OPEN in text else []
        if calls:
            found.append(
                Finding(
                    number,
                    "text-tool-call",
                    f"message {index}: the call is "
                    "written in content instead of structured tool_calls",
                )
            )
        structured = message.get("tool_calls")
        if structured:
            if not isinstance(structured, list):
                return [*found, Finding(number, "malformed-call", "tool_calls is not a list")]
            calls += parse_output("", structured).calls
        for call in calls:
            found += self._call(number, index, call)
        return found

    def _call(self, number: int, index: int, call: ToolCall) -> list[Finding]:
        where = f"message {index}"
        if call.problem or not call.complete:
            return [Finding(number, "malformed-call", f"{where}: {call.problem or 'unclosed'}")]
        if call.name in self.catalog.tools:
            return [
                Finding(
                    number,
                    "direct-call",
                    f"{where}: {call.name} called directly, "
                    f"not inside {self.catalog.wrapper.name} (scores 0.5)",
                )
            ]
        if call.name != self.catalog.wrapper.name:
            return [Finding(number, "unknown-tool", f"{where}: unknown tool {call.name!r}")]
        code = call.arguments.get(self.catalog.code_parameter)
        if not isinstance(code, str) or not code.strip():
            return [Finding(number, "malformed-call", f"{where}: {call.name} without code")]
        return self._code(number, where, code)

    def _code(self, number: int, where: str, code: str) -> list[Finding]:
        report = check_code(code, self.catalog)
        if report.syntax_error:
            return [Finding(number, "code-syntax-error", f"{where}: {report.syntax_error}")]
        found = []
        if report.unknown_calls:
            names = ", ".join(report.unknown_calls)
            found.append(
                Finding(
                    number, "unknown-code-call", f"{where}: code calls {names} (not in the catalog)"
                )
            )
        if not report.tools:
            found.append(Finding(number, "no-tool-in-code", f"{where}: code calls no tool"))
        found += [
            Finding(number, "bad-arguments", f"{where}: {problem}")
            for problem in report.bad_arguments
        ]
        ran, dry_found = self._dry_run(number, where, code)
        found += dry_found
        if report.result_attributes and not ran:  # the dry run sees these exactly
            found.append(
                Finding(
                    number,
                    "result-attribute",
                    f"{where}: code reads {'; '.join(report.result_attributes)}",
                )
            )
        return found

    def _dry_run(self, number: int, where: str, code: str) -> tuple[bool, list[Finding]]:
        if self.sandbox is None:
            return False, []
        return _dry_run_findings(self.sandbox, number, where, code, self.catalog, self.workspace)


def _dry_run_findings(
    sandbox: Sandbox, number: int, where: str, code: str, catalog: Catalog, workspace: Path | None
) -> tuple[bool, list[Finding]]:
    """(whether the code really ran, its findings)."""
    run = sandbox.run(code, catalog, workspace)
    if run.status is RunStatus.COMPLETED:
        return True, []
    if run.status is RunStatus.RAISED:
        return True, [Finding(number, "runtime-error", f"{where}: raises {run.error_line}")]
    return False, [Finding(number, "not-dry-run", f"{where}: {run.error_line}; checked statically")]


def render_findings(findings: list[Finding], examples: int = 3) -> str:
    """The summary table of finding kinds with counts and rows, and a few examples of each."""
    problems = (Problem(f.kind, f.severity, str(f.row), f.message, f.detail) for f in findings)
    return render_summary(summarise(problems), examples)


def validation_summary(path: Path, suite_path: Path) -> tuple[str, int]:
    """``data validate``: the rendered findings plus tool balance, and the number of errors."""
    from pytest_codemode_eval.suite import load_suite

    catalog = load_suite(suite_path).catalog
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if not any(True for _ in read_jsonl(path)):
        raise DataError(f"{path}: no rows (an empty file); expected one JSON object per line")
    with Sandbox() as sandbox:
        findings = validate_dataset(path, catalog, sandbox, suite_path.parent / "workspace")
    lines = list(read_jsonl(path))
    errors = sum(1 for finding in findings if finding.severity == "error")
    counts = count_tool_calls((line.row for line in lines if line.row is not None), catalog)
    balance = ", ".join(
        f"{name} {count}"
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )
    head = f"{path}: {len(lines)} rows, {errors} error(s), {len(findings) - errors} warning(s)"
    return f"{head}\n{render_findings(findings)}\n\ntool calls: {balance}", errors
