"""Render the Code Mode system prompt and chat messages from a catalog.

This is the single renderer shared by evaluation and training data generation, so the prompt a
model is trained on and the prompt it is evaluated on cannot drift apart. Its hash is recorded in
every results file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pytest_codemode_eval.catalog import Catalog

CODE_MODE_INSTRUCTIONS = """\
You are a coding assistant working in a Python project. You act through tools in Code Mode:
answer with exactly one call of `{wrapper}` whose `{code}` argument is Python code that calls
the tools below and prints what the user needs. Call tools only inside that code.
If no tool is needed, answer in plain text."""


COMPACT_INSTRUCTIONS = """\
Code Mode: answer with one call of `{wrapper}({code}: str)`; the code calls {which} tools and
prints the result. No tool needed: answer in plain text."""

# full: instructions, result types, stubs with docstrings; compact: signatures only; minimal: the
# instructions alone, for a model fine-tuned on the tools (as many published Code Mode sets do).
PROMPT_STYLES = ("full", "compact", "minimal")


def render_system_prompt(catalog: Catalog) -> str:
    """Code Mode instructions followed by the Python stubs of every tool and result type."""
    wrapper = catalog.wrapper
    if catalog.prompt_style in ("compact", "minimal"):
        compact = catalog.prompt_style == "compact"
        head = COMPACT_INSTRUCTIONS.format(
            wrapper=wrapper.name, code=catalog.code_parameter, which="these" if compact else "the"
        )
        stubs = [tool.signature_line() for tool in catalog.tools.values()] if compact else []
        return "\n".join([head, *stubs])
    lines = [
        CODE_MODE_INSTRUCTIONS.format(wrapper=wrapper.name, code=catalog.code_parameter),
        "",
        "Tools available inside the code:",
        "```python",
        *catalog.result_types,
        *(tool.stub() for tool in catalog.tools.values()),
        "```",
    ]
    return "\n".join(lines)


def wrapper_tool_schema(catalog: Catalog) -> dict[str, Any]:
    """The one native tool a Code Mode model is offered, as an OpenAI function schema."""
    wrapper = catalog.wrapper
    return {
        "type": "function",
        "function": {
            "name": wrapper.name,
            "description": wrapper.doc,
            "parameters": {
                "type": "object",
                "properties": {
                    catalog.code_parameter: {
                        "type": "string",
                        "description": "Python code that calls the tools",
                    }
                },
                "required": [catalog.code_parameter],
            },
        },
    }


def offered_tools(catalog: Catalog) -> list[dict[str, Any]]:
    """The native tools passed to the chat template: execute_code, unless the suite opts out."""
    return [wrapper_tool_schema(catalog)] if catalog.native_tools else []


def build_messages(catalog: Catalog, user_prompt: str) -> list[dict[str, Any]]:
    """The chat a case is asked as: the rendered system prompt, then the user's request."""
    return [
        {"role": "system", "content": render_system_prompt(catalog)},
        {"role": "user", "content": user_prompt},
    ]


def renderer_fingerprint(catalog: Catalog) -> str:
    """Hash of exactly what the model is shown besides the user turn."""
    payload = render_system_prompt(catalog) + json.dumps(offered_tools(catalog), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
