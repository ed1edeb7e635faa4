"""The linear-time scans of parse.py read well-formed and broken markup exactly as the regexes did.

The regexes below are the parser's former ones, quadratic on `<function=` or `<parameter=`
repeated with no `>` (5.7 s at 130 KB, minutes at 1 MB). They stay here as the oracle; speed is
measured by benchmarks/degenerate_markup.py, never asserted.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_codemode_eval.parse import (
    FUNCTION_OPEN,
    MAX_CALLS,
    MAX_PARAMETERS,
    PARAMETER_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    find_tag,
    parse_output,
)

OLD_FUNCTION = re.compile(r"<function=([^>\n]*)>")
OLD_PARAMETER = re.compile(
    r"<parameter=([^>\n]*)>(.*?)(?:</parameter>|(?=<parameter=)|(?=</function>)|\Z)", re.S
)
XML_PIECES = [
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "<function=read_file>",
    "</function>",
    "<parameter=",
    "<parameter=path>",
    "<parameter=code>",
    "</parameter>",
    "</parameter",
    "<parameter",
    ">",
    "<",
    "\n",
    "a",
    " b ",
    "src/app.py",
]
XML_TEXT = st.lists(st.sampled_from(XML_PIECES) | st.text(max_size=4), max_size=30).map("".join)
THINK_TEXT = st.lists(
    st.sampled_from([THINK_OPEN, THINK_CLOSE, "plan", " ", "\n", "x", "<", "</", "</think", "/"]),
    max_size=20,
).map("".join)
MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def old_xml_arguments(body: str) -> tuple[str, dict[str, str]] | None:
    """What the former `_xml_call` read from a call body: (name, arguments), or None."""
    function = OLD_FUNCTION.search(body)
    if function is None:
        return None
    inner = body[function.end() :].split("</function>", 1)[0]
    arguments = {}
    for parameter in OLD_PARAMETER.finditer(inner):
        value = parameter.group(2)
        value = value[1:] if value.startswith("\n") else value
        arguments[parameter.group(1).strip()] = value[:-1] if value.endswith("\n") else value
    return function.group(1).strip(), arguments


def old_split_think(rest: str) -> tuple[list[str], str]:
    """The former later-think-blocks loop: (think parts, answer)."""
    parts = []
    while (open_at := rest.find(THINK_OPEN)) >= 0:
        close_at = rest.find(THINK_CLOSE, open_at)
        end = len(rest) if close_at < 0 else close_at
        parts.append(rest[open_at + len(THINK_OPEN) : end].strip())
        if close_at < 0:
            return parts, rest[:open_at]
        rest = rest[:open_at] + rest[close_at + len(THINK_CLOSE) :]
    return parts, rest


@pytest.mark.slow
@MANY
@given(XML_TEXT)
def test_find_tag_finds_what_the_regex_found(text: str) -> None:
    for opener in (FUNCTION_OPEN, PARAMETER_OPEN):
        old = re.search(re.escape(opener) + r"([^>\n]*)>", text)
        expected = None if old is None else (old.end(), old.group(1))
        assert find_tag(text, opener) == expected


@pytest.mark.slow
@MANY
@given(XML_TEXT)
def test_xml_calls_read_as_the_regexes_read_them(text: str) -> None:
    body = text.replace("<tool_call>", "").replace("</tool_call>", "")
    if body.strip().startswith("{"):
        return  # a JSON call, not this parser's business
    calls = parse_output(f"<tool_call>{body}</tool_call>").calls
    old = old_xml_arguments(body)
    if old is None:
        assert calls[0].syntax == "json"  # neither JSON nor <function=...>
        return
    assert (calls[0].name, dict(calls[0].arguments)) == old


@pytest.mark.slow
@MANY
@given(THINK_TEXT)
def test_later_think_blocks_split_as_before(answer: str) -> None:
    parsed = parse_output("<think>first</think>" + answer)
    parts, rest = old_split_think(answer)
    expected_think = "\n\n".join(part for part in ["first", *parts] if part)
    assert parsed.think == expected_think
    assert parsed.prose == rest.strip()


def test_function_opener_repeated_without_close_is_no_call_name() -> None:
    parsed = parse_output("<tool_call>" + "<function=" * 20_000)
    assert parsed.calls[0].problem == "tool call is neither JSON nor <function=...>"


def test_parameter_opener_repeated_without_close_is_no_argument() -> None:
    parsed = parse_output("<tool_call><function=read_file>" + "<parameter=" * 20_000)
    assert parsed.calls[0].name == "read_file"
    assert parsed.calls[0].arguments == {}


def test_unclosed_parameters_each_run_to_the_next() -> None:
    parsed = parse_output("<tool_call><function=f><parameter=a>1<parameter=b>2</function>")
    assert parsed.calls[0].arguments == {"a": "1", "b": "2"}


def test_many_think_blocks_are_all_think() -> None:
    parsed = parse_output("<think>x</think>" * 5_000 + "done")
    assert parsed.prose == "done"
    assert parsed.think == "\n\n".join(["x"] * 5_000)


def test_calls_past_the_limit_are_a_problem_not_read() -> None:
    call = '<tool_call>{"name": "git_status", "arguments": {"path": "."}}</tool_call>'
    calls = parse_output(call * (MAX_CALLS + 5)).calls
    assert len(calls) == MAX_CALLS + 1
    assert calls[-1].problem == f"more than {MAX_CALLS} tool calls"
    assert all(c.problem is None for c in calls[:-1])


def test_parameters_past_the_limit_are_a_problem_not_read() -> None:
    parameters = "".join(f"<parameter=p{i}>{i}</parameter>" for i in range(MAX_PARAMETERS + 1))
    (call,) = parse_output(f"<tool_call><function=f>{parameters}</function></tool_call>").calls
    assert call.problem == f"more than {MAX_PARAMETERS} parameters"
    assert len(call.arguments) == MAX_PARAMETERS
