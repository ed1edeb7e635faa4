"""Golden test of the rubric: raw model outputs, scored against the real suite cases.

Each row is what a model could plausibly emit for one case of evalsuite/, and the (score,
verdict) the rubric gives it, plus a fragment the one-line note must contain. Outputs go through
the same path as a run: `parse_output(generation.output, generation.server_tool_calls)` and then
`score_case`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.evaluate import result_from_generation
from pytest_codemode_eval.generation import Finish, Generation
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.score import match_in_order, score_case
from pytest_codemode_eval.suite import Case, Suite
from pytest_codemode_eval.verdicts import Score, Verdict

# ---------------------------------------------------------------------------------------------
# Output builders: the call syntaxes the parser recognises.


def xml_call(name: str, *, newlines: bool = True, **parameters: object) -> str:
    """Qwen3-Coder XML: `<tool_call><function=NAME><parameter=P>V</parameter>...`."""
    nl = "\n" if newlines else ""
    params = "".join(
        f"<parameter={key}>{nl}{value}{nl}</parameter>{nl}" for key, value in parameters.items()
    )
    return f"<tool_call>{nl}<function={name}>{nl}{params}</function>{nl}</tool_call>"


def xml_code(code: str, *, newlines: bool = True) -> str:
    return xml_call("execute_code", newlines=newlines, code=code)


def hermes(name: str, arguments: object) -> str:
    """Hermes/Qwen3 JSON: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`."""
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def hermes_code(code: str) -> str:
    return hermes("execute_code", {"code": code})


def openai(name: str, arguments: Mapping[str, object]) -> dict[str, Any]:
    """An OpenAI `tool_calls` entry as a server returns it: arguments as a JSON string."""
    return {
        "id": "call_0",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


READ_CONFIG = 'print(read_file("src/agent/config.py"))'
GOTO = 'loc = goto_definition("src/views/home.py", 12, 6, "HomeView")'
CHAIN = f"""{GOTO}
path = loc[0]["file"]
source = read_file(path)
report = validate_component(path)
print(pytest_run("tests/"))"""
GOTO_ARGS = {"file_path": "src/views/home.py", "line": 12, "column": 6, "symbol": "HomeView"}
NO_TOOL = "no-tool"  # a case whose right answer calls no tool (expected = []), see `golden_cases`
LORA_RANK = (
    "LoRA rank r is the inner dimension of the low-rank update B·A added to a frozen weight: "
    "a higher rank trains more parameters and can fit more, at more memory."
)


@dataclass(frozen=True)
class Golden:
    case: str
    output: str
    score: float
    verdict: Verdict
    note: str  # a fragment the note must contain
    finish: Finish = "stop"
    server_tool_calls: tuple[Mapping[str, Any], ...] = ()
    generation: Mapping[str, Any] = field(default_factory=dict)


def row(id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Golden(*args, **kwargs), id=id)


GOLDEN = [
    # --- code_mode: 1.0 ---------------------------------------------------------------------
    row("code_mode-xml", "text-01", xml_code(READ_CONFIG), 1.0, Verdict.CODE_MODE, "read_file"),
    row(
        "code_mode-xml-without-newlines",
        "text-01",
        xml_code(READ_CONFIG, newlines=False),
        1.0,
        Verdict.CODE_MODE,
        "Code Mode call of read_file",
    ),
    row("code_mode-hermes-json", "text-01", hermes_code(READ_CONFIG), 1.0, Verdict.CODE_MODE, ""),
    row(
        "code_mode-arguments-as-json-string",
        "text-01",
        hermes("execute_code", json.dumps({"code": READ_CONFIG})),
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-openai-tool-calls",
        "text-01",
        "",
        1.0,
        Verdict.CODE_MODE,
        "read_file",
        server_tool_calls=(openai("execute_code", {"code": READ_CONFIG}),),
    ),
    row(
        "code_mode-text-call-wins-over-server-calls",
        "text-01",
        xml_code(READ_CONFIG),
        1.0,
        Verdict.CODE_MODE,
        "read_file",
        server_tool_calls=(openai("typecheck", {"path": "src/"}),),
    ),
    row(
        "code_mode-path-normalised",
        "text-01",
        xml_code('print(read_file("./src/agent/config.py/"))'),
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-top-level-constant",
        "text-01",
        xml_code('path = "src/agent/config.py"\ncontent = read_file(path)\nprint(content)'),
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-annotated-constant",
        "text-01",
        xml_code('path: str = "src/agent/config.py"\nprint(read_file(path))'),
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-keyword-pin",
        "git-03",
        hermes_code('for c in git_log(path=".", count=5):\n    print(c["sha"], c["message"])'),
        1.0,
        Verdict.CODE_MODE,
        "git_log",
    ),
    row(
        "code_mode-pin-alternative-split-args",
        "text-03",
        xml_code('print(run_command("ls", args=["src/"]))'),
        1.0,
        Verdict.CODE_MODE,
        "run_command",
    ),
    row(
        "code_mode-after-think-naming-tools",
        "text-01",
        "<think>The user wants the file; read_file(path) is the tool. "
        f"{hermes('read_file', {'path': 'x'})}</think>\n{xml_code(READ_CONFIG)}",
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-think-opened-by-prompt",
        "text-01",
        f"I should call read_file.\n</think>\n\n{xml_code(READ_CONFIG)}",
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-prose-around-call",
        "text-01",
        f"Sure, let me read it.\n{xml_code(READ_CONFIG)}\nThat shows the file.",
        1.0,
        Verdict.CODE_MODE,
        "read_file",
    ),
    row(
        "code_mode-chain",
        "multi-01",
        xml_code(CHAIN),
        1.0,
        Verdict.CODE_MODE,
        "goto_definition → read_file → validate_component → pytest_run",
    ),
    row(
        "code_mode-chain-nested-calls-run-inner-first",
        "multi-01",
        hermes_code(
            "print(pytest_run(validate_component(read_file("
            'goto_definition("src/views/home.py", 1, 1, "HomeView")[0]["file"]))))'
        ),
        1.0,
        Verdict.CODE_MODE,
        "pytest_run",
    ),
    row(
        "code_mode-extra-read-only-call-recorded-not-penalised",
        "git-03",
        xml_code('print(git_status("."))\nprint(git_log(".", count=5))'),
        1.0,
        Verdict.CODE_MODE,
        "Code Mode call of git_log; extra read-only call(s): git_status",
    ),
    row(
        "code_mode-expected-write-is-no-unrequested-change",
        "text-02",
        xml_code('write_file("output/summary.txt", "Phase 40 complete")'),
        1.0,
        Verdict.CODE_MODE,
        "write_file",
    ),
    # --- no_call: 1.0, a case that expects no tool ------------------------------------------
    row("no_call-prose-answer", NO_TOOL, LORA_RANK, 1.0, Verdict.NO_CALL, "without a tool call"),
    row(
        "no_call-after-think-that-calls-a-tool",
        NO_TOOL,
        f"<think>{xml_code(READ_CONFIG)}</think>\n{LORA_RANK}",
        1.0,
        Verdict.NO_CALL,
        "Answered without a tool call",
    ),
    row(
        "no_call-tool-named-in-prose-or-markdown",
        NO_TOOL,
        f"{LORA_RANK} To see the project's value:\n```python\n{READ_CONFIG}\n```",
        1.0,
        Verdict.NO_CALL,
        "Answered without a tool call",
    ),
    # --- unneeded_call: 0, any call in a case that expects no tool --------------------------
    row(
        "unneeded_call-code-mode",
        NO_TOOL,
        xml_code('print(read_file("src/training/lora_config.py"))'),
        0.0,
        Verdict.UNNEEDED_CALL,
        "Unneeded call: execute_code calling read_file; no tool was needed",
    ),
    row(
        "unneeded_call-code-without-catalog-tools",
        NO_TOOL,
        hermes_code(f"print({LORA_RANK!r})"),
        0.0,
        Verdict.UNNEEDED_CALL,
        "Unneeded call: execute_code; no tool was needed",
    ),
    row(
        "unneeded_call-direct",
        NO_TOOL,
        f"{LORA_RANK}\n" + hermes("hover", {**GOTO_ARGS, "symbol": "LoRAConfig"}),
        0.0,
        Verdict.UNNEEDED_CALL,
        "Unneeded call: hover",
    ),
    row(
        "unneeded_call-unknown-tool",
        NO_TOOL,
        hermes("send_email", {"to": "team@example.com"}),
        0.0,
        Verdict.UNNEEDED_CALL,
        "Unneeded call: send_email",
    ),
    row(
        "unneeded_call-server-parsed",
        NO_TOOL,
        "",
        0.0,
        Verdict.UNNEEDED_CALL,
        "Unneeded call: execute_code calling read_file",
        server_tool_calls=(openai("execute_code", {"code": READ_CONFIG}),),
    ),
    # --- unrequested_change: 0, a workspace-changing tool the case does not expect ----------
    row(
        "unrequested_change-besides-the-expected-tool",
        "git-03",
        xml_code('log = git_log(".", count=5)\nwrite_file("output/log.txt", str(log))'),
        0.0,
        Verdict.UNREQUESTED_CHANGE,
        "Unrequested change: write_file (expected git_log)",
    ),
    row(
        "unrequested_change-instead-of-the-expected-tool",
        "lsp-01",
        xml_code('cst_rename("src/agent/config.py", "AgentConfig", "AgentSettings")'),
        0.0,
        Verdict.UNREQUESTED_CHANGE,
        "Unrequested change: cst_rename (expected goto_definition)",
    ),
    row(
        "unrequested_change-direct-shell-command",
        "git-01",
        hermes("git_status", {"path": "."}) + hermes("run_command", {"command": "git stash"}),
        0.0,
        Verdict.UNREQUESTED_CHANGE,
        "Unrequested change: run_command (expected git_status)",
    ),
    row(
        "unrequested_change-in-a-chain",
        "multi-01",
        xml_code(CHAIN + '\ncst_add_import("src/views/home.py", "import os")'),
        0.0,
        Verdict.UNREQUESTED_CHANGE,
        "cst_add_import",
    ),
    # --- direct_call: 0.5 -------------------------------------------------------------------
    row(
        "direct_call-hermes-json",
        "text-02",
        hermes("write_file", {"path": "output/summary.txt", "content": "Phase 40 complete"}),
        0.5,
        Verdict.DIRECT_CALL,
        "Direct call, no execute_code",
    ),
    row(
        "direct_call-xml-text-coerced-to-int",
        "git-03",
        xml_call("git_log", path=".", count="5"),
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
    ),
    row(
        "direct_call-xml-without-newlines-bool",
        "git-02",
        xml_call("git_diff", newlines=False, path=".", staged="false"),
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
    ),
    row(
        "direct_call-xml-list-parameter",
        "text-03",
        xml_call("run_command", command="ls", args='["src/"]'),
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
    ),
    row(
        "direct_call-openai-tool-calls",
        "text-01",
        "Reading the file.",
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
        server_tool_calls=(openai("read_file", {"path": "src/agent/config.py"}),),
    ),
    row(
        "direct_call-text-call-wins-over-server-code-mode",
        "text-01",
        hermes("read_file", {"path": "src/agent/config.py"}),
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
        server_tool_calls=(openai("execute_code", {"code": READ_CONFIG}),),
    ),
    row(
        "direct_call-chain-of-direct-calls",
        "multi-01",
        "\n".join(
            [
                hermes("goto_definition", GOTO_ARGS),
                hermes("read_file", {"path": "src/views/home.py"}),
                hermes("validate_component", {"file_path": "src/views/home.py"}),
                hermes("pytest_run", {"path": "tests/"}),
            ]
        ),
        0.5,
        Verdict.DIRECT_CALL,
        "no execute_code",
    ),
    # --- partial_chain: fraction x format ---------------------------------------------------
    row(
        "partial_chain-missing-middle-tool",
        "multi-01",
        xml_code(CHAIN.replace("report = validate_component(path)\n", "")),
        0.75,
        Verdict.PARTIAL_CHAIN,
        "Chain 3/4, missing validate_component",
    ),
    row(
        "partial_chain-wrong-order",
        "multi-01",
        xml_code(
            'print(pytest_run("tests/"))\nvalidate_component("src/views/home.py")\n'
            f'read_file("src/views/home.py")\n{GOTO}'
        ),
        0.25,
        Verdict.PARTIAL_CHAIN,
        "Chain 1/4, out of order",
    ),
    row(
        "partial_chain-direct-calls-half-credit",
        "multi-01",
        hermes("goto_definition", GOTO_ARGS) + hermes("read_file", {"path": "src/views/home.py"}),
        0.25,
        Verdict.PARTIAL_CHAIN,
        "Chain 2/4, missing validate_component, pytest_run, direct calls",
    ),
    # --- bad_arguments: half the credit of the format ---------------------------------------
    row(
        "bad_arguments-wrong-pin-direct",
        "git-03",
        xml_call("git_log", path=".", count="3"),
        0.25,
        Verdict.BAD_ARGUMENTS,
        "git_log: count=3, expected 5",
    ),
    row(
        "bad_arguments-wrong-pin-code-mode",
        "git-03",
        xml_code('print(git_log(".", count=3))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "count=3, expected 5",
    ),
    row(
        "bad_arguments-default-misses-pin",
        "git-03",
        xml_code('print(git_log("."))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "count=10, expected 5",
    ),
    row(
        "bad_arguments-wrong-path",
        "text-01",
        xml_code('print(read_file("src/agent/settings.py"))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "path='src/agent/settings.py', expected 'src/agent/config.py'",
    ),
    row(
        "bad_arguments-unknown-kwarg",
        "text-01",
        xml_code('print(read_file("src/agent/config.py", encoding="utf-8"))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "unexpected keyword argument 'encoding'",
    ),
    row(
        "bad_arguments-missing-required-code-mode",
        "git-01",
        xml_code("print(git_status())"),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "missing a required argument: 'path'",
    ),
    row(
        "bad_arguments-missing-required-direct",
        "text-01",
        hermes("read_file", {}),
        0.25,
        Verdict.BAD_ARGUMENTS,
        "missing a required argument: 'path'",
    ),
    row(
        "bad_arguments-run-time-value-for-pin",
        "text-01",
        xml_code("print(read_file(input()))"),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "only known at run time",
    ),
    row(
        "bad_arguments-starred-args",
        "text-01",
        xml_code('args = ["src/agent/config.py"]\nprint(read_file(*args))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "*args/**kwargs",
    ),
    row(
        "bad_arguments-no-pin-alternative-matches",
        "text-03",
        xml_code('print(run_command("ls -la"))'),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "command='ls -la'",
    ),
    row(
        "bad_arguments-chain-wrong-pin",
        "multi-01",
        xml_code(CHAIN.replace('"HomeView"', '"HomePage"')),
        0.5,
        Verdict.BAD_ARGUMENTS,
        "symbol='HomePage', expected 'HomeView'",
    ),
    # --- wrong_tool: 0 ----------------------------------------------------------------------
    row(
        "wrong_tool-direct",
        "lsp-04",
        hermes("workspace_symbols", {"query": "lora_config"}),
        0.0,
        Verdict.WRONG_TOOL,
        "Wrong tool: workspace_symbols (expected document_symbols)",
    ),
    row(
        "wrong_tool-in-code",
        "text-01",
        xml_code('print(typecheck("src/agent/config.py"))'),
        0.0,
        Verdict.WRONG_TOOL,
        "typecheck (expected read_file)",
    ),
    row(
        "wrong_tool-unknown-tool",
        "text-01",
        hermes("cat_file", {"path": "src/agent/config.py"}),
        0.0,
        Verdict.WRONG_TOOL,
        "unknown tool cat_file",
    ),
    row(
        "wrong_tool-unknown-tool-name-with-newline",
        "text-01",
        hermes("cat\nfile", {}),
        0.0,
        Verdict.WRONG_TOOL,
        "unknown tool cat file",
    ),
    row(
        "wrong_tool-named-only-in-comment",
        "text-01",
        xml_code('# read_file("src/agent/config.py")\nprint("done")'),
        0.0,
        Verdict.WRONG_TOOL,
        "no catalog tool in the code",
    ),
    row(
        "wrong_tool-named-only-in-string-literal",
        "text-01",
        xml_code('print("read_file")'),
        0.0,
        Verdict.WRONG_TOOL,
        "no catalog tool",
    ),
    row(
        "wrong_tool-named-only-in-docstring",
        "text-01",
        xml_code('"""Call read_file("src/agent/config.py") to see it."""\nprint("ok")'),
        0.0,
        Verdict.WRONG_TOOL,
        "no catalog tool",
    ),
    row(
        "wrong_tool-shadowed-by-user-def",
        "text-01",
        xml_code(
            "def read_file(path):\n    with open(path) as f:\n        return f.read()\n\n"
            + READ_CONFIG
        ),
        0.0,
        Verdict.WRONG_TOOL,
        "no catalog tool",
    ),
    # --- prose: 0 ---------------------------------------------------------------------------
    row(
        "prose-naming-the-tool",
        "text-01",
        'I would call read_file("src/agent/config.py") to show you the file.',
        0.0,
        Verdict.PROSE,
        "Prose only, no tool call",
    ),
    row(
        "prose-markdown-code-block",
        "text-01",
        f"Run this:\n\n```python\n{READ_CONFIG}\n```",
        0.0,
        Verdict.PROSE,
        "Prose only",
    ),
    row(
        "prose-after-think-that-calls-a-tool",
        "text-01",
        f"<think>\n{xml_code(READ_CONFIG)}\n</think>\n\nThe config holds the AgentConfig class.",
        0.0,
        Verdict.PROSE,
        "Prose only",
    ),
    row(
        "prose-call-in-second-think-block",
        "text-01",
        f"<think>read it</think>Let me check.<think>{xml_code(READ_CONFIG)}</think>",
        0.0,
        Verdict.PROSE,
        "Prose only",
    ),
    row("prose-empty-output", "text-01", "", 0.0, Verdict.PROSE, "Empty output"),
    row("prose-empty-output-is-no-answer", NO_TOOL, "", 0.0, Verdict.PROSE, "Empty output"),
    row(
        "prose-think-only-is-no-answer",
        NO_TOOL,
        "<think>LoRA rank is the inner dimension</think>",
        0.0,
        Verdict.PROSE,
        "Only a think block",
    ),
    row(
        "prose-unclosed-think-at-token-limit",
        "text-01",
        "<think>I will call read_file on src/agent/config.py and then",
        0.0,
        Verdict.PROSE,
        "Only a think block, no answer (hit the token limit)",
        finish="length",
    ),
    # --- malformed: 0 -----------------------------------------------------------------------
    row(
        "malformed-invalid-json",
        "text-01",
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "src/agent/config.py"}\n'
        "</tool_call>",
        0.0,
        Verdict.MALFORMED,
        "Malformed tool call: invalid JSON",
    ),
    row(
        "malformed-arguments-string-not-json",
        "text-01",
        hermes("read_file", "path=src/agent/config.py"),
        0.0,
        Verdict.MALFORMED,
        "arguments are not valid JSON",
    ),
    row(
        "malformed-code-syntax-error",
        "text-01",
        xml_code('print(read_file("src/agent/config.py")'),
        0.0,
        Verdict.MALFORMED,
        "execute_code code does not parse",
    ),
    row(
        "malformed-execute_code-without-code",
        "text-01",
        hermes("execute_code", {}),
        0.0,
        Verdict.MALFORMED,
        "execute_code without a code argument",
    ),
    row(
        "malformed-execute_code-empty-code",
        "text-01",
        xml_call("execute_code", code=""),
        0.0,
        Verdict.MALFORMED,
        "without a code argument",
    ),
    row(
        "malformed-empty-tool-call",
        "text-01",
        "<tool_call>\n</tool_call>",
        0.0,
        Verdict.MALFORMED,
        "empty tool call",
    ),
    row(
        "malformed-unclosed-call-without-token-limit",
        "text-01",
        xml_code(READ_CONFIG).removesuffix("</tool_call>"),
        0.0,
        Verdict.MALFORMED,
        "execute_code never closed",
    ),
    row(
        "malformed-openai-entry-not-an-object",
        "text-01",
        "",
        0.0,
        Verdict.MALFORMED,
        "tool_calls entry is not an object",
        server_tool_calls=("read_file",),
    ),
    row(
        "malformed-call-in-a-no-tool-case-is-no-abstention",
        NO_TOOL,
        f"{LORA_RANK}\n"
        '<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(1)"}\n</tool_call>',
        0.0,
        Verdict.MALFORMED,
        "Malformed tool call: invalid JSON",
    ),
    row(
        "malformed-code-in-a-no-tool-case",
        NO_TOOL,
        xml_code("print(read_file("),
        0.0,
        Verdict.MALFORMED,
        "execute_code code does not parse",
    ),
    row(
        "malformed-empty-tool-call-in-a-no-tool-case",
        NO_TOOL,
        f"{LORA_RANK}\n<tool_call>\n</tool_call>",
        0.0,
        Verdict.MALFORMED,
        "empty tool call",
    ),
    # --- truncated: 0 -----------------------------------------------------------------------
    row(
        "truncated-in-a-no-tool-case",
        NO_TOOL,
        f"{LORA_RANK}\n<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(",
        0.0,
        Verdict.TRUNCATED,
        "cut off by the token limit",
        finish="length",
    ),
    row(
        "truncated-xml",
        "text-01",
        "<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(read_file(",
        0.0,
        Verdict.TRUNCATED,
        "Tool call execute_code cut off by the token limit",
        finish="length",
    ),
    row(
        "truncated-hermes-json",
        "text-01",
        '<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(read_file(\\"src/',
        0.0,
        Verdict.TRUNCATED,
        "Tool call execute_code cut off by the token limit",
        finish="length",
    ),
    # --- timeout: 0 -------------------------------------------------------------------------
    row(
        "timeout-partial-prose",
        "lsp-01",
        "I'll help you find the definition of AgentConfig. First, let me think about where",
        0.0,
        Verdict.TIMEOUT,
        "Timeout after 13.4s — prose then no call",
        finish="timeout",
        generation={"seconds": 13.4},
    ),
    row(
        "timeout-no-output",
        "cst-01",
        "",
        0.0,
        Verdict.TIMEOUT,
        "no output",
        finish="timeout",
    ),
    row(
        "timeout-call-not-finished",
        "text-01",
        "<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(",
        0.0,
        Verdict.TIMEOUT,
        "call not finished in time",
        finish="timeout",
    ),
    row(
        "timeout-call-finished-after-the-budget",
        "git-03",
        '<tool_call>{"name": "execute_code", "arguments": {"code": "git_log(\'.\', count=5)"}}'
        "</tool_call>",
        0.0,
        Verdict.TIMEOUT,
        "call finished after the budget",
        finish="timeout",
    ),
    row(
        "timeout-in-a-no-tool-case",
        NO_TOOL,
        LORA_RANK,
        0.0,
        Verdict.TIMEOUT,
        "prose then no call",
        finish="timeout",
    ),
    # --- error: 0 ---------------------------------------------------------------------------
    row(
        "error-backend-failure",
        "text-01",
        "",
        0.0,
        Verdict.ERROR,
        "Generation failed: RuntimeError: out of memory",
        finish="error",
        generation={"error": "RuntimeError: out of memory"},
    ),
    row(
        "error-multiline-message",
        "text-01",
        xml_code(READ_CONFIG),  # whatever came out before the failure earns nothing
        0.0,
        Verdict.ERROR,
        "Generation failed: Traceback",
        finish="error",
        generation={"error": "Traceback (most recent call last):\n  File x\nValueError: boom"},
    ),
]


def run(
    case: Case, catalog: Catalog, output: str, finish: Finish = "stop", **generation: Any
) -> Score:
    """Score one output the way a run does."""
    produced = Generation(output, finish=finish, **generation)
    return score_case(
        case, catalog, produced, parse_output(produced.output, produced.server_tool_calls)
    )


def assert_one_liner(note: str) -> None:
    assert note, "a note explains every score"
    assert note == note.strip()
    assert len(note.splitlines()) == 1, f"note spans lines: {note!r}"
    assert len(note) <= 300, f"note too long: {note!r}"


@pytest.fixture(scope="module")
def golden_cases(cases: Mapping[str, Case]) -> Mapping[str, Case]:
    """The suite's cases plus one that expects no tool, as the held-out no_tool category has."""
    no_tool = replace(
        cases["git-03"],
        id=NO_TOOL,
        category="no_tool",
        prompt="What does LoRA rank mean?",
        expected=(),
        pins={},
    )
    return {**cases, NO_TOOL: no_tool}


@pytest.mark.parametrize("golden", GOLDEN)
def test_golden(golden: Golden, golden_cases: Mapping[str, Case], catalog: Catalog) -> None:
    generation = dict(golden.generation)
    if golden.server_tool_calls:
        generation["server_tool_calls"] = golden.server_tool_calls
    score = run(golden_cases[golden.case], catalog, golden.output, golden.finish, **generation)
    assert (score.value, score.verdict) == (golden.score, golden.verdict), score.note
    assert golden.note in score.note
    assert_one_liner(score.note)
    assert score.full_credit is (golden.score == 1.0)


def test_golden_table_covers_every_verdict() -> None:
    covered = {param.values[0].verdict for param in GOLDEN}
    assert covered | {Verdict.RUNTIME_ERROR} == set(Verdict)  # that one: test_dry_run_score.py


def test_extra_read_only_calls_reach_the_results_json(
    cases: Mapping[str, Case], suite: Suite
) -> None:
    code = 'print(git_diff("."))\nprint(git_log(".", count=5))\nprint(git_status("."))'
    generation = Generation(xml_code(code))
    result = result_from_generation(cases["git-03"], suite, generation).to_dict()
    assert (result["score"], result["verdict"]) == (1.0, "code_mode")
    assert result["extra_calls"] == ["git_diff", "git_status"]
    assert result["tools_called"] == ["git_diff", "git_log", "git_status"]


def test_no_extra_calls_when_only_expected_tools_run(
    cases: Mapping[str, Case], catalog: Catalog
) -> None:
    score = run(cases["multi-01"], catalog, xml_code(CHAIN + '\nprint(read_file("README.md"))'))
    assert (score.value, score.extra_calls) == (1.0, ())


def test_workspace_changing_tools_come_from_the_catalog(catalog: Catalog) -> None:
    assert catalog.mutating == {"write_file", "cst_rename", "cst_add_import", "run_command"}


def test_tools_called_in_execution_order(cases: Mapping[str, Case], catalog: Catalog) -> None:
    code = (
        "print(pytest_run(validate_component(read_file("
        'goto_definition("a.py", 1, 1, "HomeView")[0]["file"]))))'
    )
    score = run(cases["multi-01"], catalog, xml_code(code))
    assert score.tools_called == (
        "goto_definition",
        "read_file",
        "validate_component",
        "pytest_run",
    )


def test_server_tool_calls_ignored_when_text_has_a_call(
    cases: Mapping[str, Case], catalog: Catalog
) -> None:
    server = (openai("execute_code", {"code": READ_CONFIG}),)
    text = hermes("typecheck", {"path": "src/"})
    score = run(cases["text-01"], catalog, text, server_tool_calls=server)
    assert score.verdict is Verdict.WRONG_TOOL
    assert score.tools_called == ("typecheck",)


def test_think_text_is_never_scored(cases: Mapping[str, Case], catalog: Catalog) -> None:
    """The same answer scores the same whatever the think block says or calls."""
    answer = xml_code(READ_CONFIG)
    plain = run(cases["text-01"], catalog, answer)
    for think in ("read_file", hermes("typecheck", {"path": "src/"}), xml_code("syntax error(")):
        assert run(cases["text-01"], catalog, f"<think>{think}</think>{answer}") == plain


# ---------------------------------------------------------------------------------------------
# match_in_order: the longest in-order match of the expected chain.


@pytest.mark.parametrize(
    ("expected", "called", "matched"),
    [
        pytest.param(["a"], ["a"], [0], id="single"),
        pytest.param(["a"], [], [], id="nothing-called"),
        pytest.param([], ["a"], [], id="nothing-expected"),
        pytest.param(["a"], ["b", "c"], [], id="no-match"),
        pytest.param(["a", "b", "c", "d"], ["a", "b", "c", "d"], [0, 1, 2, 3], id="exact-chain"),
        pytest.param(["a", "b", "c", "d"], ["a", "b", "d"], [0, 1, 2], id="missing-middle"),
        pytest.param(["a", "b"], ["x", "a", "y", "b", "z"], [1, 3], id="extra-calls-skipped"),
        pytest.param(["a", "b", "c"], ["c", "a", "b"], [1, 2], id="late-first-step"),
        pytest.param(["a", "b"], ["a", "a", "b"], [0, 2], id="repeated-call"),
        pytest.param(["a", "a"], ["a"], [0], id="repeat-expected-once-called"),
    ],
)
def test_match_in_order(expected: list[str], called: list[str], matched: list[int]) -> None:
    assert match_in_order(expected, called) == matched


def test_match_in_order_reversed_chain_matches_one_step() -> None:
    matched = match_in_order(["a", "b", "c"], ["c", "b", "a"])
    assert len(matched) == 1


def _lcs_length(expected: Sequence[str], called: Sequence[str]) -> int:
    """Brute force: the longest subsequence of `called` that is also one of `expected`."""
    for size in range(min(len(expected), len(called)), 0, -1):
        wanted = {tuple(c) for c in combinations(expected, size)}
        if any(tuple(c) in wanted for c in combinations(called, size)):
            return size
    return 0


NAMES = st.lists(st.sampled_from("abcd"), max_size=6)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(expected=NAMES, called=NAMES)
def test_match_in_order_is_a_longest_in_order_match(expected: list[str], called: list[str]) -> None:
    matched = match_in_order(expected, called)
    assert matched == sorted(set(matched)), "indices increase: the calls happen in order"
    assert all(0 <= i < len(called) for i in matched)
    assert len(matched) == _lcs_length(expected, called)
    picked = [called[i] for i in matched]
    assert _lcs_length(expected, picked) == len(picked), "the picked calls follow the chain"
