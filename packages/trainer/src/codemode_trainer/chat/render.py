"""Render rows with a model's chat template exactly as mlx-lm's ``ChatDataset`` does.

Training sees ``apply_chat_template(messages, tools=row["tools"])`` and, with ``mask_prompt``,
learns only what follows the rendering of the messages before the last one. The checks that
compare training with evaluation must see those same strings, so they are produced here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from codemode_trainer.chat.templates import CallSyntax, detect_call_syntax
from codemode_trainer.rows import Message
from pytest_codemode_eval.chat_template import render_chat
from pytest_codemode_eval.parse import Syntax, parse_output


class ChatRenderer:
    """A Hugging Face tokenizer's chat template, applied the way mlx-lm applies it."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        self.template = str(tokenizer.chat_template)
        self.call_syntax: CallSyntax = detect_call_syntax(self.template)

    def render(
        self,
        messages: Sequence[Message],
        tools: Any,
        prompt: bool,
        enable_thinking: bool | None = None,
    ) -> str:
        return render_chat(
            self.tok, messages, tools, add_generation_prompt=prompt, enable_thinking=enable_thinking
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False))

    def pieces(self, text: str) -> list[str]:
        """How the tokenizer splits ``text`` (one piece for a proper special token)."""
        pieces: list[str] = self.tok.convert_ids_to_tokens(
            self.tok.encode(text, add_special_tokens=False)
        )
        return pieces

    def target(self, messages: Sequence[Message], tools: Any, index: int, full: str) -> str:
        """The text trained for turn ``index``: its rendering after the prompt before it.

        ``full`` is the rendering of the whole row; the end-of-turn token is left out.
        """
        prompt = self.render(messages[:index], tools, prompt=True)
        last = index == len(messages) - 1
        upto = full if last else self.render(messages[: index + 1], tools, prompt=False)
        if not upto.startswith(prompt):
            raise ValueError("the prompt rendering is not a prefix of the row's rendering")
        target = upto[len(prompt) :].rstrip("\n")
        eos = self.tok.eos_token
        if isinstance(eos, str) and eos and target.endswith(eos):
            target = target[: -len(eos)]
        return target


def call_syntaxes(target: str) -> set[Syntax]:
    """The syntaxes the calls in a rendered target are written in."""
    return {call.syntax for call in parse_output(target).calls}


def what_differs(
    prefix: Sequence[Message], tools: Any, evaluated: Sequence[Mapping[str, Any]], eval_tools: Any
) -> str:
    """Name the parts of a row's prompt that differ from the eval's: system, tools, turns."""
    parts = []
    system = next((m.get("content") for m in prefix if m.get("role") == "system"), None)
    if system != evaluated[0]["content"]:
        parts.append("no system prompt" if system is None else "system prompt differs")
    if tools != eval_tools:
        parts.append("no tools (no # Tools section)" if not tools else "tools differ")
    if len(prefix) != len(evaluated):
        parts.append(f"{len(prefix)} messages before the answer, the eval has {len(evaluated)}")
    return "rendered prompt differs from the eval's: " + ("; ".join(parts) or "template output")


def first_difference(row: str, expected: str, context: int = 40) -> str:
    """Where two renderings part, with a little text of each."""
    index = next(
        (i for i, (a, b) in enumerate(zip(row, expected, strict=False)) if a != b),
        min(len(row), len(expected)),
    )
    start = max(0, index - 10)
    return (
        f"first difference at char {index}: row {row[start : index + context]!r} "
        f"vs eval {expected[start : index + context]!r}"
    )
