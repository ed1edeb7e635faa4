"""Evaluating a model on a suite the way a user would, for every job that scores models.

The demo scores the untrained and the trained model, the sweep every checkpoint: both run
``pytest SUITE --codemode-backend=mlx`` in a subprocess (a fresh process per model: no model or
patched mlx-lm state leaks between evaluations) and read the overall score, the per-category
scores and the paired comparison from the ``results.json`` it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from codemode_trainer.jobs.pipeline import PipelineError


class Evaluate(Protocol):
    """``evaluate``'s signature, for jobs that take another evaluation (tests pass a fake)."""

    def __call__(
        self, model: Path, suite_path: Path, out_dir: Path, out: TextIO, *, quiet: bool
    ) -> float: ...


def evaluate(
    model: Path,
    suite_path: Path,
    out_dir: Path,
    out: TextIO,
    *,
    quiet: bool,
    baseline: Path | None = None,
    extra: Sequence[str] = (),
) -> float:
    """`pytest SUITE --codemode-backend=mlx --codemode-dry-run` in a subprocess, as a user would
    run it; with `baseline` (an earlier results file) the run compares itself case by case.

    It runs from the suite's parent folder, so every path is made absolute first (a relative
    `--run runs/x` is what `nox -s demo` passes)."""
    model, suite_path, out_dir = model.absolute(), suite_path.absolute(), out_dir.absolute()
    selected = [f"--codemode-suite={suite_path}"]  # a nested suite runs only when selected
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    command = [
        sys.executable, "-m", "pytest", str(suite_path.parent), "-p", "no:cacheprovider",
        "--override-ini=addopts=", "--codemode-backend=mlx", f"--codemode-model={model}",
        f"--codemode-results={results}", f"--codemode-report={out_dir / 'report.md'}",
        f"--codemode-html={out_dir / 'report.html'}",
        "--codemode-gate", "--codemode-dry-run", "-q", "--no-header", *selected, *extra,
    ]  # fmt: skip
    if baseline is not None:
        command.append(f"--codemode-baseline={baseline.absolute()}")
    done = subprocess.run(
        command, cwd=suite_path.parent.parent, capture_output=quiet, text=True, check=False
    )
    if not results.is_file():
        detail = ((done.stdout or "") + (done.stderr or ""))[-2000:].strip() if quiet else ""
        detail = f": {detail}" if detail else ""
        status = done.returncode
        raise PipelineError(f"evaluation of {model} wrote no results (exit {status}){detail}")
    document: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    return float(document["overall"]["score"])


def read_categories(results: Path) -> dict[str, float]:
    """Per-category scores from an evaluation's results.json ({} when absent or unreadable)."""
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    scores: dict[str, float] = {}
    for row in document.get("categories", []) if isinstance(document, dict) else []:
        if isinstance(row, dict) and isinstance(row.get("name"), str):
            score = row.get("score")
            if isinstance(score, int | float) and not isinstance(score, bool):
                scores[row["name"]] = float(score)
    return scores


def read_comparison(results: Path) -> dict[str, Any] | None:
    """The paired comparison a run with ``baseline`` made against the earlier results."""
    document = json.loads(results.read_text(encoding="utf-8"))
    comparison = document.get("comparison")
    return comparison if isinstance(comparison, dict) else None
