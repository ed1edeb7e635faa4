"""Apply a model's own chat template: the one function evaluation, preflight, benchmarks and
training data call, so the prompt a model is trained on and the one it is evaluated on are
rendered by the same code (preflight's parity check compares exactly these strings).

mlx-lm's ``ChatDataset`` renders training rows with ``apply_chat_template(messages,
tools=row["tools"])``; evaluation adds the generation prompt and turns thinking off. Both go
through :func:`render_chat`, which passes the tools list as given (``None`` when there are none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _tools_argument(tools: Sequence[Mapping[str, Any]] | None) -> list[Any] | None:
    """One rule for "no tools": ``None``, never an empty list (templates test ``if tools``)."""
    return [dict(tool) for tool in tools] if tools else None


def render_chat(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
    *,
    add_generation_prompt: bool,
    enable_thinking: bool | None = None,
) -> str:
    """The chat as text, rendered by ``tokenizer``'s template.

    ``enable_thinking=None`` leaves the template's default (how mlx-lm renders training rows);
    evaluation passes ``False``.
    """
    extra: dict[str, Any] = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    text: str = tokenizer.apply_chat_template(
        [dict(message) for message in messages],
        tools=_tools_argument(tools),
        add_generation_prompt=add_generation_prompt,
        tokenize=False,
        **extra,
    )
    return text


def prompt_token_ids(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
) -> list[int]:
    """The evaluation prompt's token ids: generation prompt on, thinking off."""
    ids = tokenizer.apply_chat_template(
        [dict(message) for message in messages],
        tools=_tools_argument(tools),
        add_generation_prompt=True,
        enable_thinking=False,
        tokenize=True,
    )
    return [int(i) for i in (ids["input_ids"] if isinstance(ids, Mapping) else ids)]
