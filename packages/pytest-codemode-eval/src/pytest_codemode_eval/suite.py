"""Load and validate a suite: `suite.toml` (name, catalog, categories, budgets) and its case files.

Validation happens here, at the file boundary, and nowhere else: everything downstream receives
frozen records it can trust. Every error names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_codemode_eval.catalog import Catalog, load_catalog
from pytest_codemode_eval.errors import SuiteError, read_text_file

CASE_FILE_SUFFIX = ".cases.toml"
SUITE_FILE = "suite.toml"
DEFAULT_TIME_BUDGET = 13.5
DEFAULT_MAX_TOKENS = 512
# Categories become markers on their items: these names would skip, xfail or re-time every case.
RESERVED_MARKERS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "timeout"}
)
SUITE_KEYS = {"name", "catalog", "time_budget", "max_tokens", "prompt_style", "native_tools"}
CASE_KEYS = {"id", "category", "prompt", "expected", "pins", "max_tokens", "time_budget"}

Pins = Mapping[str, tuple[Mapping[str, Any], ...]]


@dataclass(frozen=True)
class Case:
    """One eval prompt and what a correct answer calls."""

    id: str
    category: str
    prompt: str
    expected: tuple[str, ...]
    pins: Pins
    max_tokens: int | None  # only when the case sets it: case > command line > suite default
    time_budget: float | None
    source: Path
    line: int


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    catalog: Catalog
    categories: Mapping[str, str]  # name -> description, in declaration order
    cases: tuple[Case, ...]
    fingerprint: str
    max_tokens: int = DEFAULT_MAX_TOKENS
    time_budget: float = DEFAULT_TIME_BUDGET

    def cases_in(self, source: Path) -> tuple[Case, ...]:
        return tuple(case for case in self.cases if case.source == source)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes a SuiteError naming file and line."""
    text = read_text_file(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error_position(exc, text)
        raise SuiteError(path, f"malformed TOML: {message}", line=line) from exc


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = "(at end of document)"


def _toml_error_position(exc: tomllib.TOMLDecodeError, source: str) -> tuple[int | None, str]:
    """Line of a TOML syntax error and its message without the position suffix.

    `lineno` exists only on Python >= 3.14; before that the position is only in the text.
    """
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match:
        return int(match.group(1)), f"{message[: match.start()]} (column {match.group(2)})"
    if message.endswith(_TOML_AT_END):
        return max(len(source.splitlines()), 1), message.removesuffix(_TOML_AT_END).rstrip()
    return getattr(exc, "lineno", None), message


def read_categories(path: Path) -> dict[str, str]:
    """Only the `[categories]` of a suite.toml: enough to register markers before collection."""
    return _categories(read_toml(path), path)


def load_suite(path: Path) -> Suite:
    """Load suite.toml, its catalog and every `*.cases.toml` file below its folder."""
    data = read_toml(path)
    header = _table(data, "suite", path)
    unknown = sorted(set(header) - SUITE_KEYS)
    if unknown:
        raise SuiteError(
            path,
            f"[suite] unknown field(s) {unknown}; allowed: {sorted(SUITE_KEYS)}",
            key_line(path, "suite", unknown[0]),
        )

    def line(key: str) -> int | None:
        return key_line(path, "suite", key) or key_line(path, "suite")

    name = _string(header, "name", path, "[suite]", line("name"))
    catalog_name = _string(header, "catalog", path, "[suite]", line("catalog"))
    if not (path.parent / catalog_name).is_file():
        message = f"[suite] catalog: file not found: {path.parent / catalog_name}"
        raise SuiteError(path, message, line("catalog"))
    catalog = _presented(load_catalog(path.parent / catalog_name), header, path, line)
    categories = _categories(data, path)
    max_tokens = _positive(
        header.get("max_tokens", DEFAULT_MAX_TOKENS),
        int,
        path,
        "[suite] max_tokens",
        line("max_tokens"),
    )
    budget = _positive(
        header.get("time_budget", DEFAULT_TIME_BUDGET),
        float,
        path,
        "[suite] time_budget",
        line("time_budget"),
    )
    case_files = own_case_files(path)
    cases = [case for file in case_files for case in load_case_file(file, catalog, categories)]
    if not cases:
        raise SuiteError(path, f"no cases: expected *{CASE_FILE_SUFFIX} files below {path.parent}")
    _reject_duplicate_ids(cases)
    order = list(categories)
    cases.sort(key=lambda case: order.index(case.category))  # stable: file order within a category
    digest = hashlib.sha256(path.read_bytes() + catalog.source.encode())
    for file in case_files:
        digest.update(file.read_bytes())
    return Suite(
        name, path, catalog, categories, tuple(cases), digest.hexdigest()[:16], max_tokens, budget
    )


def find_suite_file(case_file: Path) -> Path | None:
    """The suite a case file belongs to: the nearest `suite.toml` in its folder or above."""
    for folder in case_file.parents:
        candidate = folder / SUITE_FILE
        if candidate.is_file():
            return candidate
    return None


def own_case_files(suite_file: Path) -> list[Path]:
    """The case files below a suite's folder, without those of a suite nested inside it.

    A second suite may live in a subfolder (evalsuite/heldout/ beside evalsuite/suite.toml); its
    cases belong to it alone, so the outer suite keeps its own cases, ids and fingerprint.
    """
    found = sorted(suite_file.parent.rglob(f"*{CASE_FILE_SUFFIX}"))
    own = suite_file.resolve()
    return [file for file in found if (find_suite_file(file) or file).resolve() == own]


def _presented(catalog: Catalog, header: Mapping[str, Any], path: Path, line: Any) -> Catalog:
    """The catalog as this suite shows it to the model (prompt style, native tools or not)."""
    from pytest_codemode_eval.prompt import PROMPT_STYLES

    style = header.get("prompt_style", "full")
    if style not in PROMPT_STYLES:
        message = f"[suite] prompt_style: expected one of {', '.join(PROMPT_STYLES)}, got {style!r}"
        raise SuiteError(path, message, line("prompt_style"))
    native = header.get("native_tools", True)
    if not isinstance(native, bool):
        raise SuiteError(path, "[suite] native_tools: expected true or false", line("native_tools"))
    return replace(catalog, prompt_style=style, native_tools=native)


def load_case_file(path: Path, catalog: Catalog, categories: Mapping[str, str]) -> list[Case]:
    data = read_toml(path)
    unknown = set(data) - {"case"}
    if unknown:
        raise SuiteError(
            path, f"unknown top-level key(s) {sorted(unknown)}; expected [[case]] tables"
        )
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list):
        raise SuiteError(path, "expected [[case]] tables")
    lines = _case_header_lines(path)
    return [
        _parse_case(raw, path, lines[i] if i < len(lines) else None, catalog, categories)
        for i, raw in enumerate(raw_cases)
    ]


