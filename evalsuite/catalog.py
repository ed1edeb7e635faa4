"""The tool catalog of the Code Mode suite: 26 typed tool stubs and the execute_code wrapper.

The signatures are the contract: the system prompt shows them to the model (rendered by
`pytest_codemode_eval.prompt.render_system_prompt`), and the scorer binds the model's arguments to
them. Bodies are never run by the eval; they only document behaviour.
"""

from __future__ import annotations

from typing import TypedDict


class Location(TypedDict):
    file: str
    line: int
    column: int


class Diagnostic(TypedDict):
    file: str
    line: int
    code: str
    message: str


class TestReport(TypedDict):
    passed: int
    failed: int
    errors: list[str]


class Symbol(TypedDict):
    name: str
    kind: str
    location: Location


class Commit(TypedDict):
    sha: str
    author: str
    message: str


class CheckResult(TypedDict):
    ok: bool
    issues: list[Diagnostic]


def read_file(path: str) -> str:
    """Return the text of a file."""
    raise NotImplementedError


def write_file(path: str, content: str) -> str:
    """Write text to a file, creating folders; returns a confirmation."""
    raise NotImplementedError


def run_command(command: str, args: list[str] | None = None, cwd: str | None = None) -> str:
    """Run a shell command and return its output."""
    raise NotImplementedError


def typecheck(path: str) -> list[Diagnostic]:
    """Type-check a file or folder."""
    raise NotImplementedError


def ruff_check(path: str) -> list[Diagnostic]:
    """Lint a file or folder with ruff."""
    raise NotImplementedError


def pytest_run(path: str) -> TestReport:
    """Run the tests in a file or folder."""
    raise NotImplementedError


def goto_definition(file_path: str, line: int, column: int, symbol: str) -> list[Location]:
    """Find where a symbol is defined."""
    raise NotImplementedError


def find_references(file_path: str, line: int, column: int, symbol: str) -> list[Location]:
    """Find every reference to a symbol."""
    raise NotImplementedError


def hover(file_path: str, line: int, column: int, symbol: str) -> str:
    """Show the type and docstring of a symbol."""
    raise NotImplementedError


def document_symbols(file_path: str) -> list[Symbol]:
    """List the classes and functions of a file."""
    raise NotImplementedError


def workspace_symbols(query: str) -> list[Symbol]:
    """Search the whole workspace for symbols by name."""
    raise NotImplementedError


def git_status(path: str) -> str:
    """Show the working tree status."""
    raise NotImplementedError


def git_diff(path: str, staged: bool = False) -> str:
    """Show uncommitted (or staged) changes."""
    raise NotImplementedError


def git_log(path: str, count: int = 10) -> list[Commit]:
    """List the most recent commits."""
    raise NotImplementedError


def cst_find_pattern(file_path: str, pattern: str) -> list[Location]:
    """Find code matching a pattern (e.g. ClassDef, FunctionDef) in a file."""
    raise NotImplementedError


def cst_rename(file_path: str, old_name: str, new_name: str) -> str:
    """Rename a symbol in a file."""
    raise NotImplementedError


def cst_add_import(file_path: str, import_stmt: str) -> str:
    """Add an import statement to a file."""
    raise NotImplementedError


def validate_component(file_path: str) -> CheckResult:
    """Check a tdom component."""
    raise NotImplementedError


def check_render_tree(file_path: str) -> CheckResult:
    """Check how tdom components compose into a render tree."""
    raise NotImplementedError


def validate_escape_context(file_path: str) -> CheckResult:
    """Check that html() gets t-strings, not f-strings."""
    raise NotImplementedError


def validate_service_registration(file_path: str) -> CheckResult:
    """Check how services are registered with the DI container."""
    raise NotImplementedError


def check_dependency_graph(file_path: str) -> CheckResult:
    """Check service dependencies for cycles and layer violations."""
    raise NotImplementedError


def validate_injection_site(file_path: str) -> CheckResult:
    """Check Inject[] fields and their imports."""
    raise NotImplementedError


def validate_middleware_chain(file_path: str) -> CheckResult:
    """Check @middleware conventions."""
    raise NotImplementedError


def check_di_template_binding(file_path: str) -> CheckResult:
    """Check that html() passes context= for injectable components."""
    raise NotImplementedError


def validate_route_pattern(file_path: str) -> CheckResult:
    """Check route path patterns."""
    raise NotImplementedError


def execute_code(code: str) -> str:
    """Run Python code that calls the tools above and return what it prints."""
    raise NotImplementedError


TOOLS = [
    read_file,
    write_file,
    run_command,
    typecheck,
    ruff_check,
    pytest_run,
    goto_definition,
    find_references,
    hover,
    document_symbols,
    workspace_symbols,
    git_status,
    git_diff,
    git_log,
    cst_find_pattern,
    cst_rename,
    cst_add_import,
    validate_component,
    check_render_tree,
    validate_escape_context,
    validate_service_registration,
    check_dependency_graph,
    validate_injection_site,
    validate_middleware_chain,
    check_di_template_binding,
    validate_route_pattern,
]
# The tools that change the workspace: a call of one that the case does not ask for scores 0.0
# (verdict unrequested_change), even when the requested tools were called too.
MUTATING = (write_file, run_command, cst_rename, cst_add_import)
RESULT_TYPES = [Location, Diagnostic, TestReport, Symbol, Commit, CheckResult]
WRAPPER = execute_code
