"""Parse raw model output into think text, prose and tool calls. Never raises, on any input.

Model output is untrusted: every shape of garbage must come back as a `Parsed` value whose
`problem`s say what was wrong, never as an exception. Recognised call syntaxes:
Qwen3-Coder XML (`<tool_call><function=NAME><parameter=P>V</parameter></function></tool_call>`),
Hermes/Qwen3 JSON (`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`), and OpenAI
`tool_calls` objects as returned by a server. Nothing inside `<think>` counts as a call.

Every scan is linear in the output's length, so a 1 MB output of repeated markup parses in
milliseconds (benchmarks/degenerate_markup.py). An output with more than MAX_CALLS calls, or a
call with more than MAX_PARAMETERS parameters, is degenerate: the excess is a problem, not read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Syntax = Literal["xml", "json", "openai"]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
FUNCTION_OPEN = "<function="
FUNCTION_CLOSE = "</function>"
PARAMETER_OPEN = "<parameter="
PARAMETER_CLOSE = "</parameter>"
_NAME_END = re.compile(r"[>\n]")
# A think block runs to its `</think>` or, unclosed, to the end; group 2 is empty when unclosed.
# Unrolled and possessive (`<think>(.*?)(</think>|\Z)` tried both ends at every character).
_THINK_BLOCK = re.compile(r"<think>((?:[^<]++|<(?!/think>))*+)(</think>|\Z)")
MAX_CALLS = 256  # a case expects 1-4 calls; 256 is far past any real answer
MAX_PARAMETERS = 256  # a catalog tool takes 1-4 parameters


@dataclass(frozen=True)
class ToolCall:
    """One tool call as the model wrote it; `problem` is set when it is malformed."""

    name: str
    arguments: Mapping[str, Any]
    syntax: Syntax
    complete: bool = True
    problem: str | None = None


@dataclass(frozen=True)
class Parsed:
    """A model output split into its parts."""

    think: str | None
    prose: str
    calls: tuple[ToolCall, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def unterminated_call(self) -> bool:
        return any(not call.complete for call in self.calls)


def parse_output(text: object, openai_tool_calls: Sequence[object] = ()) -> Parsed:
    """Split an output into think/prose/calls; server-parsed calls count only if the text has none.

    Never raises, whatever `text` and `openai_tool_calls` are.
    """
    try:
        parsed = _parse_text(text if isinstance(text, str) else "")
        if not parsed.calls and openai_tool_calls:
            calls = _openai_calls(openai_tool_calls)
            parsed = Parsed(parsed.think, parsed.prose, calls, parsed.problems)
        return parsed
    except Exception as exc:  # a parser bug must not end the session; tests assert it never happens
        return Parsed(None, "", (), (f"parser error: {type(exc).__name__}: {exc}",))


def _parse_text(text: str) -> Parsed:
    think, rest, problems = _split_think(text)
    calls: list[ToolCall] = []
    prose_parts: list[str] = []
    position = 0
    while True:
        start = rest.find(TOOL_CALL_OPEN, position)
        if start < 0:
            prose_parts.append(rest[position:])
            break
        prose_parts.append(rest[position:start])
        if len(calls) == MAX_CALLS:
            calls.append(ToolCall("", {}, "json", True, f"more than {MAX_CALLS} tool calls"))
            break
        body_start = start + len(TOOL_CALL_OPEN)
        end = rest.find(TOOL_CALL_CLOSE, body_start)
        complete = end >= 0
        body = rest[body_start:end] if complete else rest[body_start:]
        calls.append(_parse_call_body(body, complete))
        if not complete:
            break
        position = end + len(TOOL_CALL_CLOSE)
    prose = "".join(prose_parts).replace(TOOL_CALL_CLOSE, "").strip()
    return Parsed(think, prose, tuple(calls), tuple(problems))


def _split_think(text: str) -> tuple[str | None, str, list[str]]:
    """Separate the think text from the answer; nothing in any think block is part of the answer."""
    think, rest, problems = _split_first_think(text)
    parts = [think] if think else []
    # answer, think, closer, answer, think, closer, ..., answer: a later block is thinking too
    pieces = _THINK_BLOCK.split(rest)
    parts += [part.strip() for part in pieces[1::3]]
    if len(pieces) > 1 and not pieces[-2]:
        problems.append("think block never closed")
    if think is None and not parts:
        return None, rest, problems
    return "\n\n".join(part for part in parts if part), "".join(pieces[::3]), problems


def _split_first_think(text: str) -> tuple[str | None, str, list[str]]:
    """Separate the first think block; a `</think>` with no opener means the prompt opened it."""
    open_at = text.find(THINK_OPEN)
    close_at = text.find(THINK_CLOSE)
    if close_at >= 0 and (open_at < 0 or close_at < open_at):
        return text[:close_at].strip(), text[close_at + len(THINK_CLOSE) :], []
    if open_at < 0:
        return None, text, []
    close_at = text.find(THINK_CLOSE, open_at)
    if close_at < 0:
        return (
            text[open_at + len(THINK_OPEN) :].strip(),
            text[:open_at],
            ["think block never closed"],
        )
    think = text[open_at + len(THINK_OPEN) : close_at].strip()
    return think, text[:open_at] + text[close_at + len(THINK_CLOSE) :], []


def _parse_call_body(body: str, complete: bool) -> ToolCall:
    stripped = body.strip()
    if stripped.startswith("{"):
        return _json_call(stripped, complete)
    function = find_tag(body, FUNCTION_OPEN)
    if function is not None:
        return _xml_call(body, function, complete)
    problem = "empty tool call" if not stripped else "tool call is neither JSON nor <function=...>"
    return ToolCall("", {}, "json", complete, problem)


def _json_call(body: str, complete: bool) -> ToolCall:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return ToolCall(_json_name_guess(body), {}, "json", complete, f"invalid JSON: {exc}")
    return _call_from_mapping(data, "json", complete)


def _json_name_guess(body: str) -> str:
    """The name of a cut-off JSON call, so a truncated call can still say which tool it was."""
    match = re.search(r'"name"\s*:\s*"([^"\\]{1,200})"', body)
    return match.group(1) if match else ""


def _call_from_mapping(data: object, syntax: Syntax, complete: bool) -> ToolCall:
    if not isinstance(data, dict):
        return ToolCall("", {}, syntax, complete, "tool call is not a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return ToolCall("", {}, syntax, complete, "tool call has no name")
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError):
            return ToolCall(name, {}, syntax, complete, "arguments are not valid JSON")
    if not isinstance(arguments, dict):
        return ToolCall(name, {}, syntax, complete, "arguments are not a JSON object")
    return ToolCall(name, arguments, syntax, complete)


def _xml_call(body: str, function: tuple[int, str], complete: bool) -> ToolCall:
    tag_end, name = function[0], function[1].strip()
    inner = body[tag_end:]
    closed = FUNCTION_CLOSE in inner
    arguments, too_many = _xml_parameters(inner.split(FUNCTION_CLOSE, 1)[0])
    problem = None if closed or not complete else "missing </function>"
    if too_many:
        problem = f"more than {MAX_PARAMETERS} parameters"
    if not name:
        problem = "tool call has no function name"
    return ToolCall(name, arguments, "xml", complete, problem)


def find_tag(text: str, opener: str, start: int = 0) -> tuple[int, str] | None:
    """(end, NAME) of the first `<opener NAME>` at or after `start`, NAME free of `>` and newlines.

    Linear time, where the regex `<function=([^>\\n]*)>` was quadratic on `<function=` repeated
    with no `>`: an opener whose name runs into a newline fails, and so does every opener before
    that newline, so the scan resumes after it.
    """
    while (at := text.find(opener, start)) >= 0:
        name_end = _NAME_END.search(text, at + len(opener))
        if name_end is None:
            return None
        if name_end.group() == ">":
            return name_end.end(), text[at + len(opener) : name_end.start()]
        start = name_end.end()
    return None


def _xml_parameters(inner: str) -> tuple[dict[str, str], bool]:
    """Each `<parameter=P>` runs to its `</parameter>`, the next `<parameter=` or the end.

    Also says whether parameters past MAX_PARAMETERS were left unread.
    """
    arguments: dict[str, str] = {}
    close, following = _Finder(inner, PARAMETER_CLOSE), _Finder(inner, PARAMETER_OPEN)
    position, count = 0, 0
    while (tag := find_tag(inner, PARAMETER_OPEN, position)) is not None:
        if count == MAX_PARAMETERS:
            return arguments, True
        value_start, name = tag
        end = min(close.find(value_start), following.find(value_start))
        arguments[name.strip()] = _strip_one_newline(inner[value_start:end])
        closed = inner.startswith(PARAMETER_CLOSE, end)
        position, count = end + len(PARAMETER_CLOSE) if closed else end, count + 1
    return arguments, False


class _Finder:
    """`text.find(needle, start)` for non-decreasing `start`s: each character is scanned once.

    Searching afresh for a `</parameter>` that never comes, once per parameter, was quadratic.
    """

    def __init__(self, text: str, needle: str) -> None:
        self.text, self.needle = text, needle
        self.found = -1  # the last answer; len(text) means "nowhere from here on"

    def find(self, start: int) -> int:
        if self.found < start:
            at = self.text.find(self.needle, start)
            self.found = len(self.text) if at < 0 else at
        return self.found


def _strip_one_newline(value: str) -> str:
    """Qwen3-Coder puts values on their own lines; only that framing newline is not content."""
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _openai_calls(items: object) -> tuple[ToolCall, ...]:
    if isinstance(items, Mapping):
        items = [items]  # one call object instead of a list of them
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        return (ToolCall("", {}, "openai", True, "tool_calls is not a list"),)
    return tuple(_openai_call(item) for item in items)


def _openai_call(item: object) -> ToolCall:
    if not isinstance(item, Mapping):
        return ToolCall("", {}, "openai", True, "tool_calls entry is not an object")
    function = item.get("function", item)
    return _call_from_mapping(
        dict(function) if isinstance(function, Mapping) else function, "openai", True
    )
