"""Build a throwaway git repository from the eval workspace.

Several eval prompts ask about version control ("which files have been
modified?", "show the diff", "the 5 most recent commits"). Those questions only
have real answers inside a repository with history and uncommitted work, but
the workspace itself lives in the main project's checkout and must never get a
``.git`` of its own. :func:`make_workspace_repo` therefore copies the workspace
somewhere else (usually a pytest ``tmp_path``) and builds the history there.

Commit dates and identities are fixed so that commit hashes are identical on
every machine: a snapshot of ``git log`` stays stable across runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WORKSPACE_DIR = Path(__file__).resolve().parent / "workspace"
"""The source tree that gets copied; it is never modified."""

AUTHOR_NAME = "Punie Developer"
AUTHOR_EMAIL = "dev@punie.example"

IGNORED_NAMES = (".git", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache")
"""Build artefacts that may exist in the source tree but never belong in the copy."""


@dataclass(frozen=True)
class PlannedCommit:
    """One commit of the synthetic history: what to stage, what to say, and when.

    ``paths`` are passed to ``git add`` (files or folders, relative to the repo).
    """

    message: str
    date: str
    paths: tuple[str, ...]


HISTORY: tuple[PlannedCommit, ...] = (
    PlannedCommit(
        "Initial project skeleton",
        "2025-05-05T09:12:00+00:00",
        (".gitignore", "pyproject.toml", "README.md", "output/.gitkeep", "src/__init__.py"),
    ),
    PlannedCommit(
        "Add AgentConfig and the Code Mode executor",
        "2025-05-06T14:40:00+00:00",
        (
            "src/agent/__init__.py",
            "src/agent/config.py",
            "src/agent/code_mode.py",
            "tests/test_config.py",
            "tests/test_code_mode.py",
        ),
    ),
    PlannedCommit(
        "Add tool dispatch and the WebSocket bridge",
        "2025-05-08T10:05:00+00:00",
        ("src/agent/tools.py", "src/agent/websocket.py"),
    ),
    PlannedCommit(
        "Add LoRA training pipeline",
        "2025-05-12T16:30:00+00:00",
        ("src/training", "tests/test_lora_config.py", "tests/test_train_runner.py"),
    ),
    PlannedCommit(
        "Add user, report and billing services with svcs-di",
        "2025-05-14T11:20:00+00:00",
        ("src/services", "src/middleware"),
    ),
    PlannedCommit(
        "Add tdom views, routes and the app factory",
        "2025-05-19T15:45:00+00:00",
        (".",),
    ),
)
"""Oldest first. The last commit stages ``"."``: the views, routes and ``src/app.py``
plus any file added to the workspace later that no earlier commit names."""

UNTRACKED_FILE = "src/agent/retry.py"
UNTRACKED_CONTENT = '''\
"""Retry helper for flaky tool calls (work in progress)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def with_retries(call: Callable[[], T], attempts: int = 3, delay_s: float = 0.5) -> T:
    """Call ``call`` until it succeeds, sleeping ``delay_s`` between attempts."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except OSError:
            if attempt == attempts:
                raise
            time.sleep(delay_s)
    raise AssertionError("unreachable")
'''

WORK_IN_PROGRESS: tuple[tuple[str, str, str], ...] = (
    (
        "src/training/lora_config.py",
        "    rank: int = 8\n    alpha: float = 16.0\n",
        "    rank: int = 16\n    alpha: float = 32.0\n",
    ),
    (
        "README.md",
        "The defaults in `LoRAConfig` (rank 8, alpha 16, 8 layers)",
        "The defaults in `LoRAConfig` (rank 16, alpha 32, 8 layers)",
    ),
)
"""Uncommitted edits as (path, old text, new text): a half-done rank experiment."""


class WorkspaceRepoError(RuntimeError):
    """The repository could not be built (git missing, bad destination, stale plan)."""


def _git_env(date: str | None = None) -> dict[str, str]:
    """Environment that isolates git from the caller and pins identity and dates.

    Inherited ``GIT_*`` variables are dropped (a ``GIT_DIR`` set by a hook would
    otherwise point git at the main checkout); ignoring global and system config
    keeps hooks, signing and templates out of the build; the fixed names and
    dates make the commit hashes reproducible.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=AUTHOR_NAME,
        GIT_AUTHOR_EMAIL=AUTHOR_EMAIL,
        GIT_COMMITTER_NAME=AUTHOR_NAME,
        GIT_COMMITTER_EMAIL=AUTHOR_EMAIL,
        GIT_TERMINAL_PROMPT="0",
    )
    if date is not None:
        env["GIT_AUTHOR_DATE"] = date
        env["GIT_COMMITTER_DATE"] = date
    return env


def _git(repo: Path, args: Sequence[str], date: str | None = None) -> str:
    """Run ``git`` in ``repo`` and return stdout; failures carry git's own message."""
    git = shutil.which("git")
    if git is None:
        raise WorkspaceRepoError("git is not on PATH; it is needed to build the workspace repo")
    try:
        proc = subprocess.run(
            [git, *args],
            cwd=repo,
            env=_git_env(date),
            capture_output=True,
            text=True,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise WorkspaceRepoError(
            f"git {' '.join(args)} failed ({exc.returncode}): {exc.stderr.strip()}"
        ) from exc
    return proc.stdout


def _copy_workspace(dest: Path) -> None:
    """Copy the workspace into ``dest``, which must be missing or empty and outside the source."""
    if dest.resolve().is_relative_to(WORKSPACE_DIR):
        raise WorkspaceRepoError(f"{dest} is inside the workspace source tree")
    if dest.exists() and any(dest.iterdir()):
        raise WorkspaceRepoError(f"{dest} is not empty")
    shutil.copytree(
        WORKSPACE_DIR, dest, ignore=shutil.ignore_patterns(*IGNORED_NAMES), dirs_exist_ok=True
    )


def _apply_work_in_progress(dest: Path) -> None:
    """Leave two tracked files modified and one new untracked file."""
    for relative, old, new in WORK_IN_PROGRESS:
        path = dest / relative
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise WorkspaceRepoError(
                f"{relative} no longer contains {old!r}; update WORK_IN_PROGRESS"
            )
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    untracked = dest / UNTRACKED_FILE
    untracked.parent.mkdir(parents=True, exist_ok=True)
    untracked.write_text(UNTRACKED_CONTENT, encoding="utf-8")


def make_workspace_repo(dest: Path) -> Path:
    """Copy the eval workspace to ``dest`` and turn it into a git repo with history.

    The result has the commits in :data:`HISTORY` on branch ``main``, plus
    uncommitted edits to two tracked files and one untracked file, so that
    ``git status``, ``git diff`` and ``git log`` all have something to show.
    The source tree under :data:`WORKSPACE_DIR` is only read. Returns ``dest``.
    """
    dest = Path(dest)
    _copy_workspace(dest)
    _git(dest, ["init", "--quiet", "--initial-branch=main"])
    _git(dest, ["config", "user.name", AUTHOR_NAME])
    _git(dest, ["config", "user.email", AUTHOR_EMAIL])
    _git(dest, ["config", "commit.gpgsign", "false"])

    for commit in HISTORY:
        _git(dest, ["add", "--", *commit.paths])
        _git(dest, ["commit", "--quiet", "--no-verify", "-m", commit.message], date=commit.date)

    leftover = _git(dest, ["status", "--porcelain"]).strip()
    if leftover:
        raise WorkspaceRepoError(f"files left uncommitted after the planned history:\n{leftover}")
    _apply_work_in_progress(dest)
    return dest
