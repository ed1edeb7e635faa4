"""Imports flow one way: no import circles in either package, and the trainer's layers (written
in ``codemode_trainer/__init__.py``) only import downwards. Read from the source with ``ast``, so
lazy imports inside functions count too."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "packages" / "pytest-codemode-eval" / "src" / "pytest_codemode_eval"
TRAINER = ROOT / "packages" / "trainer" / "src" / "codemode_trainer"
#: Circles another change removes (issue 12: ``Invocation`` moves out of ``score.py``).
KNOWN_CIRCLES: set[frozenset[str]] = set()  # none left; a circle here would need a reason

Graph = Mapping[str, set[str]]


def module_graph(package: Path) -> dict[str, set[str]]:
    """Each module of ``package`` (a source folder) -> the modules of it that it imports."""
    prefix = package.name
    files = {_module_name(file, package): file for file in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, file in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == prefix:
                    for alias in node.names:
                        full = f"{node.module}.{alias.name}"
                        targets.add(full if full in files else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == prefix}
        graph[name] = {target for target in targets if target != name}
    return graph


def _module_name(file: Path, package: Path) -> str:
    parts = file.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def circles(graph: Graph) -> list[frozenset[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def declared_layers(package: Path) -> list[str]:
    """The layer names, lowest first, from the table in the package's docstring."""
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree, clean=False)
    return re.findall(r"^    (\w+) {2,}\S", doc or "", flags=re.MULTILINE)


def layer_of(module: str, layers: list[str]) -> str:
    """A subpackage or the CLI is its own layer; the package's other modules are ``base``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in layers else "base"


def backwards_imports(graph: Graph, layers: list[str]) -> list[str]:
    rank = {name: position for position, name in enumerate(layers)}
    return [
        f"{source} ({layer_of(source, layers)}) imports {target} ({layer_of(target, layers)})"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        if rank[layer_of(target, layers)] > rank[layer_of(source, layers)]
    ]


@pytest.mark.parametrize("package", [PLUGIN, TRAINER], ids=lambda p: p.name)
def test_no_import_circles(package: Path) -> None:
    found = set(circles(module_graph(package))) - KNOWN_CIRCLES
    assert not found, [sorted(group) for group in found]


def test_the_trainer_imports_only_downwards() -> None:
    layers = declared_layers(TRAINER)
    assert layers == ["base", "chat", "checks", "data", "training", "jobs", "cli"]
    assert not backwards_imports(module_graph(TRAINER), layers)


def test_only_the_training_door_imports_mlx() -> None:
    importers = set()
    for file in TRAINER.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(name.split(".")[0] in {"mlx", "mlx_lm"} for name in names):
                importers.add(_module_name(file, TRAINER))
    assert importers == {"codemode_trainer.training._mlx"}


def test_the_checks_find_a_circle_and_a_backwards_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "data").mkdir(parents=True)
    (package / "jobs").mkdir()
    layers = '"""Layers:\n\n    base  x\n    data  y\n    jobs  z\n"""\n'
    (package / "__init__.py").write_text(layers)
    (package / "rows.py").write_text("from pkg.data.build import make\n")  # base -> data
    (package / "data" / "build.py").write_text("def make():\n    from pkg.data import extra\n")
    (package / "data" / "extra.py").write_text("import pkg.data.build\n")
    (package / "jobs" / "run.py").write_text("from pkg.data.build import make\n")  # downwards
    graph = module_graph(package)
    assert circles(graph) == [frozenset({"pkg.data.build", "pkg.data.extra"})]
    assert backwards_imports(graph, declared_layers(package)) == [
        "pkg.rows (base) imports pkg.data.build (data)"
    ]
