"""Qwen-like chat templates for offline models, in the two tool-call syntaxes real Qwen models use.

``json`` follows Qwen3 (hybrid thinking, JSON calls, mlx-lm picks its ``json_tools`` parser);
``xml`` follows Qwen3-Coder (no thinking, ``<function=...>`` calls, mlx-lm's ``qwen3_coder``
parser). Both keep Qwen's ``<|im_start|>role\\n...<|im_end|>\\n`` framing and put tool results in
a user turn of ``<tool_response>`` blocks, so a model trained on them transfers to real Qwens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

CallSyntax = Literal["json", "xml"]

JSON_TOOLS_INTRO = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
JSON_TOOLS_OUTRO = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
XML_TOOLS_INTRO = "# Tools\n\nYou have access to the following functions:\n\n<tools>"
XML_TOOLS_OUTRO = (
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO "
    "suffix:\n\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\n"
    "value_1\n</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second "
    "parameter\nthat can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n"
    "<IMPORTANT>\nReminder:\n- Function calls MUST follow the specified format: an inner "
    "<function=...></function> block must be nested within <tool_call></tool_call> XML tags\n"
    "- Required parameters MUST be specified\n- You may provide optional reasoning for your "
    "function call in natural language BEFORE the function call, but NOT after\n- If there is no "
    "function call available, answer the question like normal with your current knowledge and do "
    "not tell the user about function calls\n</IMPORTANT>"
)
#: Fixed prose of the templates, worth feeding to the tokenizer trainer.
TEMPLATE_TEXTS: tuple[str, ...] = (
    JSON_TOOLS_INTRO,
    JSON_TOOLS_OUTRO,
    XML_TOOLS_INTRO,
    XML_TOOLS_OUTRO,
)


def _lit(text: str) -> str:
    """A Jinja string literal; JSON string syntax is valid Jinja syntax."""
    return json.dumps(text, ensure_ascii=False)


# Shared: system turn (with the tools section), then messages with `content` normalised to a str.
_HEAD = """\
{%- set ns = namespace(system='', rest=messages) %}
{%- if messages and messages[0].role == 'system' %}
    {%- set ns.system = messages[0].content if messages[0].content is string else '' %}
    {%- set ns.rest = messages[1:] %}
{%- endif %}
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if ns.system %}{{- ns.system + '\\n\\n' }}{%- endif %}
    {{- @INTRO@ }}
