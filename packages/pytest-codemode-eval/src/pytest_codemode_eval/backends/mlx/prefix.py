"""The KV cache of the token prefix a suite's prompts share (system prompt and tool stubs),
prefilled once per model and continued by every case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mlx.core as mx
from mlx_lm.models.cache import KVCache, make_prompt_cache

from pytest_codemode_eval.generation import GenerationRequest


class SharedPrefix:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.ids: list[int] = []
        self.cache: list[KVCache] | None = None

    def warm(self, prompts: Sequence[Sequence[int]]) -> None:
        """Prefill the longest common token prefix of the prompts once (ids, not text: BPE
        merges at the boundary can differ from rendering the prefix alone)."""
        if len(prompts) < 2 and self.cache is not None:
            return
        common = list(prompts[0])
        for ids in prompts[1:]:
            n = next((i for i, (a, b) in enumerate(zip(common, ids, strict=False)) if a != b), None)
            common = common[: n if n is not None else min(len(common), len(ids))]
        common = common[: min(len(p) for p in prompts) - 1]  # every case keeps >= 1 token
        if len(common) < 2 or common == self.ids:
            return
        cache = make_prompt_cache(self.model)
        self.model(mx.array(common)[None], cache=cache)
        mx.eval([c.state for c in cache])
        self.ids, self.cache = common, cache

    def split(self, ids: Sequence[int]) -> tuple[bool, list[int]]:
        """Whether the prompt continues the prefix, and its tokens still to prefill."""
        if self.cache is None or list(ids[: len(self.ids)]) != self.ids:
            return False, list(ids)
        return True, list(ids[len(self.ids) :])


def probe(request: GenerationRequest) -> GenerationRequest:
    """The same chat with another user turn, to find where the shared prefix ends."""
    messages = [dict(m) for m in request.messages]
    messages[-1]["content"] = "x" if messages[-1].get("content") != "x" else "y"
    return GenerationRequest("__probe__", messages, request.tools, 1, 1.0)
