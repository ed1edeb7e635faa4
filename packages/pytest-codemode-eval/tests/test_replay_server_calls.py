"""Outputs a server parsed itself (OpenAI `tool_calls`, no call text) and failed generations are
recorded and replayed faithfully, and the report says when a server's parse was scored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
CODE = "print(git_log('.', count=5))"
RECORDS = [
    {  # mlx_lm.server sends no call text, only its own parse of the call
        "id": "git-03",
        "output": "",
        "seconds": 0.4,
        "finish": "stop",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "execute_code", "arguments": json.dumps({"code": CODE})},
            }
        ],
    },
    {
        "id": "git-01",
        "output": "",
        "seconds": 0.1,
        "finish": "error",
        "error": "server dropped the call",
    },
]


@pytest.fixture
def suite_copy(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    pytester.makeini("[pytest]\n")
    (pytester.path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    return pytester


def run(pytester: pytest.Pytester, replay: str, results: str, *extra: str) -> dict[str, Any]:
    pytester.runpytest(
        "evalsuite", "-k", "git-01 or git-03", "--codemode-backend=replay",
        f"--codemode-replay={replay}", f"--codemode-results={results}", *extra,
    )  # fmt: skip
    document: dict[str, Any] = json.loads((pytester.path / results).read_text())
    return {case["id"]: case for case in document["cases"]}


def test_server_parsed_call_scores_and_says_so(suite_copy: pytest.Pytester) -> None:
    cases = run(suite_copy, "in.jsonl", "a.json")
    assert (cases["git-03"]["score"], cases["git-03"]["verdict"]) == (1.0, "code_mode")
    assert cases["git-03"]["note"].endswith("(server-parsed call)")
    assert (cases["git-01"]["score"], cases["git-01"]["verdict"]) == (0.0, "error")
    assert "server dropped the call" in cases["git-01"]["note"]


@pytest.mark.slow
def test_record_keeps_server_calls_and_errors_for_replay(suite_copy: pytest.Pytester) -> None:
    first = run(suite_copy, "in.jsonl", "a.json", "--codemode-record=rec.jsonl")
    recorded = {
        r["id"]: r
        for r in map(json.loads, (suite_copy.path / "rec.jsonl").read_text().splitlines())
    }
    assert recorded["git-03"]["tool_calls"] == RECORDS[0]["tool_calls"]
    assert (recorded["git-01"]["finish"], recorded["git-01"]["error"]) == (
        "error",
        "server dropped the call",
    )
    second = run(suite_copy, "rec.jsonl", "b.json")
    assert second == first
