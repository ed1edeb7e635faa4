"""A fleet of real `mlx_lm.server` processes on 127.0.0.1, all serving the same offline model.

Each run is 11 cases of the reference suite (8 tokens each) through the plugin, in its own pytest
process; the sharpened model answers the cases differently, so "equal to a one-server run"
compares distinct greedy outputs. One test kills a server (SIGKILL) in the middle of a run: its
cases must be answered by the others, each exactly once, and the results must still equal the
one-server run's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_fixture import mlx_server, mlx_server_process

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
SELECTED = ("-m", "git or cst or lsp")
N_CASES = 11
# What differs from run to run or from fleet to fleet; everything else must be equal.
NOT_COMPARED = {"seconds", "tokens_per_second", "cached", "endpoint", "endpoint_failures"}
# Loaded by the run under test: when the first case starts, the victim server is stopped (the
# requests sent to it wait, in flight) and SIGKILLed a second later, while the others answer.
KILL_DURING_FIRST_CASE = """
import os, signal, threading
def pytest_runtest_call(item):
    if not os.path.exists("stopped"):
        open("stopped", "w").close()
        pid = int(open("victim.pid").read())
        os.kill(pid, signal.SIGSTOP)
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
"""


@pytest.fixture(scope="module")
def two_servers(
    sharp_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    with (
        mlx_server(sharp_model_dir, tmp_path_factory.mktemp("server-a")) as first,
        mlx_server(sharp_model_dir, tmp_path_factory.mktemp("server-b")) as second,
    ):
        yield [first, second]


@pytest.fixture(scope="module")
def one_server_results(
    two_servers: list[str], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """The reference: the suite against the first server alone."""
    folder = tmp_path_factory.mktemp("one-server")
    return comparable(evaluate(folder, two_servers[:1]))


def evaluate(folder: Path, urls: list[str], *extra: str) -> dict[str, Any]:
    """Run the suite in a fresh pytest process; its results document."""
    if not (folder / "evalsuite").exists():
        shutil.copytree(
            EVALSUITE,
            folder / "evalsuite",
            ignore=shutil.ignore_patterns("workspace", "__pycache__", "replays"),
        )
    command = [
        sys.executable, "-m", "pytest", "evalsuite", *SELECTED, "-p", "no:cacheprovider", "-q",
        "--codemode-backend=openai", f"--codemode-base-url={','.join(urls)}",
        "--codemode-max-tokens=8", "--codemode-time-budget=20", "--codemode-cache=off",
        "--codemode-results=r.json", *extra,
    ]  # fmt: skip
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
    assert (folder / "r.json").is_file(), run.stdout + run.stderr
    document: dict[str, Any] = json.loads((folder / "r.json").read_text("utf-8"))
    document["terminal"] = run.stdout
    return document


def comparable(document: dict[str, Any]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = document["cases"]
    return [{k: v for k, v in case.items() if k not in NOT_COMPARED} for case in cases]


@pytest.mark.slow
def test_two_servers_give_the_one_server_results(
    two_servers: list[str], one_server_results: list[dict[str, Any]], tmp_path: Path
) -> None:
    document = evaluate(tmp_path, two_servers, "--codemode-batch-size=2", "--codemode-report=r.md")
    assert len(one_server_results) == N_CASES
    assert len({case["output"] for case in one_server_results}) >= 8  # not vacuous
    assert comparable(document) == one_server_results
    rows = document["endpoints"]
    assert [row["url"] for row in rows] == two_servers
    assert all(row["cases"] >= 1 and row["failures"] == 0 for row in rows)
    assert sum(row["cases"] for row in rows) == N_CASES
    assert [e["url"] for e in document["identity"]["model"]["endpoints"]] == two_servers
    assert "## Endpoints" in (tmp_path / "r.md").read_text("utf-8")


@pytest.mark.slow
def test_a_server_killed_mid_run_loses_no_case(
    two_servers: list[str],
    one_server_results: list[dict[str, Any]],
    sharp_model_dir: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "conftest.py").write_text(KILL_DURING_FIRST_CASE, encoding="utf-8")
    with mlx_server_process(sharp_model_dir, tmp_path / "victim") as (victim, process):
        (tmp_path / "victim.pid").write_text(str(process.pid), encoding="utf-8")
        document = evaluate(tmp_path, [victim, *two_servers])
        assert process.poll() is not None  # it was killed during the run
    assert comparable(document) == one_server_results  # complete, each case once, same outputs
    rows = {row["url"]: row for row in document["endpoints"]}
    assert list(rows) == [victim, *two_servers]
    assert rows[victim]["failures"] >= 1  # the requests it held when killed
    assert rows[victim]["cases"] == 0  # stopped before its first answer
    assert "connect" in str(rows[victim]["left_rotation"])
    assert sum(row["cases"] for row in rows.values()) == N_CASES
    assert all(rows[url]["cases"] > 0 for url in two_servers)
    assert "failed over" in document["terminal"]
