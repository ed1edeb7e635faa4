"""A replay run starts without the model stack: `pytest evalsuite --codemode-backend=replay`
imports no mlx (it would cost seconds of start-up, and a replay needs no model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
MLX_ROOTS = ("mlx", "mlx_lm")

PROBE = """
import json, sys

def _modules():
    return sorted(sys.modules)

def pytest_runtest_setup(item):
    if not hasattr(sys, "_probe_first_case"):
        sys._probe_first_case = _modules()

def pytest_unconfigure(config):
    with open("modules.json", "w") as out:
        json.dump({"first_case": sys._probe_first_case, "end": _modules()}, out)
"""


def test_a_replay_run_imports_no_mlx(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(modules_probe=PROBE)
    outcome = pytester.runpytest_subprocess(
        "evalsuite", "--codemode-backend=replay",
        "--codemode-replay=evalsuite/replays/phase40-8b.jsonl", "-p", "modules_probe",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert outcome.ret in (0, 1), outcome.stdout.str()
    outcome.stdout.fnmatch_lines(["*27 *"])  # every case ran
    seen = json.loads((pytester.path / "modules.json").read_text())
    for moment in ("first_case", "end"):
        assert "pytest_codemode_eval.backends.replay" in seen[moment]  # the probe saw the run
        assert [m for m in seen[moment] if m.split(".")[0] in MLX_ROOTS] == []
