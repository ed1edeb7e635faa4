"""Chat rows as mlx-lm reads them (`{"messages": [...], "tools": [...]}`) and their invariants.

Data build, validation, contamination and preflight all read the same JSONL rows; this module is
their one shared view of a row, so "which turn holds a call" or "which turns are user queries"
means the same thing everywhere. Rows stay plain dicts: they are JSON at the file boundary.

One reader, ``read_jsonl``: every line, numbered, with its row or the reason it is not one. The
checks report from it line by line; ``dataset_rows`` is the one strict view over it, for code
that needs every row (training, contamination): the first bad line is a ``DataError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemode_trainer.errors import DataError
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


EMPTY_LINE = "empty line (mlx-lm's loader fails on it)"


def read_jsonl(path: Path) -> Iterator[JsonLine]:
    """Every line of ``path``, numbered like an editor; bad lines come back with their error.

    Blank lines are reported too: mlx-lm's loader calls ``json.loads`` on every line and fails.
    Lines are decoded one by one, so a file that is not UTF-8 is reported at the right line.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            yield _json_line(number, raw)


def _json_line(number: int, raw: bytes) -> JsonLine:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonLine(number, None, f"not UTF-8 text (byte {exc.start} of the line)")
    if not line.strip():
        return JsonLine(number, None, EMPTY_LINE)
    try:
        value = json.loads(line)
    except ValueError as exc:
        return JsonLine(number, None, f"invalid JSON: {exc}")
    if not isinstance(value, dict):
        return JsonLine(number, None, f"a JSON {type(value).__name__}, not an object")
    return JsonLine(number, value)


def dataset_rows(path: Path, *, may_be_empty: bool = False) -> list[tuple[int, Row]]:
    """The rows of a dataset file that must be readable whole, with their line numbers.

    Blank lines are skipped (the trainer's loader skips them too); the first line that is not
    UTF-8, not JSON or not an object, a missing file and (unless ``may_be_empty``, as an optional
    valid.jsonl may be) a file without rows are a ``DataError`` naming the file and line: data
    that cannot be read is never "no problems".
    """
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    rows: list[tuple[int, Row]] = []
    for line in read_jsonl(path):
        if line.row is not None:
            rows.append((line.number, line.row))
        elif line.error != EMPTY_LINE:
            raise DataError(f"{path}:{line.number}: {line.error}")
    if not rows and not may_be_empty:
        raise DataError(f"{path}: no rows (an empty file); expected one JSON object per line")
    return rows


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


def hash_data_dir(folder: Path) -> str:
    """sha256 (16 hex digits) over the names and bytes of the JSONL splits in ``folder``."""
    digest = hashlib.sha256()
    for name in ("train.jsonl", "valid.jsonl", "test.jsonl"):
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
