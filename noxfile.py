"""Sessions for codemode-eval: tests, lint, train, eval, pipeline and the demo.

Every session installs through the uv workspace (`uv sync`), so nox and CI use the locked set.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint"]


def _sync(session: nox.Session) -> None:
    session.run_install(
        "uv", "sync", "--frozen", "--all-packages", "--group", "dev",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )  # fmt: skip


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Run the whole test suite on two workers (posargs go to pytest)."""
    session.run("uv", "run", "--frozen", "pytest", "-n", "2", *session.posargs, external=True)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """Ruff (lint + format check) and mypy strict over both packages."""
    session.run("uv", "run", "--frozen", "ruff", "check", ".", external=True)
    session.run("uv", "run", "--frozen", "ruff", "format", "--check", ".", external=True)
    session.run(
        "uv", "run", "--frozen", "mypy",
        "packages/pytest-codemode-eval/src", "packages/trainer/src",
        external=True,
    )  # fmt: skip