def _parse_case(
    raw: dict[str, Any],
    path: Path,
    line: int | None,
    catalog: Catalog,
    categories: Mapping[str, str],
) -> Case:
    def fail(message: str) -> SuiteError:
        return SuiteError(path, message, line=line)

    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(CASE_KEYS)}")
    case_id = _string(raw, "id", path, "[[case]]", line)
    where = f"case {case_id!r}"
    category = _string(raw, "category", path, where, line)
    if category not in categories:
        raise fail(f"{where}: unknown category {category!r}; known: {', '.join(categories)}")
    prompt = _string(raw, "prompt", path, where, line)
    expected = raw.get("expected")
    if not isinstance(expected, list) or not all(isinstance(t, str) for t in expected):
        message = "must be a list of tool names ([] when the right answer calls no tool)"
        raise fail(f"{where}: field 'expected' {message}")
    for tool in expected:
        if tool not in catalog.tools:
            raise fail(f"{where}: unknown tool {tool!r} in 'expected'; not in the catalog")
    pins = _parse_pins(raw.get("pins", {}), expected, catalog, fail, where)
    return Case(
        id=case_id,
        category=category,
        prompt=prompt,
        expected=tuple(expected),
        pins=pins,
        max_tokens=_optional_positive(raw, "max_tokens", int, path, where, line),
        time_budget=_optional_positive(raw, "time_budget", float, path, where, line),
        source=path,
        line=line or 0,
    )


