"""Chat rows as mlx-lm reads them (`{"messages": [...], "tools": [...]}`) and their invariants.

Data build, validation, contamination and preflight all read the same JSONL rows; this module is
their one shared view of a row, so "which turn holds a call" or "which turns are user queries"
means the same thing everywhere. Rows stay plain dicts: they are JSON at the file boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_codemode_eval.parse import TOOL_CALL_OPEN

Row = dict[str, Any]
Message = Mapping[str, Any]

TOOL_RESPONSE_OPEN = "<tool_response>"


@dataclass(frozen=True)
class JsonLine:
    """One line of a JSONL file: its 1-based number and the object on it (None if unreadable)."""

    number: int
    row: Row | None
    error: str | None = None


def read_jsonl(path: Path) -> Iterator[JsonLine]:
    """Every line of ``path``, numbered like an editor; bad lines come back with their error.

    Blank lines are reported too: mlx-lm's loader calls ``json.loads`` on every line and fails.
    """
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                yield JsonLine(number, None, "empty line (mlx-lm's loader fails on it)")
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                yield JsonLine(number, None, f"invalid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield JsonLine(number, None, f"a JSON {type(value).__name__}, not an object")
                continue
            yield JsonLine(number, value)


def load_rows(path: Path) -> list[tuple[int, Row]]:
    """The readable rows of a JSONL file with their line numbers (unreadable lines skipped)."""
    return [(line.number, line.row) for line in read_jsonl(path) if line.row is not None]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """One compact JSON object per line, UTF-8 kept readable, newline-terminated."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def messages_of(row: Mapping[str, Any]) -> list[Message]:
    """The row's messages that are objects; anything else is for validation to report."""
    messages = row.get("messages")
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, Mapping)]


def content_text(message: Message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def holds_call(message: Message) -> bool:
    """An assistant turn that calls a tool: structured ``tool_calls`` or ``<tool_call>`` text."""
    if message.get("role") != "assistant":
        return False
    return bool(message.get("tool_calls")) or TOOL_CALL_OPEN in content_text(message)


def call_turns(messages: Sequence[Message]) -> list[int]:
    """Indices of the assistant turns that hold a tool call."""
    return [index for index, message in enumerate(messages) if holds_call(message)]


def untrained_call_turns(messages: Sequence[Message]) -> list[int]:
    """Call turns that are not the last message: mlx-lm's ``mask_prompt`` never trains them."""
    last = len(messages) - 1
    return [index for index in call_turns(messages) if index != last]


def split_multi_turn(rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Split rows so every call turn ends a row of its own and becomes a trained target.

    A row ``system, user, call, tool, answer`` becomes ``system, user, call`` plus the whole row
    (which still trains the final answer). Other keys (``tools``) are kept on every piece.
    """
    out: list[Row] = []
    for row in rows:
        messages = row.get("messages")
        if isinstance(messages, list):
            for index in untrained_call_turns(messages_of(row)):
                out.append({**row, "messages": list(messages[: index + 1])})
        out.append(dict(row))
    return out


def uncovered_call_turns(rows: Sequence[Mapping[str, Any]]) -> list[list[int]]:
    """Per row, the untrained call turns no other row trains (as its last message).

    After `split_multi_turn` a conversation's call turns are each the end of some row, so the
    full conversation may keep them mid-row: they are trained, just not by that row.
    """
    ends = {_key(messages_of(row)) for row in rows if call_turns(messages_of(row))}
    uncovered = []
    for row in rows:
        messages = messages_of(row)
        turns = untrained_call_turns(messages)
        uncovered.append([i for i in turns if _key(messages[: i + 1]) not in ends])
    return uncovered


def _key(messages: Sequence[Message]) -> str:
    return json.dumps(list(messages), sort_keys=True, ensure_ascii=False, default=str)


def is_tool_response(message: Message) -> bool:
    """A tool result, as a ``tool`` message or as a user turn wrapping ``<tool_response>``."""
    if message.get("role") == "tool":
        return True
    return message.get("role") == "user" and content_text(message).lstrip().startswith(
        TOOL_RESPONSE_OPEN
    )


def user_queries(row: Mapping[str, Any]) -> list[str]:
    """What a person typed: the user turns that are not tool results carried as user turns."""
    return [
        content_text(message)
        for message in messages_of(row)
        if message.get("role") == "user" and not is_tool_response(message)
    ]


def prompt_prefix(messages: Sequence[Message]) -> list[Message]:
    """The messages before the first assistant turn: what the eval's prompt corresponds to."""
    for index, message in enumerate(messages):
        if message.get("role") == "assistant":
            return list(messages[:index])
    return list(messages)


def row_texts(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Every text a model reads in these rows (contents, call arguments), e.g. as a tokenizer
    corpus for an offline model that will be trained on them."""
    for row in rows:
        for message in messages_of(row):
            yield content_text(message)
            for call in message.get("tool_calls") or ():
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                arguments = function.get("arguments") if isinstance(function, Mapping) else None
                if isinstance(arguments, Mapping):
                    yield from (str(value) for value in arguments.values())
                elif isinstance(arguments, str):
                    yield arguments
