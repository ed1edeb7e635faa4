"""Pre-registered targets and the named baseline, read from `targets.toml` (percentages).

`[targets]` holds one entry per suite category plus `overall`; `[baseline]` has a `name` and the
same keys (any may be left out), and optionally `suite_hash` / `renderer_hash` so a comparison
against a baseline measured on a different suite or prompt can be flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.suite import key_line, read_toml

OVERALL = "overall"


@dataclass(frozen=True)
class Baseline:
    name: str
    scores: Mapping[str, float]  # fractions 0..1
    suite_hash: str | None = None
    renderer_hash: str | None = None


@dataclass(frozen=True)
class Targets:
    targets: Mapping[str, float] = field(default_factory=dict)  # fractions 0..1, incl. overall
    baseline: Baseline | None = None
    path: Path | None = None


TARGETS_FILE = "targets.toml"


def find_targets(explicit: Path | None, suite_path: Path | str | None) -> Path | None:
    """The targets file named by the options, else the `targets.toml` beside the suite."""
    if explicit is not None:
        return explicit
    if suite_path:
        beside = Path(suite_path).parent / TARGETS_FILE
        if beside.is_file():
            return beside
    return None


def load_targets(path: Path, categories: Iterable[str]) -> Targets:
    """Read and check a targets file against the suite's categories."""
    if not path.is_file():
        raise SuiteError(path, "targets file not found")
    data = read_toml(path)
    known = [*categories, OVERALL]
    unknown_tables = set(data) - {"targets", "baseline"}
    if unknown_tables:
        raise SuiteError(
            path, f"unknown table(s) {sorted(unknown_tables)}; expected [targets], [baseline]"
        )
    targets = _percentages(data.get("targets", {}), known, path, "targets")
    baseline = None
    if "baseline" in data:
        if not isinstance(data["baseline"], dict):
            raise SuiteError(path, "[baseline] must be a table", line=key_line(path, "baseline"))
        raw = dict(data["baseline"])
        name = raw.pop("name", None)
        if not isinstance(name, str) or not name:
            line = key_line(path, "baseline", "name")
            raise SuiteError(path, '[baseline] needs a name, e.g. name = "phase33b"', line=line)
        hashes = {key: raw.pop(key, None) for key in ("suite_hash", "renderer_hash")}
        scores = _percentages(raw, known, path, "baseline")
        baseline = Baseline(name, scores, hashes["suite_hash"], hashes["renderer_hash"])
    return Targets(targets, baseline, path)


def _percentages(raw: Any, known: list[str], path: Path, table: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        line = key_line(path, table)
        raise SuiteError(path, f"[{table}] must be a table of category = percent", line=line)
    values: dict[str, float] = {}
    for key, value in raw.items():
        if key not in known:
            raise SuiteError(
                path,
                f"[{table}] {key}: unknown category; known: {', '.join(known)}",
                line=key_line(path, table, key),
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise SuiteError(
                path,
                f"[{table}] {key}: expected a percentage 0-100, got {value!r}",
                line=key_line(path, table, key),
            )
        values[key] = float(value) / 100.0
    return values
