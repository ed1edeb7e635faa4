"""Continuous batching behind a shared prefix: rows join as others finish.

A fixed batch waits for its slowest case (one multi-tool case with a 768-token budget keeps 8
finished slots idle); here a finished row leaves at once and the next waiting case is prefilled
and joins the running batch. Each row keeps its own token budget, its own time budget (counted
from the moment it joins) and its own stops (EOS, the end of the first tool call).
Results come out as rows finish, so the caller can hand them out while the rest decode.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
from mlx_lm.models.cache import KVCache

from pytest_codemode_eval.backends.mlx_shared_prefix import SharedPrefixCache, shared_prefix_caches

PREFILL_STEP = 512  # columns per prefill pass: bounds the attention scores of long suffixes


@dataclass(frozen=True)
class Row:
    """A case waiting to be decoded: its tokens after the shared prefix, and its budgets."""

    key: int
    tokens: Sequence[int]
    max_tokens: int
    time_budget: float


@dataclass
class Decoded:
    """A finished row: the generated ids (a final EOS or tool-call end included)."""

    key: int
    tokens: list[int]
    finish: str  # stop | length | timeout
    seconds: float  # from joining the batch to finishing


@dataclass
class _Active:
    row: Row
    started: float
    tokens: list[int] = field(default_factory=list)
    next_token: int = 0


@dataclass(frozen=True)
class Stops:
    eos: frozenset[int]
    close: tuple[int, ...]  # the tool-call end's ids

    def reason(self, active: _Active, now: float) -> str | None:
        """Why this row stops after its newest token (checked in mlx-lm's own order)."""
        tokens = active.tokens
        if tokens[-1] in self.eos:
            return "stop"
        if self.close and tuple(tokens[-len(self.close) :]) == self.close:
            return "stop"
        if len(tokens) >= active.row.max_tokens:
            return "length"
        if now - active.started > active.row.time_budget:
            return "timeout"
        return None


def decode(
    model: Any,
    prefix: Sequence[KVCache],
    rows: Iterable[Row],
    *,
    max_rows: int,
    sampler: Callable[[mx.array], mx.array],
    stops: Stops,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[Decoded]:
    """Decode the rows, at most `max_rows` at a time, yielding each as it finishes."""
    waiting = deque(rows)
    active: list[_Active] = []
    caches: list[SharedPrefixCache] | list[KVCache] | None = None
    while waiting or active:
        if waiting and len(active) < max_rows:
            joining = [waiting.popleft() for _ in range(min(max_rows - len(active), len(waiting)))]
            new, new_caches = _prefill(model, prefix, joining, sampler, clock)
            if caches is None:
                caches = new_caches
            else:
                for mine, theirs in zip(caches, new_caches, strict=True):
                    assert isinstance(mine, SharedPrefixCache)  # plain only with nobody waiting
                    mine.extend(theirs)
            active += new
        now = clock()
        going_on: list[int] = []
        for index, item in enumerate(active):
            item.tokens.append(item.next_token)
            reason = stops.reason(item, now)
            if reason is None:
                going_on.append(index)
            else:
                yield Decoded(item.row.key, item.tokens, reason, clock() - item.started)
        if len(going_on) < len(active):
            active = [active[i] for i in going_on]
            if not active:
                caches = None
                continue
            assert caches is not None
            for cache in caches:
                assert isinstance(cache, SharedPrefixCache)
                cache.keep(going_on)
            if len(active) == 1 and not waiting:
                caches = [cache.plain() for cache in caches if isinstance(cache, SharedPrefixCache)]
        assert caches is not None
        last = mx.array([[item.next_token] for item in active])
        for item, token in zip(active, _sample(model(last, cache=caches), sampler), strict=True):
            item.next_token = token


def _prefill(
    model: Any,
    prefix: Sequence[KVCache],
    rows: Sequence[Row],
    sampler: Callable[[mx.array], mx.array],
    clock: Callable[[], float],
) -> tuple[list[_Active], list[SharedPrefixCache]]:
    """The joining rows' own tokens, left-padded into one batch, as mlx-lm prefills: all but
    the last token first (in chunks), then the last one, whose logits give the first token."""
    started = clock()
    width = max(len(row.tokens) for row in rows)
    padding = [width - len(row.tokens) for row in rows]
    tokens = mx.array(
        [[0] * pad + list(row.tokens) for pad, row in zip(padding, rows, strict=True)]
    )
    caches = shared_prefix_caches(prefix, len(rows))
    for cache in caches:
        cache.pad_left(padding)
    for start in range(0, width - 1, PREFILL_STEP):
        model(tokens[:, start : min(start + PREFILL_STEP, width - 1)], cache=caches)
        mx.eval([(c.keys, c.values) for c in caches])
    first = _sample(model(tokens[:, width - 1 :], cache=caches), sampler)
    return [
        _Active(row, started, next_token=token) for row, token in zip(rows, first, strict=True)
    ], caches


def _sample(logits: mx.array, sampler: Callable[[mx.array], mx.array]) -> list[int]:
    last = logits[:, -1, :]
    logprobs = last - mx.logsumexp(last, axis=-1, keepdims=True)
    sampled = sampler(logprobs).tolist()
    assert isinstance(sampled, list)
    return [int(t) for t in sampled]  # type: ignore[arg-type]