@TOOL_LIST@
    {{- @OUTRO@ + '<|im_end|>\\n' }}
{%- elif ns.system %}
    {{- '<|im_start|>system\\n' + ns.system + '<|im_end|>\\n' }}
{%- endif %}
"""

_JSON_TOOL_LIST = """\
    {%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"""

_XML_TOOL_LIST = """\
    {%- for tool in tools %}
        {%- if tool.function is defined %}{%- set tool = tool.function %}{%- endif %}
        {{- '\\n<function>\\n<name>' ~ tool.name ~ '</name>' }}
        {%- if tool.description is defined %}
            {{- '\\n<description>' ~ (tool.description | trim) ~ '</description>' }}
        {%- endif %}
        {{- '\\n<parameters>' }}
        {%- if tool.parameters is mapping and tool.parameters.properties is mapping %}
            {%- for name, field in tool.parameters.properties | items %}
                {{- '\\n<parameter>\\n<name>' ~ name ~ '</name>' }}
                {%- if field.type is defined %}
                    {{- '\\n<type>' ~ (field.type | string) ~ '</type>' }}
                {%- endif %}
                {%- if field.description is defined %}
                    {{- '\\n<description>' ~ (field.description | trim) ~ '</description>' }}
                {%- endif %}
                {{- '\\n</parameter>' }}
            {%- endfor %}
        {%- endif %}
        {%- if tool.parameters is mapping and tool.parameters.required is defined %}
            {{- '\\n<required>' ~ (tool.parameters.required | tojson) ~ '</required>' }}
        {%- endif %}
        {{- '\\n</parameters>\\n</function>' }}
    {%- endfor %}"""

# Qwen3: earlier <think> blocks are dropped; turns after the last real user query keep them.
_JSON_BODY = """\
{%- set q = namespace(last=-1) %}
{%- for m in ns.rest %}
    {%- if m.role == 'user' %}{%- set q.last = loop.index0 %}{%- endif %}
{%- endfor %}
{%- for message in ns.rest %}
    {%- set content = message.content if message.content is string else '' %}
    {%- if message.role == 'user' or message.role == 'system' %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set reasoning = (message.reasoning_content or '') | string %}
        {%- if '</think>' in content %}
            {%- set parts = content.split('</think>') %}
            {%- set reasoning = parts[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set content = parts[-1].lstrip('\\n') %}
        {%- endif %}
        {{- '<|im_start|>assistant\\n' }}
        {%- if loop.index0 > q.last and (loop.last or reasoning) %}
            {{- '<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' }}
            {{- content.lstrip('\\n') }}
        {%- else %}
            {{- content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls or [] %}
            {%- if (loop.first and content) or not loop.first %}{{- '\\n' }}{%- endif %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '<tool_call>\\n{"name": "' + tool_call.name + '", "arguments": ' }}
            {%- if tool_call.arguments is string %}{{- tool_call.arguments }}
            {%- else %}{{- (tool_call.arguments or {}) | tojson }}{%- endif %}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
        {{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}
        {%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""

# Qwen3-Coder: argument values as plain text (containers as JSON); no thinking at all.
_XML_BODY = """\
{%- for message in ns.rest %}
    {%- set content = message.content if message.content is string else '' %}
    {%- if message.role == 'assistant' and message.tool_calls %}
        {{- '<|im_start|>assistant' }}
        {%- if content | trim %}{{- '\\n' + (content | trim) + '\\n' }}{%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {%- if tool_call.arguments is string %}
                {{- raise_exception('xml call syntax needs dict arguments: normalize_messages') }}
            {%- endif %}
            {{- '\\n<tool_call>\\n<function=' + tool_call.name + '>\\n' }}
            {%- for name, value in (tool_call.arguments or {}) | items %}
                {%- if value is mapping or (value is sequence and value is not string) %}
                    {%- set value = value | tojson %}
                {%- endif %}
                {{- '<parameter=' + name + '>\\n' + (value | string) + '\\n</parameter>\\n' }}
            {%- endfor %}
            {{- '</function>\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role in ['user', 'system', 'assistant'] %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user\\n' }}{%- endif %}
        {{- '<tool_response>\\n' + content + '\\n</tool_response>\\n' }}
        {%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""


def chat_template(call_syntax: CallSyntax) -> str:
    """The Jinja source for ``tokenizer_config.json``'s ``chat_template``."""
    if call_syntax == "json":
        intro, outro, tool_list, body = (
            JSON_TOOLS_INTRO,
            JSON_TOOLS_OUTRO,
            _JSON_TOOL_LIST,
            _JSON_BODY,
        )
    elif call_syntax == "xml":
        intro, outro, tool_list, body = XML_TOOLS_INTRO, XML_TOOLS_OUTRO, _XML_TOOL_LIST, _XML_BODY
    else:
        raise ValueError(f"unknown call syntax {call_syntax!r}; expected 'json' or 'xml'")
    head = _HEAD.replace("@INTRO@", _lit(intro)).replace("@OUTRO@", _lit(outro))
    return head.replace("@TOOL_LIST@", tool_list) + body


def detect_call_syntax(chat_template: str) -> CallSyntax:
    """Which call syntax a (real or generated) Qwen template asks the model to write."""
    return "xml" if "<function=" in chat_template else "json"


def normalize_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copy messages with JSON-string tool-call arguments parsed, as mlx-lm's server does.

    Jinja cannot parse JSON, so the xml template needs dict arguments.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        calls = message.get("tool_calls")
        if calls:
            copy["tool_calls"] = [_parse_call(call) for call in calls]
        out.append(copy)
    return out


def _parse_call(call: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(call)
    inner = call.get("function")
    if isinstance(inner, Mapping):
        copy["function"] = _parse_call(inner)
    elif isinstance(call.get("arguments"), str):
        copy["arguments"] = json.loads(call["arguments"])
    return copy