def _parse_pins(raw: Any, expected: list[str], catalog: Catalog, fail: Any, where: str) -> Pins:
    """`pins.TOOL = {arg = value}` or a list of such tables (alternatives, any may match)."""
    if not isinstance(raw, dict):
        raise fail(f"{where}: 'pins' must be a table keyed by tool name")
    pins: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for tool, value in raw.items():
        if tool not in expected:
            raise fail(f"{where}: pins.{tool} names a tool that is not in 'expected'")
        alternatives = value if isinstance(value, list) else [value]
        parameters = catalog.tools[tool].signature.parameters
        for alternative in alternatives:
            if not isinstance(alternative, dict):
                raise fail(f"{where}: pins.{tool} must be a table of argument values")
            for argument in alternative:
                if argument not in parameters:
                    raise fail(
                        f"{where}: pins.{tool}.{argument} is not a parameter of {tool}; "
                        f"expected one of {', '.join(parameters)}"
                    )
        pins[tool] = tuple(alternatives)
    return pins


def _categories(data: dict[str, Any], path: Path) -> dict[str, str]:
    categories = _table(data, "categories", path)
    if not categories:
        raise SuiteError(path, "[categories] must declare at least one category")
    for name, description in categories.items():
        line = key_line(path, "categories", name)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SuiteError(path, f"[categories] {name!r} is not a valid marker name", line)
        if name in RESERVED_MARKERS:
            message = f"[categories] {name!r} is a pytest marker with its own meaning; rename it"
            raise SuiteError(path, message, line)
        if not isinstance(description, str):
            raise SuiteError(path, f"[categories] {name}: expected a description string", line)
    return dict(categories)


def _reject_duplicate_ids(cases: list[Case]) -> None:
    seen: dict[str, Case] = {}
    for case in cases:
        if case.id in seen:
            first = seen[case.id]
            raise SuiteError(
                case.source,
                f"duplicate case id {case.id!r} (first defined at {first.source}:{first.line})",
                line=case.line,
            )
        seen[case.id] = case


def _case_header_lines(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8")
    return [n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith("[[case]]")]


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SuiteError(path, f"missing [{key}] table")
    return value


def _string(
    data: Mapping[str, Any], key: str, path: Path, where: str, line: int | None = None
) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(path, f"{where}: field {key!r} must be a non-empty string", line=line)
    return value


def _optional_positive(
    raw: Mapping[str, Any],
    key: str,
    kind: type[int] | type[float],
    path: Path,
    where: str,
    line: int | None,
) -> Any:
    if key not in raw:
        return None
    return _positive(raw[key], kind, path, f"{where} {key}", line)


def _positive(
    value: Any, kind: type[int] | type[float], path: Path, where: str, line: int | None = None
) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise SuiteError(
            path, f"{where}: expected a positive finite number, got {value!r}", line=line
        )
    if kind is int and not isinstance(value, int):
        raise SuiteError(path, f"{where}: expected a positive integer, got {value!r}", line=line)
    return kind(value)


def key_line(path: Path, table: str, key: str | None = None) -> int | None:
    """Line of `key = ...` inside `[table]` (or of the table header itself), for error messages."""
    current = None
    for number, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = row.strip()
        header = re.fullmatch(r"\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?", text)
        if header:
            current = header.group(1)
            if key is None and current == table:
                return number
            continue
        assignment = re.match(r"([A-Za-z0-9_\-\"']+)\s*=", text)
        if not assignment:
            continue
        name = assignment.group(1).strip("\"'")
        if key is None and current is None and name == table:
            return number  # `table = ...` written as a plain key
        if key is not None and current == table and name == key:
            return number
    return None
