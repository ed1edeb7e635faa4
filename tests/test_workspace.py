"""Checks that the eval workspace matches what the eval prompts say about it.

Every prompt names paths and symbols; if one of them is missing, the model is
graded against a question that has no right answer. The workspace files target
Python 3.14 (t-strings), so symbols are found with regexes, not by importing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = REPO_ROOT / "evalsuite" / "workspace"

PROMPT_PATHS = [
    "src/agent/config.py",
    "src/agent/code_mode.py",
    "src/agent/websocket.py",
    "src/training/lora_config.py",
    "src/training/train_runner.py",
    "src/views/error_page.py",
    "src/views/registration.py",
    "src/views/checkout.py",
    "src/views/account.py",
    "src/services/user_service.py",
    "src/services/report_service.py",
    "src/services/billing_service.py",
    "src/middleware/circuit_breaker.py",
    "src/routes/api.py",
    "output/.gitkeep",
    "tests",
    "pyproject.toml",
    "README.md",
]

SYMBOLS = [
    ("src/agent/config.py", "class", "AgentConfig"),
    ("src/agent/code_mode.py", "def", "execute_code"),
    ("src/training/lora_config.py", "class", "LoRAConfig"),
    ("src/training/train_runner.py", "class", "TrainingResult"),
    ("src/views/home.py", "class", "HomeView"),
]


def read(relative: str) -> str:
    return (WORKSPACE / relative).read_text(encoding="utf-8")


def top_level(kind: str, source: str) -> list[str]:
    """Names of top-level ``class``/``def`` statements (works on t-string files too)."""
    return re.findall(rf"^{kind}\s+(\w+)", source, flags=re.MULTILINE)


def load_workspace_repo() -> ModuleType:
    """Import ``evalsuite/workspace_repo.py`` by path (``evalsuite`` is not a package)."""
    path = REPO_ROOT / "evalsuite" / "workspace_repo.py"
    spec = importlib.util.spec_from_file_location("evalsuite_workspace_repo", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def source_snapshot() -> dict[str, bytes]:
    return {
        str(p.relative_to(WORKSPACE)): p.read_bytes()
        for p in sorted(WORKSPACE.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


ISOLATED_PYTEST = ("-p", "no:cacheprovider", "-p", "no:codemode_eval")
"""Keep the nested run from writing caches into the copy or loading the eval plugin."""

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
def workspace_repo() -> ModuleType:
    return load_workspace_repo()


@pytest.fixture(scope="module")
def built_repo(
    workspace_repo: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    before = source_snapshot()
    repo: Path = workspace_repo.make_workspace_repo(tmp_path_factory.mktemp("repo") / "ws")
    yield repo
    assert source_snapshot() == before, "make_workspace_repo changed the source tree"


# --- paths and symbols named by the prompts --------------------------------


@pytest.mark.parametrize("relative", PROMPT_PATHS)
def test_prompt_path_exists(relative: str) -> None:
    assert (WORKSPACE / relative).exists()


@pytest.mark.parametrize(("relative", "kind", "name"), SYMBOLS)
def test_symbol_defined_in_named_file(relative: str, kind: str, name: str) -> None:
    assert name in top_level(kind, read(relative))


def test_agent_config_is_a_dataclass() -> None:
    assert re.search(r"@dataclass(\(.*\))?\nclass AgentConfig\b", read("src/agent/config.py"))


def test_execute_code_signature_and_references() -> None:
    assert "def execute_code(code: str) -> str:" in read("src/agent/code_mode.py")
    referencing = [
        p.relative_to(WORKSPACE).as_posix()
        for p in (WORKSPACE / "src").rglob("*.py")
        if p.name != "code_mode.py" and re.search(r"\bexecute_code\(", p.read_text())
    ]
    assert len(referencing) >= 2, referencing


def test_lora_config_has_docstring_and_several_symbols() -> None:
    source = read("src/training/lora_config.py")
    assert re.search(r'class LoRAConfig:\n    """\w', source)
    assert len(top_level("class", source)) >= 3
    assert len(top_level("def", source)) >= 3


def test_websocket_classes_and_no_defaultdict_yet() -> None:
    source = read("src/agent/websocket.py")
    assert 2 <= len(top_level("class", source)) <= 3
    assert "defaultdict" not in source


def test_summary_txt_does_not_exist_yet() -> None:
    assert (WORKSPACE / "output").is_dir()
    assert not (WORKSPACE / "output" / "summary.txt").exists()


def test_src_lists_python_files() -> None:
    assert sorted(p.name for p in (WORKSPACE / "src").glob("*.py")) == ["__init__.py", "app.py"]


def test_workspace_pyproject() -> None:
    import tomllib

    project = tomllib.loads(read("pyproject.toml"))["project"]
    assert project["name"] == "punie-agent"
    assert project["requires-python"] == ">=3.14"


