"""`--codemode-dry-run` end to end through pytester, on the mini suite with a fixture workspace.

The replay's code binds a built path (credited only at run time), reads a field its result lacks
(`runtime_error`), reaches for `os.system` (not supported: scored statically, with a note) and
tries to write a file (denied: `runtime_error`, and no file appears). Without the option nothing
runs and the results carry no trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_plugin import REPLAY, code_mode, replay_text, write_mini_suite

DRY_REPLAY: list[dict[str, Any]] = [
    {
        "id": "text-01",
        "output": code_mode('for p in ["src/" + "app.py"]:\n    print(read_file(p))'),
    },
    {"id": "git-01", "output": code_mode('import os\nos.system("touch pwned-1")\ngit_status()')},
    {"id": "cst-01", "output": code_mode('open("pwned-2", "w").write("x")')},
    {"id": "lsp-01", "output": code_mode('r = goto_definition("src/app.py", "App")\nr.success')},
]
APP = 'class App:\n    """The application."""\n'


@pytest.fixture
def dry_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    write_mini_suite(pytester.path)
    (pytester.path / "replay.jsonl").write_text(replay_text(DRY_REPLAY), encoding="utf-8")
    (pytester.path / "workspace/src").mkdir(parents=True)
    (pytester.path / "workspace/src/app.py").write_text(APP, encoding="utf-8")
    return pytester


def cases_of(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {case["id"]: case for case in data["cases"]}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_dry_run_scores_what_the_code_does(dry_suite: pytest.Pytester, workers: list[str]) -> None:
    run = dry_suite.runpytest_subprocess if workers else dry_suite.runpytest
    result = run(*REPLAY, "--codemode-dry-run", "--codemode-results=dry.json", *workers)
    assert result.ret == 1, result.stdout.str()  # cst-01 and lsp-01 fail
    cases = cases_of(dry_suite.path / "dry.json")
    verdicts = {case_id: (c["score"], c["verdict"]) for case_id, c in cases.items()}
    assert verdicts == {
        "text-01": (1.0, "code_mode"),
        "git-01": (1.0, "code_mode"),
        "cst-01": (0.0, "runtime_error"),
        "lsp-01": (0.0, "runtime_error"),
    }
    assert "'list' object has no attribute 'success' (line 2)" in cases["lsp-01"]["note"]
    assert "not supported by the sandbox" in cases["git-01"]["note"]
    (trace,) = cases["text-01"]["dry_run"]
    assert trace["calls"] == [{"tool": "read_file", "args": ["src/app.py"], "kwargs": {}}]
    assert trace["stdout"] == APP  # the fixture workspace's file, not a made-up text
    assert not list(dry_suite.path.rglob("pwned*"))


def test_without_the_option_nothing_runs(dry_suite: pytest.Pytester) -> None:
    result = dry_suite.runpytest(*REPLAY, "--codemode-results=static.json")
    cases = cases_of(dry_suite.path / "static.json")
    assert result.ret == 1
    assert {c["dry_run"] for c in cases.values()} == {None}
    assert cases["text-01"]["verdict"] == "bad_arguments"  # the built path is unknown statically
    assert cases["lsp-01"]["verdict"] == "code_mode"  # the missing field goes unseen


def test_the_ini_twin_and_the_no_flag(dry_suite: pytest.Pytester) -> None:
    dry_suite.makeini("[pytest]\ncodemode_dry_run = true\n")
    on = dry_suite.runpytest(*REPLAY, "--codemode-results=on.json")
    off = dry_suite.runpytest(*REPLAY, "--no-codemode-dry-run", "--codemode-results=off.json")
    assert (on.ret, off.ret) == (1, 1)
    assert cases_of(dry_suite.path / "on.json")["lsp-01"]["verdict"] == "runtime_error"
    assert cases_of(dry_suite.path / "off.json")["lsp-01"]["dry_run"] is None
