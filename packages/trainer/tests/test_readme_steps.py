"""The README's "Train your own model" steps, run literally, end to end, in a scratch checkout.

The commands and ``train.toml`` are parsed out of README.md, so the test breaks when the README
drifts. The scratch folder mirrors the repository root the README's paths are written for (the
suite, noxfile.py, pyproject.toml's pytest settings); ``uv run`` uses this repository's project
and locked environment (``UV_PROJECT``). Only the training length is shortened (one iteration,
batch 1) so the run stays short; every other setting is the README's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

REPO = Path(__file__).resolve().parents[3]
SECTION = "## Train your own model"
SHORT = {"iters": 1, "batch_size": 1, "val_batches": 1, "steps_per_eval": 1, "save_every": 1}
GATE_FAILED = 1  # the last step's status is the gate's: a tiny model misses the real targets


def readme_blocks(readme: str) -> tuple[str, list[str]]:
    """The section's TOML block and the command lines of its bash block."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    toml_block = re.search(r"```toml\n(.*?)```", section, re.S)
    bash_block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert toml_block is not None, "the README section lost its train.toml block"
    assert bash_block is not None, "the README section lost its commands"
    lines = [line for line in bash_block.group(1).splitlines() if line.strip()]
    return toml_block.group(1), lines


def scratch_checkout(root: Path) -> None:
    """The files the README's relative paths and the nox/pytest steps read (root conftest.py
    keeps pytest out of the fixture workspace), copied."""
    shutil.copytree(
        REPO / "evalsuite", root / "evalsuite", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("noxfile.py", "pyproject.toml", "conftest.py"):
        shutil.copy(REPO / name, root / name)


def quick_start_env(root: Path) -> dict[str, str]:
    """A shell as after the Quick start (``pip install uv nox``): ``python3`` has nox and uv."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH (the README's commands need it)")
    bin_dir, modules = root / ".shim" / "bin", root / ".shim" / "lib" / "uv"
    bin_dir.mkdir(parents=True)
    modules.mkdir(parents=True)
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    (modules / "__main__.py").write_text(
        f"import os, sys\nos.execv({uv!r}, [{uv!r}, *sys.argv[1:]])\n"
    )
    env = dict(os.environ)
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(modules.parent),
        "UV_PROJECT": str(REPO),
        "UV_FROZEN": "1",
        "UV_NO_SYNC": "1",  # the locked environment exists; the test must not change it
    }
    return env


@pytest.mark.slow
def test_readme_train_your_own_model_steps_pass_as_written(tmp_path: Path) -> None:
    toml_text, commands = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 8, commands
    scratch_checkout(tmp_path)
    config = tomllib.loads(toml_text) | SHORT
    (tmp_path / "train.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
    env = quick_start_env(tmp_path)
    for index, command in enumerate(commands):
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        output = done.stdout + done.stderr
        assert "Traceback" not in output, (command, output[-3000:])
        last = index == len(commands) - 1
        allowed = {0, GATE_FAILED} if last else {0}
        assert done.returncode in allowed, (command, done.returncode, output[-3000:])
        if "preflight" in command:
            assert "all checks passed" in done.stdout
    run = tmp_path / "runs" / "phase41"
    for name in ("metrics.toml", "quantized/config.json", "sweep/sweep.json", "report.md"):
        assert (run / name).is_file(), name
