"""The KV caches of the rows that decode together, held one of two ways.

`CopiedRows`: each row starts from its own cache (a copy of the shared-prefix cache, or a fresh
one) prefilled exactly as mlx-lm's `generate_step` prefills; rows batch through mlx-lm's
`BatchKVCache`, and a row alone keeps a plain `KVCache` (mlx's fused attention, the numbers of
stream_generate). `SharedRows`: the prefix is stored once and attended by every row
(`shared_prefix`), for float32 models whose attention can be routed. The decoding loop
(`decode`) sees only `join`, `step` and `keep`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import mlx.core as mx
from mlx_lm.models.cache import BatchKVCache, KVCache, make_prompt_cache

from pytest_codemode_eval.backends.mlx.shared_prefix import SharedPrefixCache, shared_prefix_caches

PREFILL_STEP = 2048  # tokens per prefill pass of a row on its own cache (mlx-lm's default)
SHARED_PREFILL_STEP = 512  # columns per batched prefill pass: bounds the attention scores


@dataclass(frozen=True)
class Row:
    """A case waiting to be decoded: its tokens still to prefill, and its budgets."""

    key: int
    tokens: Sequence[int]  # after the shared prefix when `prefixed`, else the whole prompt
    max_tokens: int
    time_budget: float
    prefixed: bool = False


class Batch(Protocol):
    def join(self, rows: Sequence[Row]) -> mx.array:
        """Prefill the rows and add them to the batch; their last logits, one row each."""
        ...

    def step(self, tokens: mx.array) -> mx.array:
        """Feed one token per row; the logits of the next, one row each."""
        ...

    def keep(self, rows: Sequence[int], *, alone: bool) -> None:
        """Only these rows go on; `alone`: one row and nobody waiting to join."""
        ...


class _Rows:
    def __init__(self, model: Any, prefix: Sequence[KVCache] | None) -> None:
        self.model = model
        self.prefix = prefix
        self.caches: list[Any] = []  # one per layer; empty while no row is active

    def step(self, tokens: mx.array) -> mx.array:
        logits: mx.array = self.model(tokens[:, None], cache=self.caches)
        return logits[:, -1, :]


class CopiedRows(_Rows):
    def join(self, rows: Sequence[Row]) -> mx.array:
        caches = [self._start(row) for row in rows]
        logits = mx.concatenate(
            [
                _prefill(self.model, cache, row.tokens)
                for row, cache in zip(rows, caches, strict=True)
            ]
        )
        if not self.caches and len(rows) == 1:
            self.caches = caches[0]
            return logits
        joining = [BatchKVCache.merge(list(layer)) for layer in zip(*caches, strict=True)]
        if not self.caches:
            self.caches = joining
            return logits
        if not isinstance(self.caches[0], BatchKVCache):  # a row alone so far
            self.caches = [BatchKVCache.merge([cache]) for cache in self.caches]
        for mine, theirs in zip(self.caches, joining, strict=True):
            mine.extend(theirs)
        return logits

    def keep(self, rows: Sequence[int], *, alone: bool) -> None:
        if not rows:
            self.caches = []
        elif isinstance(self.caches[0], BatchKVCache):
            for cache in self.caches:
                cache.filter(mx.array(list(rows), dtype=mx.int32))
            if alone:
                self.caches = [cache.extract(0) for cache in self.caches]

    def _start(self, row: Row) -> list[Any]:
        """The row's own cache, made only when it joins: a copy of the prefix, or a fresh one."""
        if row.prefixed and self.prefix is not None:
            return copy.deepcopy(list(self.prefix))
        fresh: list[Any] = make_prompt_cache(self.model)
        return fresh


class SharedRows(_Rows):
    def join(self, rows: Sequence[Row]) -> mx.array:
        """The rows' own tokens, left-padded into one batch, as mlx-lm prefills: all but the
        last token first (in chunks), then the last one, whose logits give the first token."""
        assert self.prefix is not None
        assert all(row.prefixed for row in rows)
        width = max(len(row.tokens) for row in rows)
        padding = [width - len(row.tokens) for row in rows]
        tokens = mx.array(
            [[0] * pad + list(row.tokens) for pad, row in zip(padding, rows, strict=True)]
        )
        caches = shared_prefix_caches(self.prefix, len(rows))
        for cache in caches:
            cache.pad_left(padding)
        for start in range(0, width - 1, SHARED_PREFILL_STEP):
            self.model(tokens[:, start : min(start + SHARED_PREFILL_STEP, width - 1)], cache=caches)
            mx.eval([(c.keys, c.values) for c in caches])
        logits: mx.array = self.model(tokens[:, width - 1 :], cache=caches)[:, -1, :]
        if not self.caches:
            self.caches = caches
        else:
            for mine, theirs in zip(self.caches, caches, strict=True):
                assert isinstance(mine, SharedPrefixCache)  # plain only with nobody waiting
                mine.extend(theirs)
        return logits

    def keep(self, rows: Sequence[int], *, alone: bool) -> None:
        if not rows:
            self.caches = []
            return
        for cache in self.caches:
            cache.keep(rows)
        if alone:  # one row alone decodes faster through mlx's fused attention
            self.caches = [cache.plain() for cache in self.caches]


def _prefill(model: Any, cache: list[Any], tokens: Sequence[int]) -> mx.array:
    """One row on its own cache, as mlx-lm's generate_step prefills: all but the last token in
    chunks, then the last one; its logits."""
    ids = mx.array(list(tokens))
    for start in range(0, len(tokens) - 1, PREFILL_STEP):
        model(ids[None, start : min(start + PREFILL_STEP, len(tokens) - 1)], cache=cache)
        mx.eval([c.state for c in cache])
    logits: mx.array = model(ids[None, -1:], cache=cache)
    return logits[:, -1, :]