# --- the deliberate tdom / svcs-di situations the domain prompts probe -------


def test_error_page_is_a_tdom_component() -> None:
    assert re.search(r'return html\(t"', read("src/views/error_page.py"))


def test_user_service_registers_services() -> None:
    source = read("src/services/user_service.py")
    assert "@injectable" in source
    assert "registry.register_factory(" in source


def test_circuit_breaker_is_middleware() -> None:
    assert re.search(r"^@middleware\n", read("src/middleware/circuit_breaker.py"), re.MULTILINE)


def test_report_service_has_an_injection_cycle() -> None:
    source = read("src/services/report_service.py")
    assert "reports: Inject[ReportService]" in source
    assert "metrics: Inject[MetricsCollector]" in source


def test_registration_mixes_t_string_and_f_string() -> None:
    source = read("src/views/registration.py")
    assert 'html(t"' in source
    assert "html(f'" in source or 'html(f"' in source


def test_api_routes_have_patterns_one_malformed() -> None:
    patterns = re.findall(r'@route\("([^"]*)"', read("src/routes/api.py"))
    assert "/users/{user_id}" in patterns
    malformed = [p for p in patterns if p.count("{") != p.count("}")]
    assert len(malformed) == 1, patterns


def test_checkout_composes_components() -> None:
    used = set(re.findall(r"<\{(\w+)\}", read("src/views/checkout.py")))
    assert {"CartTable", "OrderSummary", "PaymentForm", "Layout"} <= used


def test_billing_service_injects_an_unimported_type() -> None:
    source = read("src/services/billing_service.py")
    injected = re.findall(r"Inject\[(\w+)\]", source)
    undefined = [
        name
        for name in injected
        if not re.search(rf"^(class {name}\b|from .* import .*\b{name}\b)", source, re.MULTILINE)
    ]
    assert undefined == ["PaymentGateway"]


def test_account_renders_with_and_without_context() -> None:
    source = read("src/views/account.py")
    assert "context=container" in source
    assert re.search(r'return html\(t"<\{InvoiceList\}', source)


# --- the git repository built from the workspace -----------------------------


@needs_git
def test_repo_has_history(built_repo: Path) -> None:
    assert int(git(built_repo, "rev-list", "--count", "HEAD")) >= 6
    assert len(git(built_repo, "log", "-5", "--oneline").splitlines()) == 5


@needs_git
def test_repo_has_uncommitted_work(built_repo: Path) -> None:
    status = git(built_repo, "status", "--porcelain").splitlines()
    assert sorted(status) == [
        " M README.md",
        " M src/training/lora_config.py",
        "?? src/agent/retry.py",
    ]
    diff = git(built_repo, "diff")
    assert "+    rank: int = 16" in diff


@needs_git
def test_repo_hashes_are_deterministic(
    built_repo: Path, workspace_repo: ModuleType, tmp_path: Path
) -> None:
    again = workspace_repo.make_workspace_repo(tmp_path / "again")
    assert git(again, "rev-parse", "HEAD") == git(built_repo, "rev-parse", "HEAD")


@needs_git
def test_source_tree_has_no_git(built_repo: Path) -> None:
    assert (built_repo / ".git").is_dir()
    assert not any(WORKSPACE.rglob(".git"))


def test_refuses_destination_inside_workspace(workspace_repo: ModuleType) -> None:
    dest = WORKSPACE / "nested-repo"
    with pytest.raises(workspace_repo.WorkspaceRepoError, match="inside the workspace"):
        workspace_repo.make_workspace_repo(dest)
    assert not dest.exists()


