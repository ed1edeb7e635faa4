"""An ini file can turn the gate on for CI, and the command line can still turn it off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"


@pytest.fixture
def gated(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    pytester.makeini(
        "[pytest]\ncodemode_backend = replay\n"
        "codemode_replay = evalsuite/replays/phase40-8b.jsonl\ncodemode_gate = true\n"
    )
    return pytester


def test_ini_gate_decides_the_exit_status(gated: pytest.Pytester) -> None:
    result = gated.runpytest("evalsuite", "-k", "git")
    result.assert_outcomes(passed=3)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["codemode gate: git 33.3% < target 90.0%"])


@pytest.mark.slow
def test_no_codemode_gate_turns_the_ini_gate_off(gated: pytest.Pytester) -> None:
    result = gated.runpytest("evalsuite", "-k", "git", "--no-codemode-gate")
    result.assert_outcomes(failed=3)  # below full credit, without the gate
    assert "codemode gate:" not in result.stdout.str()
