"""Preflight: check a model's tokenizer and a train/valid set together before any training.

Each check guards a failure that otherwise shows up only after hours, as a bad eval score:
(tokens) call markers that are not single tokens; (parity) rows whose rendered prompt is not
the eval's prompt; (length) rows mlx-lm would truncate; (masking) call turns ``mask_prompt``
never trains; (parse) targets the eval's own parser cannot read back to the tools they name;
(syntax) calls written in another syntax than the chat template asks for.
All rows are checked and every problem is reported, so one run lists everything to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemode_trainer.chat.render import ChatRenderer, call_syntaxes, first_difference, what_differs
from codemode_trainer.checks.code_checks import named_tools
from codemode_trainer.checks.report_text import Problem, render_summary, summarise
from codemode_trainer.errors import TrainerError
from codemode_trainer.rows import (
    Message,
    call_turns,
    messages_of,
    prompt_prefix,
    read_jsonl,
    split_multi_turn,
    uncovered_call_turns,
)
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.identity import TOKENIZER_FILES, has_tokenizer
from pytest_codemode_eval.prompt import build_messages, offered_tools

__all__ = ["PreflightError", "PreflightReport", "preflight", "split_multi_turn"]

MARKERS = ("<tool_call>", "</tool_call>", "<|im_start|>", "<|im_end|>")
OPTIONAL_MARKERS = ("<think>", "</think>", "<tool_response>", "</tool_response>")
DEFAULT_MAX_SEQ_LENGTH = 2048  # mlx-lm's default


class PreflightError(TrainerError):
    """Preflight cannot start (no model, no tokenizer, no data); the message is one line."""


@dataclass(frozen=True)
class PreflightReport:
    model_dir: Path
    rows: int
    longest: int  # tokens in the longest rendered row
    max_seq_length: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self, examples: int = 3) -> str:
        head = (
            f"preflight {self.model_dir}: {self.rows} rows, longest {self.longest} tokens "
            f"(max_seq_length {self.max_seq_length}): "
        )
        if self.ok:
            return head + "all checks passed"
        checks = len({p.kind for p in self.problems})
        body = render_summary(summarise(self.problems), examples)
        return head + f"{len(self.problems)} problem(s) in {checks} check(s)\n{body}"


def preflight(
    model_dir: Path,
    train_file: Path,
    valid_file: Path,
    catalog: Catalog,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
) -> PreflightReport:
    """Run every check on every row of both files; never stops at the first problem."""
    tokenizer = load_tokenizer(model_dir)
    checker = _Checker(tokenizer, catalog, max_seq_length)
    problems = checker.tokens()
    rows = 0
    for path in (train_file, valid_file):
        if not path.is_file():
            raise PreflightError(f"{path}: data file not found")
        lines = list(read_jsonl(path))
        if not lines and path == train_file:
            raise PreflightError(
                f"{path}: no rows (an empty file); expected one JSON object per line"
            )
        uncovered = iter(uncovered_call_turns([ln.row for ln in lines if ln.row is not None]))
        for line in lines:
            where = f"{path.name}:{line.number}"
            rows += 1
            if line.row is None:
                problems.append(Problem("format", "error", where, line.error or "unreadable"))
            else:
                problems += checker.row(where, line.row, next(uncovered))
    return PreflightReport(model_dir, rows, checker.longest, max_seq_length, tuple(problems))


def load_tokenizer(model_dir: Path) -> Any:
    """The model's Hugging Face tokenizer with its chat template, as mlx-lm loads it."""
    if not model_dir.is_dir():
        raise PreflightError(f"{model_dir}: model directory not found")
    if not has_tokenizer(model_dir):  # preflight needs the tokenizer, not the weights
        raise PreflightError(f"{model_dir}: no tokenizer ({', '.join(TOKENIZER_FILES)})")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    except Exception as exc:  # any loader failure is one line naming the model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PreflightError(f"{model_dir}: cannot load the tokenizer: {first}") from exc
    if not getattr(tokenizer, "chat_template", None):
        raise PreflightError(f"{model_dir}: the tokenizer has no chat template")
    return tokenizer


