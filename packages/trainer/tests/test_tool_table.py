"""Adding a tool to a catalog takes one entry in ``data/tools.py``: with it, ``data build`` writes
rows that ask for the new tool, call it with the file the user named and pass validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.checks.validate import validate_dataset
from codemode_trainer.data.dataset import DataError, build_dataset
from codemode_trainer.data.tools import TOOLS, ToolData
from pytest_codemode_eval.catalog import Catalog, load_catalog
from pytest_codemode_eval.code_calls import analyse_code
from pytest_codemode_eval.dry_run.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[3]
WORKSPACE = ROOT / "evalsuite" / "workspace"
NEW_TOOL = '''

def count_lines(path: str) -> int:
    """Count the lines of a text file."""
    raise NotImplementedError


TOOLS.append(count_lines)
'''
ENTRY = ToolData(
    asks=("How many lines does {path} have?", "Count the lines of {path}, please."),
    clauses=("count its lines",),
    file_parameter="path",
)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """The reference catalog with one more tool, as a suite author would write it."""
    path = tmp_path / "catalog.py"
    path.write_text((ROOT / "evalsuite" / "catalog.py").read_text() + NEW_TOOL, encoding="utf-8")
    return load_catalog(path)


def calls_of(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    message = row["messages"][-1]
    if not message.get("tool_calls"):
        return []
    code = json.loads(message["tool_calls"][0]["function"]["arguments"])["code"]
    return [(call.name, dict(call.kwargs)) for call in analyse_code(code).calls]


def test_a_catalog_tool_without_an_entry_is_refused_by_name(catalog: Catalog) -> None:
    with pytest.raises(DataError, match=r"count_lines.*data/tools\.py"):
        build_dataset(catalog, n_examples=40, workspace=WORKSPACE)


def test_one_entry_makes_the_new_tool_part_of_the_data(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(TOOLS, "count_lines", ENTRY)
    data = build_dataset(catalog, n_examples=270, workspace=WORKSPACE, seed=3)
    rows = [*data.train, *data.valid]
    assert data.tool_targets["count_lines"] >= 8  # balanced: 27 tools, ~10 targets each
    asked = 0
    for row in rows:
        for name, kwargs in calls_of(row):
            if name == "count_lines" and isinstance(kwargs.get("path"), str):  # a literal path
                assert set(kwargs) == {"path"}
                assert kwargs["path"] in row["messages"][1]["content"]
                asked += 1
    assert asked >= 3
    assert "count_lines(path: str) -> int" in rows[0]["messages"][0]["content"]
    out = tmp_path / "data"
    data.write(out)
    with Sandbox() as sandbox:
        findings = validate_dataset(out / "train.jsonl", catalog, sandbox, WORKSPACE)
    assert [f for f in findings if f.severity == "error"] == []
