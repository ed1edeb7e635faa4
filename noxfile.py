"""Sessions for codemode-eval: tests, lint, train, eval, pipeline and the demo.

Every session runs inside the uv workspace (`uv run --frozen`), so nox, CI and a developer's shell
use the same locked packages; `session.posargs` are forwarded to the underlying command.
"""

from __future__ import annotations

import sys
import time

import nox

nox.options.sessions = ["tests", "lint"]
SUITE = "evalsuite"


def _uv_run(session: nox.Session, *args: str) -> None:
    # `python -m uv`: works wherever `pip install uv` put uv, on PATH or not.
    session.run(sys.executable, "-m", "uv", "run", "--frozen", *args, external=True)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Run the whole test suite on two workers (posargs go to pytest)."""
    _uv_run(session, "pytest", "-n", "2", *session.posargs)


@nox.session(python=False)
def quick(session: nox.Session) -> None:
    """The inner loop: every test but the seconds-long ones (`slow`), on two workers."""
    _uv_run(session, "pytest", "-n", "2", "-m", "not slow", *session.posargs)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check) and mypy strict over both packages and the benchmarks."""
    _uv_run(session, "ruff", "check", ".")
    _uv_run(session, "ruff", "format", "--check", ".")
    _uv_run(
        session, "mypy", "packages/pytest-codemode-eval/src", "packages/trainer/src", "benchmarks"
    )


@nox.session(python=False, default=False)
def train(session: nox.Session) -> None:
    """Train with a config: nox -s train -- --config train.toml --run runs/NAME [--resume]."""
    _uv_run(session, "codemode-train", "pipeline", *session.posargs)


@nox.session(python=False, default=False, name="eval")
def evaluate(session: nox.Session) -> None:
    """Evaluate a model on the suite: nox -s eval -- --codemode-model=PATH [--codemode-gate]."""
    _uv_run(session, "pytest", SUITE, "--codemode-backend=mlx", *session.posargs)


@nox.session(python=False, default=False)
def pipeline(session: nox.Session) -> None:
    """Train then evaluate then gate: nox -s pipeline -- --config FILE --run runs/NAME.

    Exit status comes from the gate on the trained, quantized model.
    """
    args = list(session.posargs)
    if "--run" not in args:
        session.error("pass --run RUN_DIR (and --config FILE) after --")
    run = args[args.index("--run") + 1]
    _uv_run(session, "codemode-train", "pipeline", *args)
    _uv_run(
        session, "pytest", SUITE, "--codemode-backend=mlx", f"--codemode-model={run}/quantized",
        "--codemode-gate", f"--codemode-report={run}/report.md",
        f"--codemode-results={run}/results.json", f"--junitxml={run}/junit.xml",
    )  # fmt: skip


@nox.session(python=False, default=False)
def demo(session: nox.Session) -> None:
    """The main job, offline: build a model, train, quantize, evaluate, print the tables."""
    run = session.posargs[0] if session.posargs else f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}"
    _uv_run(session, "codemode-train", "demo", "--run", run, *session.posargs[1:])


@nox.session(python=False, default=False)
def sweep(session: nox.Session) -> None:
    """Evaluate every checkpoint of a run: nox -s sweep -- --run runs/NAME [--suite FILE]."""
    _uv_run(session, "codemode-train", "sweep", *session.posargs)