def test_refuses_non_empty_destination(workspace_repo: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(workspace_repo.WorkspaceRepoError, match="not empty"):
        workspace_repo.make_workspace_repo(tmp_path)


def test_missing_git_is_a_clear_error(
    workspace_repo: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_repo.shutil, "which", lambda _name: None)
    with pytest.raises(workspace_repo.WorkspaceRepoError, match="git is not on PATH"):
        workspace_repo.make_workspace_repo(tmp_path / "ws")


# --- the workspace's own test suite -----------------------------------------


@pytest.mark.slow
def test_workspace_tests_report_passes_and_one_failure(tmp_path: Path) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(WORKSPACE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *ISOLATED_PYTEST, "tests"],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    summary = proc.stdout.strip().splitlines()[-1]
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", summary)) else 0
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert passed + failed >= 4, summary
    assert failed == 1, summary
    assert "test_config.py::test_from_env_parses_false_flag" in proc.stdout


# --- every path and symbol that a prompt of either suite names -----------------------------------

SUITES = {
    "reference": REPO_ROOT / "evalsuite" / "suite.toml",
    "heldout": REPO_ROOT / "evalsuite" / "heldout" / "suite.toml",
}
_PATH = re.compile(
    r"(?<![\w/.-])((?:src|tests|output)(?:/[\w.-]*)*|[\w-]+\.(?:py|toml|md|txt|lock))(?![\w/])"
)
_CAMEL = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")
_SNAKE = re.compile(r"(?<![\w/.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
NOT_WORKSPACE_SYMBOLS = {"LoRA", "DoRA", "NameError", "TypedDict"}
"""Words in prompts that look like identifiers but name Python, a paper or a kwarg."""
FILE_PINS = ("path", "file_path")
SYMBOL_PINS = ("symbol", "old_name")


def load_cases(suite: str) -> list[Any]:
    from pytest_codemode_eval.suite import load_suite

    return list(load_suite(SUITES[suite]).cases)


def defined_names() -> set[str]:
    """Every class, function, method and top-level assignment in the workspace's Python files."""
    names: set[str] = set()
    for path in WORKSPACE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        names.update(re.findall(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", source, re.M))
        names.update(re.findall(r"^(\w+)\s*(?::[^=\n]+)?=", source, re.M))
    return names


def source_words() -> set[str]:
    return {
        word
        for path in WORKSPACE.rglob("*.py")
        for word in re.findall(r"\w+", path.read_text(encoding="utf-8"))
    }


def written_paths(case: Any) -> set[str]:
    """Files the case asks to create: they need only an existing folder."""
    return {str(pin["path"]) for pin in case.pins.get("write_file", ()) if "path" in pin}


def new_names(case: Any) -> set[str]:
    """Names the case introduces (a rename's target) or syntax-node types it searches for."""
    renamed = {str(pin["new_name"]) for pin in case.pins.get("cst_rename", ()) if "new_name" in pin}
    patterns = {str(p["pattern"]) for p in case.pins.get("cst_find_pattern", ()) if "pattern" in p}
    return renamed | patterns


def assert_workspace_path(relative: str, case: Any, written: set[str]) -> None:
    target = WORKSPACE / relative.rstrip("/")
    if relative in written:
        assert target.parent.is_dir(), f"{case.id}: no folder for {relative}"
        assert not target.exists(), f"{case.id}: {relative} is to be created but exists"
    else:
        assert target.exists(), f"{case.id}: {relative} is not in the workspace"


@pytest.mark.parametrize("suite", SUITES)
def test_every_path_a_prompt_or_pin_names_exists(suite: str) -> None:
    for case in load_cases(suite):
        written = written_paths(case)
        named = {path.rstrip(".") for path in _PATH.findall(case.prompt)}  # a full stop ends it
        pinned = {
            str(pin[key])
            for alternatives in case.pins.values()
            for pin in alternatives
            for key in FILE_PINS
            if key in pin
        }
        for relative in sorted(named | pinned):
            assert_workspace_path(relative, case, written)


@pytest.mark.parametrize("suite", SUITES)
def test_every_symbol_a_prompt_or_pin_names_is_defined(suite: str) -> None:
    names = defined_names()
    written = source_words()  # a name the sources use without defining it (PaymentGateway)
    for case in load_cases(suite):
        prose = _PATH.sub(" ", case.prompt)
        mentioned = set(_CAMEL.findall(prose)) | set(_SNAKE.findall(prose))
        pinned = {
            part
            for alternatives in case.pins.values()
            for pin in alternatives
            for key in SYMBOL_PINS
            if key in pin
            for part in str(pin[key]).split(".")
        }
        allowed = new_names(case) | NOT_WORKSPACE_SYMBOLS
        unknown = sorted(pinned - names) + sorted(mentioned - names - written - allowed)
        assert not unknown, f"{case.id}: {unknown} not defined in the workspace: {case.prompt!r}"


@pytest.mark.parametrize("suite", SUITES)
def test_symbol_queries_find_something(suite: str) -> None:
    names = defined_names()
    for case in load_cases(suite):
        for pin in case.pins.get("workspace_symbols", ()):
            query = str(pin.get("query", ""))
            assert any(query in name for name in names), f"{case.id}: nothing matches {query!r}"


@pytest.mark.parametrize("suite", SUITES)
def test_refactors_have_something_to_do(suite: str) -> None:
    """A rename's old name is in the file and its new name is not; an added import is new."""
    for case in load_cases(suite):
        for pin in case.pins.get("cst_rename", ()):
            source = read(str(pin["file_path"]))
            assert re.search(rf"\b{pin['old_name']}\b", source), case.id
            assert not re.search(rf"\b{pin['new_name']}\b", source), case.id
        for pin in case.pins.get("cst_add_import", ()):
            assert str(pin["import_stmt"]) not in read(str(pin["file_path"])), case.id
