"""What the fixture workspace contains: its files, folders, classes and functions, by regex.

Training arguments should name files and symbols that exist in the project the eval talks about,
with the lines and columns where they really are. The scan uses regular expressions, not ``ast``:
the workspace's views use Python 3.14 t-strings, which older interpreters cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

_DEFINITION = re.compile(
    r"^(?P<indent>[ \t]*)(?:async[ \t]+)?(?P<kind>def|class)[ \t]+(?P<name>[A-Za-z_]\w*)", re.M
)
_DOCSTRING = re.compile(r"^\s*[rbuRBU]?(\"\"\"|''')\s*(?P<text>[^\n]*?)\s*(?:\1|$)")
_SKIP_PARTS = {".git", ".venv", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache"}
_TEXT_SUFFIXES = {".py", ".toml", ".md", ".txt", ".cfg", ".ini"}


class WorkspaceError(ValueError):
    """The workspace folder is missing or holds no Python files."""


@dataclass(frozen=True)
class Definition:
    """A class, function or method: where its name is written (1-based line, 0-based column)."""

    name: str
    kind: str  # "class" | "function" | "method"
    file: str
    line: int
    column: int
    doc: str


@dataclass(frozen=True)
class Occurrence:
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class WorkspaceFacts:
    """Paths are relative POSIX paths as a user would type them (``src/agent/config.py``)."""

    root: Path
    texts: Mapping[str, str]  # every text file -> its content
    definitions: tuple[Definition, ...]
    _occurrences: dict[str, tuple[Occurrence, ...]] = field(default_factory=dict, repr=False)

    @cached_property
    def python_files(self) -> tuple[str, ...]:
        return tuple(path for path in self.texts if path.endswith(".py"))

    @cached_property
    def source_files(self) -> tuple[str, ...]:
        """Python files with at least one definition (not empty ``__init__.py`` files)."""
        with_defs = {definition.file for definition in self.definitions}
        return tuple(path for path in self.python_files if path in with_defs)

    @cached_property
    def test_files(self) -> tuple[str, ...]:
        return tuple(p for p in self.python_files if p.rsplit("/", 1)[-1].startswith("test_"))

    @cached_property
    def folders(self) -> tuple[str, ...]:
        """Every folder holding Python files, with a trailing slash (``src/``, ``src/agent/``)."""
        found = set()
        for path in self.python_files:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                found.add("/".join(parts[:depth]) + "/")
        return tuple(sorted(found))

    @cached_property
    def public_definitions(self) -> tuple[Definition, ...]:
        return tuple(d for d in self.definitions if not d.name.startswith("_"))

    def files_containing(self, *needles: str) -> tuple[str, ...]:
        """Source files whose text contains any needle (e.g. ``html(`` for tdom components)."""
        return tuple(p for p in self.source_files if any(n in self.texts[p] for n in needles))

    def definitions_in(self, path: str) -> tuple[Definition, ...]:
        return tuple(d for d in self.public_definitions if d.file == path)

    def occurrences(self, name: str) -> tuple[Occurrence, ...]:
        """Every whole-word occurrence of ``name`` in the Python files, in file order."""
        if name not in self._occurrences:
            word = re.compile(rf"\b{re.escape(name)}\b")
            self._occurrences[name] = tuple(
                Occurrence(path, number, match.start())
                for path in self.python_files
                for number, line in enumerate(self.texts[path].splitlines(), 1)
                for match in word.finditer(line)
            )
        return self._occurrences[name]

    def usage_site(self, definition: Definition) -> Occurrence:
        """Where the symbol is used (not defined), as a user would point at it; else its def."""
        for occurrence in self.occurrences(definition.name):
            if (occurrence.file, occurrence.line) != (definition.file, definition.line):
                return occurrence
        return Occurrence(definition.file, definition.line, definition.column)


def scan_workspace(root: Path) -> WorkspaceFacts:
    """Read every text file below ``root`` (sorted, so the scan is deterministic)."""
    if not root.is_dir():
        raise WorkspaceError(f"{root}: workspace folder not found")
    texts: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if set(relative.parts) & _SKIP_PARTS or not path.is_file():
            continue
        if path.suffix in _TEXT_SUFFIXES:
            texts[relative.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    definitions = tuple(
        definition
        for relative, text in texts.items()
        if relative.endswith(".py")
        for definition in _definitions(relative, text)
    )
    if not any(relative.endswith(".py") for relative in texts):
        raise WorkspaceError(f"{root}: no Python files to refer to")
    return WorkspaceFacts(root, texts, definitions)


def _definitions(relative: str, text: str) -> list[Definition]:
    lines = text.splitlines()
    found = []
    for match in _DEFINITION.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        kind = match["kind"]
        if kind == "def":
            kind = "method" if match["indent"] else "function"
        column = match.start("name") - match.start()
        found.append(Definition(match["name"], kind, relative, line, column, _doc(lines, line)))
    return found


def _doc(lines: list[str], line: int) -> str:
    """First line of the docstring after the header starting at ``line`` (1-based), or ''."""
    index = line - 1
    while index < min(len(lines), line + 8) and not lines[index].rstrip().endswith(":"):
        if lines[index].rstrip().endswith("..."):  # a one-line stub has no docstring
            return ""
        index += 1
    for candidate in lines[index + 1 : index + 3]:
        if candidate.strip():
            match = _DOCSTRING.match(candidate)
            return match["text"] if match else ""
    return ""