class _Checker:
    def __init__(self, tokenizer: Any, catalog: Catalog, max_seq_length: int) -> None:
        self.chat = ChatRenderer(tokenizer)
        self.catalog, self.max_seq_length = catalog, max_seq_length
        self.eval_tools = offered_tools(catalog)
        self.longest = 0

    def tokens(self) -> list[Problem]:
        """(a) Each call and chat marker the template uses must be one token."""
        markers = [*MARKERS, *(m for m in OPTIONAL_MARKERS if m in self.chat.template)]
        found = []
        for marker in markers:
            pieces = self.chat.pieces(marker)
            if len(pieces) != 1:
                message = f"{marker!r} is {len(pieces)} tokens {pieces}, not one"
                found.append(_problem("tokens", "tokenizer", message))
        return found

    def row(self, where: str, row: Mapping[str, Any], untrained: list[int]) -> list[Problem]:
        """Every check of one row; ``untrained`` are call turns no row of the file ends with."""
        messages, tools = messages_of(row), row.get("tools")
        if not any(m.get("role") == "assistant" for m in messages):
            return [_problem("format", where, "no messages or no assistant turn")]
        try:
            full = self.chat.render(messages, tools, prompt=False)
        except Exception as exc:  # a template error is a finding about this row
            return [_problem("render", where, f"chat template failed: {exc}")]
        found = self._length(where, full) + self._parity(where, messages, tools)
        if untrained:
            turns = ", ".join(map(str, untrained))
            found.append(
                _problem(
                    "masking",
                    where,
                    f"call turn(s) {turns} are not the last "
                    "message and no row ends with them: mask_prompt trains only "
                    "the last one (split rows with split_multi_turn)",
                )
            )
        for index in call_turns(messages):
            found += self._parse(where, messages, tools, index, full)
        return found

    def _length(self, where: str, full: str) -> list[Problem]:
        """(c) mlx-lm cuts rows at max_seq_length; the cut-off part is the target."""
        count = self.chat.count_tokens(full)
        self.longest = max(self.longest, count)
        if count <= self.max_seq_length:
            return []
        cut = count - self.max_seq_length
        message = f"{count} tokens > max_seq_length {self.max_seq_length}: the last {cut} "
        return [_problem("length", where, message + "tokens (the target) would be cut off")]

    def _parity(self, where: str, messages: Sequence[Message], tools: Any) -> list[Problem]:
        """(b) The row's prompt must render exactly like the eval's prompt for its user text."""
        prefix = prompt_prefix(messages)
        users = [m for m in prefix if m.get("role") == "user"]
        if not users:
            return [_problem("parity", where, "no user turn before the first answer")]
        text = users[0].get("content")
        evaluated = build_messages(self.catalog, text if isinstance(text, str) else "")
        try:
            row_prompt = self.chat.render(prefix, tools, prompt=True, enable_thinking=False)
            eval_prompt = self.chat.render(evaluated, self.eval_tools, True, enable_thinking=False)
        except Exception as exc:
            return [_problem("render", where, f"chat template failed: {exc}")]
        if row_prompt == eval_prompt:
            return []
        message = what_differs(prefix, tools, evaluated, self.eval_tools)
        return [_problem("parity", where, message, first_difference(row_prompt, eval_prompt))]

    def _parse(
        self, where: str, messages: Sequence[Message], tools: Any, index: int, full: str
    ) -> list[Problem]:
        """(e) The rendered target must parse back, with the eval's parser, to its tools."""
        try:
            target = self.chat.target(messages, tools, index, full)
        except Exception as exc:
            return [_problem("parse", where, f"turn {index}: {exc}")]
        expected, _ = named_tools(messages[index], self.catalog)
        got, problem = named_tools({"role": "assistant", "content": target}, self.catalog)
        if problem:
            return [_problem("parse", where, f"turn {index}: {problem}", repr(target[:160]))]
        if got != expected:
            message = f"turn {index}: target parses to {list(got)}, the row names {list(expected)}"
            return [_problem("parse", where, message, repr(target[:160]))]
        other = sorted(call_syntaxes(target) - {self.chat.call_syntax})
        if other:
            message = (
                f"turn {index}: call written in {', '.join(other)} syntax, the chat "
                f"template's is {self.chat.call_syntax} (a server parser for this "
                "template would not read it)"
            )
            return [_problem("syntax", where, message, repr(target[:160]))]
        return []


def _problem(check: str, where: str, message: str, detail: str = "") -> Problem:
    return Problem(check, "error", where, message, detail)


def preflight_for_suite(
    model_dir: Path, data_dir: Path, suite_path: Path, max_seq_length: int
) -> PreflightReport:
    """``preflight``: the suite's catalog against ``DIR/train.jsonl`` and ``DIR/valid.jsonl``."""
    from pytest_codemode_eval.suite import load_suite

    if not data_dir.is_dir():
        raise PreflightError(f"{data_dir}: data folder not found")
    if max_seq_length < 1:
        raise PreflightError(f"--max-seq-length must be at least 1, got {max_seq_length}")
    catalog = load_suite(suite_path).catalog
    return preflight(
        model_dir, data_dir / "train.jsonl", data_dir / "valid.jsonl", catalog, max_seq_length
    )
