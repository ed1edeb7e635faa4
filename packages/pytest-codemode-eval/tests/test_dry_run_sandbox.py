"""The dry-run sandbox on its own: what it records, and every escape attempt contained.

Each escape ends as a value (`raised` or `unsupported`, with the exception line), the host is
untouched (the file the code tries to write never appears), and the next run in the same pool
still works. No test asserts wall-clock time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run import fake_tools
from pytest_codemode_eval.dry_run.sandbox import LIMITS, STDOUT_LIMIT, Sandbox
from pytest_codemode_eval.dry_run.trace import DryRun, RunStatus
from pytest_codemode_eval.suite import Suite

RAISED, UNSUPPORTED = RunStatus.RAISED, RunStatus.UNSUPPORTED


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as pool:
        yield pool


@pytest.fixture(scope="module")
def workspace(suite: Suite) -> Path:
    return suite.path.parent / "workspace"


def dry(sandbox: Sandbox, catalog: Catalog, code: str, workspace: Path | None = None) -> DryRun:
    return sandbox.run(code, catalog, workspace)


# (name, code with {marker} for a file it tries to create, status, exception line fragment)
ESCAPES = [
    ("os.system", "import os\nos.system('touch {marker}')", UNSUPPORTED,
     "module 'os' has no attribute 'system'"),
    ("subprocess", "import subprocess\nsubprocess.run(['touch', '{marker}'])", UNSUPPORTED,
     "No module named 'subprocess'"),
    ("open for writing", "open('{marker}', 'w').write('pwned')", RAISED, "PermissionError"),
    ("open /etc/passwd", "print(open('/etc/passwd').read())", RAISED, "PermissionError"),
    ("pathlib write", "from pathlib import Path\nPath('{marker}').write_text('x')", RAISED,
     "PermissionError"),
    ("__import__", "__import__('os').system('touch {marker}')", RAISED,
     "NameError: name '__import__' is not defined"),
    ("eval of __import__", "eval(\"__import__('os').system('touch {marker}')\")", RAISED,
     "NameError"),
    ("__subclasses__", "print(().__class__.__subclasses__())", RAISED, "AttributeError"),
    ("__bases__ walk", "print(().__class__.__bases__[0].__subclasses__())", RAISED,
     "AttributeError"),
    ("a tool's __globals__", "print(read_file.__globals__)", RAISED, "AttributeError"),
    ("os.environ", "import os\nprint(os.environ)", UNSUPPORTED, "os.environ"),
    ("sys.exit", "import sys\nsys.exit(3)", UNSUPPORTED, "module 'sys' has no attribute 'exit'"),
    ("infinite loop", "while True:\n    pass", RAISED, "TimeoutError"),
    ("memory bomb", "x = 'a' * (10 ** 9)", RAISED, "MemoryError"),
    # 8 MB a step: the 64 MB heap limit trips within a few steps, long before the time limit,
    # even on a loaded machine (10,000-item steps took 1.1 s there and hit the time limit).
    ("growing memory bomb", "x = []\nwhile True:\n    x.append([0] * 1000000)", RAISED,
     "MemoryError"),
    ("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)", RAISED, "RecursionError"),
    ("tool-call flood", "while True:\n    read_file('src/app.py')", RAISED,
     "suspension limit"),
    ("PEP 723 dependency", "# /// script\n# dependencies = ['requests']\n# ///\nimport requests",
     RAISED, "No module named 'requests'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "fragment"),
    [pytest.param(code, status, fragment, id=name) for name, code, status, fragment in ESCAPES],
)
def test_escape_attempts_are_contained(
    sandbox: Sandbox, catalog: Catalog, tmp_path: Path, code: str, status: str, fragment: str
) -> None:
    marker = tmp_path / "pwned"
    run = dry(sandbox, catalog, code.format(marker=marker))
    assert (run.status, fragment in (run.error or "")) == (status, True), run
    assert not marker.exists()
    assert dry(sandbox, catalog, "print(1 + 1)").stdout == "2\n"  # the session survives


def test_the_host_environment_does_not_leak(
    sandbox: Sandbox, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEMODE_TEST_SECRET", "hunter2")
    run = dry(sandbox, catalog, "import os\nprint(os.getenv('CODEMODE_TEST_SECRET'))")
    assert "hunter2" not in run.stdout
    assert run.status is UNSUPPORTED


def test_limits_are_the_documented_ones() -> None:
    assert LIMITS["max_feed_duration_secs"] == 1.0
    assert LIMITS["max_memory"] == 64 * 1024 * 1024


def test_sleeping_does_not_wait(sandbox: Sandbox, catalog: Catalog) -> None:
    run = dry(sandbox, catalog, "import time\ntime.sleep(3600)\nprint('awake')")
    assert (run.status, run.stdout) == (RunStatus.COMPLETED, "awake\n")


def test_printed_output_is_capped(sandbox: Sandbox, catalog: Catalog) -> None:
    run = dry(sandbox, catalog, "for i in range(100):\n    print('x' * 1000)")
    assert len(run.stdout) == STDOUT_LIMIT + 1
    assert run.stdout.endswith("…")


def test_a_loop_records_one_call_per_path_with_its_value(
    sandbox: Sandbox, catalog: Catalog, workspace: Path
) -> None:
    code = "files = ['src/app.py', 'src/agent/config.py']\nfor f in files:\n    read_file(f)"
    run = dry(sandbox, catalog, code, workspace)
    assert run.status is RunStatus.COMPLETED
    assert [(c.tool, c.args) for c in run.calls] == [
        ("read_file", ("src/app.py",)),
        ("read_file", ("src/agent/config.py",)),
    ]


def test_a_built_path_binds_its_value(sandbox: Sandbox, catalog: Catalog) -> None:
    run = dry(sandbox, catalog, "x = 'views'\npath = 'src/' + x\nruff_check(path, **{})")
    assert [(c.tool, c.args) for c in run.calls] == [("ruff_check", ("src/views",))]


def test_results_come_from_the_workspace(
    sandbox: Sandbox, catalog: Catalog, workspace: Path
) -> None:
    code = "print(read_file('src/agent/config.py').splitlines()[0])"
    run = dry(sandbox, catalog, code, workspace)
    first = (workspace / "src/agent/config.py").read_text().splitlines()[0]
    assert run.stdout == first + "\n"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("r = goto_definition('src/app.py', 1, 0, 'AgentConfig')\nprint(r.success)",
         "AttributeError: 'list' object has no attribute 'success' (line 2)"),
        ("for d in ruff_check('src/'):\n    print(d['fixable'])", "KeyError: fixable (line 2)"),
        ("for loc in goto_definition('src/app.py', 1, 0, 'AgentConfig'):\n    print(loc.file)",
         "AttributeError: 'dict' object has no attribute 'file' (line 2)"),
        ("print(read_file('a.py', encoding='utf-8'))",
         "TypeError: read_file(): got an unexpected keyword argument 'encoding' (line 1)"),
        ("print(git_log('.', count=5))\nprint(commits)",
         "NameError: name 'commits' is not defined (line 2)"),
    ],
)  # fmt: skip
def test_results_have_exactly_the_declared_fields(
    sandbox: Sandbox, catalog: Catalog, workspace: Path, code: str, error: str
) -> None:
    run = dry(sandbox, catalog, code, workspace)
    assert (run.status, run.error_line) == (RAISED, error)
    assert run.calls, "the call before the error is still recorded"


def test_declared_fields_read_fine(sandbox: Sandbox, catalog: Catalog, workspace: Path) -> None:
    code = (
        "report = pytest_run('tests/')\nprint(report['passed'] >= 0, report['errors'] == [] or 1)\n"
        "for d in typecheck('src/'):\n    print(d['file'], d['line'], d['code'])\n"
        "print(validate_component('src/views/home.py')['issues'][0]['message'])"
    )
    run = dry(sandbox, catalog, code, workspace)
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.stdout.count("\n") >= 3


def test_a_killed_worker_is_a_note_and_the_next_run_gets_a_fresh_one(
    sandbox: Sandbox, catalog: Catalog, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc").is_dir():
        pytest.skip("finds the worker through /proc")

    def kill_workers(self: object, path: str) -> str:
        for pid in _children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        return ""

    monkeypatch.setattr(fake_tools.FakeTools, "read_file", kill_workers)
    run = dry(sandbox, catalog, "print(read_file('src/app.py'))", workspace)
    assert run.status is RunStatus.CRASHED
    assert "SIGKILL" in (run.error or "")
    monkeypatch.undo()
    assert dry(sandbox, catalog, "print('again')").stdout == "again\n"


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == parent and b"monty" in cmdline:
                found.append(int(entry.name))
    return found
