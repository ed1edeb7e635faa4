"""Golden tests of scoring with a dry run: the calls the code really makes are scored.

Each row gives the verdict with the dry run and without it (static reading), so every row shows
what the dry run changes; the outputs are Code Mode calls for cases of the real suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.dry_run.sandbox import Sandbox
from pytest_codemode_eval.evaluate import result_from_generation
from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.suite import Case, Suite
from pytest_codemode_eval.verdicts import Verdict


def code_mode(code: str) -> str:
    arguments = json.dumps({"name": "execute_code", "arguments": {"code": code}})
    return f"<tool_call>{arguments}</tool_call>"


@dataclass(frozen=True)
class Golden:
    name: str
    case: str
    code: str
    dry: tuple[float, Verdict]
    static: tuple[float, Verdict]
    note: str  # a fragment of the note with the dry run


CONFIG = "src/agent/config.py"
GOLDEN = [
    Golden("field the result lacks", "lsp-01",
           "r = goto_definition('src/app.py', 1, 0, 'AgentConfig')\n"
           "if r.success:\n    print(r.locations[0].file)",
           (0.0, Verdict.RUNTIME_ERROR), (1.0, Verdict.CODE_MODE),
           "Runtime error: AttributeError: 'list' object has no attribute 'success' (line 2)"),
    Golden("undefined name", "git-03", "print(git_log('.', count=5))\nprint(commits[0])",
           (0.0, Verdict.RUNTIME_ERROR), (1.0, Verdict.CODE_MODE),
           "NameError: name 'commits' is not defined (line 2)"),
    Golden("unknown keyword", "text-01", f"print(read_file('{CONFIG}', encoding='utf-8'))",
           (0.0, Verdict.RUNTIME_ERROR), (0.5, Verdict.BAD_ARGUMENTS),
           "TypeError: read_file(): got an unexpected keyword argument 'encoding'"),
    Golden("string-built path binds the pin", "text-01",
           "base = 'src/agent'\npath = base + '/config.py'\nprint(read_file(path))",
           (1.0, Verdict.CODE_MODE), (0.5, Verdict.BAD_ARGUMENTS), "Code Mode call of read_file"),
    Golden("f-string path binds the pin", "valid-01", "d = 'src'\nprint(typecheck(f'{d}/'))",
           (1.0, Verdict.CODE_MODE), (0.5, Verdict.BAD_ARGUMENTS), "Code Mode call of typecheck"),
    Golden("loop variable binds the pin", "text-01",
           f"for p in ['{CONFIG}']:\n    print(read_file(p))",
           (1.0, Verdict.CODE_MODE), (0.5, Verdict.BAD_ARGUMENTS), "Code Mode call of read_file"),
    Golden("a call that never runs", "text-01",
           f"def later():\n    return read_file('{CONFIG}')\nprint('done')",
           (0.0, Verdict.WRONG_TOOL), (1.0, Verdict.CODE_MODE), "no catalog tool in the code"),
    Golden("a chain through results", "multi-01",
           "loc = goto_definition('src/views/home.py', 1, 0, 'HomeView')[0]\n"
           "text = read_file(loc['file'])\nreport = validate_component(loc['file'])\n"
           "if not report['ok']:\n    print(report['issues'])\nprint(pytest_run('tests/'))",
           (1.0, Verdict.CODE_MODE), (1.0, Verdict.CODE_MODE), "Code Mode call of goto_definition"),
    Golden("sandbox cannot run it: static with a note", "text-01",
           f"import textwrap\nprint(textwrap.dedent(read_file('{CONFIG}')))",
           (1.0, Verdict.CODE_MODE), (1.0, Verdict.CODE_MODE),
           "(dry run: not supported by the sandbox, ModuleNotFoundError: No module named "
           "'textwrap' (line 1); scored statically)"),
    Golden("escape attempt", "text-02",
           "open('output/summary.txt', 'w').write('Phase 40 complete')",
           (0.0, Verdict.RUNTIME_ERROR), (0.0, Verdict.WRONG_TOOL), "PermissionError"),
    Golden("escape before a tool call", "text-02",
           "import subprocess\nsubprocess.run(['rm', '-rf', '/'])\n"
           "write_file('output/summary.txt', 'Phase 40 complete')",
           (1.0, Verdict.CODE_MODE), (1.0, Verdict.CODE_MODE),
           "No module named 'subprocess'"),
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as pool:
        yield pool


def test_the_golden_table_has_a_runtime_error() -> None:
    assert Verdict.RUNTIME_ERROR in {golden.dry[1] for golden in GOLDEN}


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.name for g in GOLDEN])
def test_golden_with_and_without_the_dry_run(
    golden: Golden, suite: Suite, cases: Mapping[str, Case], sandbox: Sandbox
) -> None:
    generation = Generation(code_mode(golden.code))
    case = cases[golden.case]
    dry = result_from_generation(case, suite, generation, sandbox)
    static = result_from_generation(case, suite, generation)
    assert (dry.score, dry.verdict) == golden.dry, dry.note
    assert golden.note in dry.note
    assert (static.score, static.verdict) == golden.static, static.note
    assert static.dry_run is None
    assert dry.dry_run is not None
    assert len(dry.dry_run) == 1


def test_the_trace_lists_calls_stdout_and_error(
    suite: Suite, cases: Mapping[str, Case], sandbox: Sandbox
) -> None:
    code = "for f in ['src/app.py', 'src/agent/config.py']:\n    read_file(f)\nprint('read')\nx.y"
    result = result_from_generation(cases["text-01"], suite, Generation(code_mode(code)), sandbox)
    assert result.dry_run is not None
    (trace,) = result.dry_run
    assert trace["status"] == "raised"
    assert trace["calls"] == [
        {"tool": "read_file", "args": ["src/app.py"], "kwargs": {}},
        {"tool": "read_file", "args": ["src/agent/config.py"], "kwargs": {}},
    ]
    assert (trace["stdout"], trace["error"], trace["line"]) == (
        "read\n",
        "NameError: name 'x' is not defined",
        4,
    )
    assert json.loads(json.dumps(result.to_dict()))["dry_run"] == [trace]
    assert CaseResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert result.tools_called == ("read_file", "read_file")


def test_outputs_without_code_never_reach_the_sandbox(
    suite: Suite, cases: Mapping[str, Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the sandbox ran")

    monkeypatch.setattr(Sandbox, "run", refuse)
    direct = '<tool_call>{"name": "git_log", "arguments": {"path": ".", "count": 5}}</tool_call>'
    for output, finish in [(direct, "stop"), ("Run git log.", "stop"), (code_mode("x"), "timeout")]:
        result = result_from_generation(
            cases["git-03"], suite, Generation(output, finish=finish), Sandbox()
        )
        assert result.dry_run == ()
