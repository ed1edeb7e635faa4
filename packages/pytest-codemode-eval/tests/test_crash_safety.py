"""Nothing lost: a killed run resumes from the output cache, SIGTERM/SIGINT leave partial files
marked incomplete, a crashed xdist worker costs only its case, bad output paths stop the run
before the first case."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_fixture import FakeHandler, FakeServer, chunk, fake_server, sse

from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.output_cache import OutputCache, read_entries

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
SELECTED = ("-m", "git or cst or lsp")  # 11 cases
N_SELECTED = 11
ANSWER_DELAY = 0.4  # seconds per answer: time to kill a run in the middle


def echo(handler: FakeHandler) -> None:
    """Answer each request with a call that names its own prompt: outputs differ per case and do
    not depend on the order cases run in."""
    prompt = handler.server.bodies[-1]["messages"][-1]["content"]
    sse(chunk(content=f"Prose about: {prompt}", finish="stop"), delay=ANSWER_DELAY)(handler)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with fake_server(("fake-model",), echo) as running:
        yield running


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(EVALSUITE, tmp_path / "evalsuite", ignore=shutil.ignore_patterns("workspace"))
    return tmp_path


def command(server: FakeServer, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "evalsuite", *SELECTED, "-p", "no:cacheprovider",
        "--codemode-backend=openai", f"--codemode-base-url={server.base_url}",
        "--codemode-api-model=fake-model", *extra,
    ]  # fmt: skip


def run(workdir: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CODEMODE_CACHE": "off"}
    return subprocess.run(
        args, cwd=workdir, capture_output=True, text=True, env=env, timeout=300,
        preexec_fn=ctrl_c_heard,
    )  # fmt: skip


def ctrl_c_heard() -> None:
    """The run hears SIGINT even where this test's own process ignores it: a job started in the
    background by a non-interactive shell (as CI scripts do) ignores SIGINT, and an ignored
    signal stays ignored across exec, so Python would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Wall time differs from run to run; a cached output was answered by no endpoint this run.
TIMING = {"cached", "seconds", "tokens_per_second", "endpoint", "endpoint_failures"}


