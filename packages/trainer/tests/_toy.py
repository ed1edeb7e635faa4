"""A small generated tool-routing chat dataset (mlx-lm chat JSONL) and a tiny model that fits it.

Rows are ``{"messages": [system, user, assistant with tool_calls]}`` without a ``tools`` list:
the tools section of the template would make each row ~370 tokens instead of ~55, and training
time grows with it. A row or two carry ``tools`` so that path is exercised too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from codemode_trainer.training.init_model import init_model

TOOLS: dict[str, tuple[str, list[str], list[str]]] = {
    "get_weather": (
        "city",
        ["What is the weather in {x}?", "Weather for {x} please", "Is it raining in {x}?"],
        ["Berlin", "Paris", "Oslo", "Rome", "Tokyo", "Lima"],
    ),
    "read_file": (
        "path",
        ["Show me {x}", "Read the file {x}", "Open {x} and print it"],
        ["notes.txt", "main.py", "README.md", "setup.cfg", "data.csv", "todo.md"],
    ),
    "run_tests": (
        "target",
        ["Run the tests in {x}", "Test {x} now", "Check {x} with pytest"],
        ["tests/", "src/", "app/", "lib/", "pkg/", "core/"],
    ),
    "git_log": (
        "count",
        ["Show the last {x} commits", "List {x} recent commits", "Git history, {x} entries"],
        ["3", "5", "7", "10", "2", "4"],
    ),
}
SYSTEM = "You route requests to tools."


def tool_specs() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Tool {name}.",
                "parameters": {"type": "object", "properties": {arg: {"type": "string"}}},
            },
        }
        for name, (arg, _, _) in TOOLS.items()
    ]


def rows(n: int, seed: int, *, with_tools_every: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for k in range(n):
        name = rng.choice(sorted(TOOLS))
        arg, phrasings, values = TOOLS[name]
        value = rng.choice(values)
        call = {"type": "function", "function": {"name": name, "arguments": {arg: value}}}
        row: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": rng.choice(phrasings).format(x=value)},
                {"role": "assistant", "content": "", "tool_calls": [call]},
            ]
        }
        if with_tools_every and k % with_tools_every == 0:
            row["tools"] = tool_specs()
        out.append(row)
    return out


def write_data(folder: Path, n_train: int = 64, n_valid: int = 16, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, s in (("train", n_train, seed), ("valid", n_valid, seed + 1000)):
        lines = "".join(json.dumps(r) + "\n" for r in rows(n, s))
        (folder / f"{name}.jsonl").write_text(lines, encoding="utf-8")
    return folder


def corpus() -> list[str]:
    """Text for the tokenizer: every phrasing, value and tool name, and the call JSON."""
    return [json.dumps(r) for r in rows(200, 99)] + [json.dumps(tool_specs())]


def tiny_model(path: Path) -> Path:
    return init_model(path, "tiny", corpus=corpus())