def comparable(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["cases"]
    return [{k: v for k, v in case.items() if k not in TIMING} for case in cases]


def cached_lines(cache: Path) -> int:
    return sum(len(read_entries(folder)) for folder in cache.glob("*") if folder.is_dir())


def start_and_stop(workdir: Path, args: list[str], cache: Path, sig: int, after: int) -> str:
    """Start a run, wait until `after` outputs are cached, send `sig`; the run's stdout."""
    env = {**os.environ, "CODEMODE_CACHE": "off"}
    process = subprocess.Popen(
        args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=ctrl_c_heard,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while cached_lines(cache) < after and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.05)
    process.send_signal(sig)
    out, _ = process.communicate(timeout=120)
    return out


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_from_the_cache(
    workdir: Path, server: FakeServer
) -> None:
    reference = run(workdir, command(server, "--codemode-results=ref.json", "--codemode-cache=off"))
    assert reference.returncode == 1, reference.stdout  # prose everywhere: below full credit
    cache = workdir / "cache"
    cached = command(server, f"--codemode-cache={cache}", "--codemode-results=r.json")
    start_and_stop(workdir, cached, cache, signal.SIGKILL, after=4)
    assert not (workdir / "r.json").exists()  # SIGKILL: nothing could be written but the cache
    done_before = cached_lines(cache)
    assert 4 <= done_before < N_SELECTED
    posts = len(server.bodies)
    rerun = run(workdir, cached)
    assert len(server.bodies) - posts == N_SELECTED - done_before  # only the missing ones
    assert f"codemode cache: {done_before} of {N_SELECTED} outputs from the cache" in rerun.stdout
    assert comparable(workdir / "r.json") == comparable(workdir / "ref.json")
    posts = len(server.bodies)
    again = run(workdir, cached)
    assert len(server.bodies) == posts  # a second identical run generates nothing
    assert f"codemode cache: {N_SELECTED} of {N_SELECTED} outputs from the cache" in again.stdout
    assert comparable(workdir / "r.json") == comparable(workdir / "ref.json")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_sigterm_and_sigint_write_partial_files_marked_incomplete(
    workdir: Path, server: FakeServer, sig: int
) -> None:
    cache = workdir / "cache"
    args = command(
        server, f"--codemode-cache={cache}", "--codemode-results=r.json", "--codemode-report=r.md"
    )
    out = start_and_stop(workdir, args, cache, sig, after=3)
    document = json.loads((workdir / "r.json").read_text("utf-8"))
    assert document["identity"].get("incomplete") is True, out
    # the signal can land while the third cached output's case is still being scored
    assert 2 <= len(document["cases"]) < N_SELECTED
    assert len(document["identity"]["not_run"]) >= N_SELECTED - len(document["cases"]) - 1
    assert document["overall"]["evaluated"] is False
    markdown = (workdir / "r.md").read_text("utf-8")
    assert "INCOMPLETE: the run was interrupted" in markdown


@pytest.mark.slow
def test_a_crashed_xdist_worker_costs_only_its_case(workdir: Path, server: FakeServer) -> None:
    (workdir / "conftest.py").write_text(
        "import os, signal\n"
        "def pytest_runtest_call(item):\n"
        "    if item.name == 'cst-02' and not os.path.exists('crashed-once'):\n"
        "        open('crashed-once', 'w').close()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n",
        encoding="utf-8",
    )
    result = run(workdir, command(server, "-n", "2", "--codemode-results=r.json"))
    assert "crashed" in result.stdout.lower() or "worker" in result.stdout.lower()
    document = json.loads((workdir / "r.json").read_text("utf-8"))
    ids = {case["id"] for case in document["cases"]}
    assert ids == {*_selected_ids(workdir)} - {"cst-02"}
    assert document["missing"] == ["cst-02"]


def _selected_ids(workdir: Path) -> list[str]:
    from pytest_codemode_eval.suite import load_suite

    suite = load_suite(workdir / "evalsuite" / "suite.toml")
    return [case.id for case in suite.cases if case.category in {"git", "cst", "lsp"}]


def test_the_cache_skips_a_torn_last_line_and_never_keeps_errors(tmp_path: Path) -> None:
    cache = OutputCache(tmp_path)
    cache.put("k1", "git-01", Generation("one", 1.0, "stop", 10, 3))
    cache.put("k2", "git-02", Generation("", 0.1, "error", error="refused"))
    cache.close()
    (path,) = tmp_path.glob("*.jsonl")
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"key": "k3", "output": "cut off by SIGK')  # a write killed halfway
    again = OutputCache(tmp_path)
    assert again.get("k1") == Generation("one", 1.0, "stop", 10, 3)
    assert again.get("k2") is None  # a failed generation is tried again next time
    assert again.get("k3") is None


@pytest.mark.parametrize("flag", ["--codemode-report", "--codemode-results", "--codemode-record"])
def test_an_output_path_that_is_a_directory_stops_the_run_before_any_case(
    pytester: pytest.Pytester, flag: str
) -> None:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    (pytester.path / "out").mkdir()
    result = pytester.runpytest(
        "evalsuite", "--codemode-backend=replay",
        "--codemode-replay=evalsuite/replays/phase40-8b.jsonl", f"{flag}=out",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {flag}: {pytester.path / 'out'} is a directory; expected a file path" in (
        result.stderr.lines
    )


SWALLOWING_CONFTEST = """
import os
import signal
import time

import pytest

finished = []


class Finaliser:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the handler runs in here: its KeyboardInterrupt is only "ignored"


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    finished.append(item.nodeid)
    if len(finished) == 3:
        Finaliser()  # dropped at once, so __del__ runs now
"""


@pytest.mark.slow
def test_a_stop_signal_swallowed_by_a_finaliser_still_stops_the_run(workdir: Path) -> None:
    """Ctrl-C landing inside a `__del__` is reported as unraisable and forgotten by Python; the
    run must still stop before the next case and say it is incomplete (before: it ran on)."""
    (workdir / "evalsuite" / "conftest.py").write_text(SWALLOWING_CONFTEST, encoding="utf-8")
    result = run(
        workdir,
        [
            sys.executable, "-m", "pytest", "evalsuite", "-p", "no:cacheprovider",
            "--codemode-backend=replay", "--codemode-replay=evalsuite/replays/phase40-8b.jsonl",
            "--codemode-results=r.json",
        ],
    )  # fmt: skip
    assert result.returncode == pytest.ExitCode.INTERRUPTED, result.stdout
    document = json.loads((workdir / "r.json").read_text("utf-8"))
    assert document["identity"]["incomplete"] is True
    assert len(document["cases"]) == 3
    assert len(document["identity"]["not_run"]) == 27 - 3
