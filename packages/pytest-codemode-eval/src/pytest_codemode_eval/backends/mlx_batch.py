"""Continuous batching behind a shared prefix: rows join as others finish.

A fixed batch waits for its slowest case (one multi-tool case with a 768-token budget keeps 8
finished slots idle); here a finished row leaves at once and the next waiting case is prefilled
and joins the running batch. Each row keeps its own token budget, its own time budget (counted
from the moment it joins, not counting the time the caller spends between pulls) and its own
stops (EOS, the end of the first tool call, found in the streamed text as the one-by-one path
finds it). Results come out as rows finish, so the caller can hand them out while the rest
decode.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
from mlx_lm.generate import BatchGenerator, StopSequences
from mlx_lm.models.cache import KVCache

from pytest_codemode_eval.backends.mlx_shared_prefix import SharedPrefixCache, shared_prefix_caches

PREFILL_STEP = 512  # columns per prefill pass: bounds the attention scores of long suffixes
CLEAR_CACHE_EVERY = 256  # decode steps between releases of mlx's buffer cache (as mlx-lm does)


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
    detokenizer: Any  # this row's streaming detokenizer
    tokens: list[int] = field(default_factory=list)
    text: str = ""  # what the detokenizer has let out so far
    next_token: int = 0


@dataclass(frozen=True)
class Stops:
    eos: frozenset[int]
    close: str  # the tool-call end, as text: tokenizers may spell it in several pieces
    detokenizer: Callable[[], Any]  # a fresh streaming detokenizer

    def reason(self, active: _Active, now: float) -> str | None:
        """Why this row stops after its newest token, checked as `MlxBackend.generate` and
        mlx-lm's stream_generate do: EOS (not text), the close in the streamed text, the token
        budget, the time budget."""
        token = active.tokens[-1]
        if token in self.eos:
            return "stop"
        active.detokenizer.add_token(token)
        active.text += active.detokenizer.last_segment
        if self.close and self.close in active.text:
            return "stop"
        if len(active.tokens) >= active.row.max_tokens:
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
    steps = 0
    while waiting or active:
        if waiting and len(active) < max_rows:
            joining = [waiting.popleft() for _ in range(min(max_rows - len(active), len(waiting)))]
            new, new_caches = _prefill(model, prefix, joining, sampler, stops, clock)
            if caches is None:
                caches = new_caches
            else:
                for mine, theirs in zip(caches, new_caches, strict=True):
                    assert isinstance(mine, SharedPrefixCache)  # plain only with nobody waiting
                    mine.extend(theirs)
            active += new
        now = clock()
        going_on: list[int] = []
        finished: list[Decoded] = []
        for index, item in enumerate(active):
            item.tokens.append(item.next_token)
            reason = stops.reason(item, now)
            if reason is None:
                going_on.append(index)
            else:
                finished.append(Decoded(item.row.key, item.tokens, reason, now - item.started))
        if finished:
            active = [active[i] for i in going_on]
            if not active:
                caches = None
            else:
                assert caches is not None
                for cache in caches:
                    assert isinstance(cache, SharedPrefixCache)
                    cache.keep(going_on)
                if len(active) == 1 and not waiting:
                    caches = [c.plain() for c in caches if isinstance(c, SharedPrefixCache)]
            for decoded in finished:
                paused = clock()
                yield decoded
                resumed = clock()  # the caller's time between pulls is no row's time
                for item in active:
                    item.started += resumed - paused
            if not active:
                continue
        assert caches is not None
        last = mx.array([[item.next_token] for item in active])
        for item, token in zip(active, _sample(model(last, cache=caches), sampler), strict=True):
            item.next_token = token
        steps += 1
        if steps % CLEAR_CACHE_EVERY == 0:
            mx.clear_cache()


def decode_copied(
    model: Any,
    rows: Iterable[tuple[Row, list[Any]]],
    *,
    max_rows: int,
    sampler: Callable[[mx.array], mx.array],
    stops: Stops,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[Decoded]:
    """The same contract as `decode`, through mlx-lm's BatchGenerator with each row's own cache
    (a copy of the prefix cache, or a fresh one), for models the split attention does not serve
    (bf16/fp16, other architectures). Rows are inserted only as slots free up, so each row's
    clock starts when it joins (and its cache copy is made only then); as in `decode`, time is
    checked only after a row's token, so every row gets at least one."""
    pending, more = iter(rows), True
    generator = BatchGenerator(
        model, sampler=sampler, completion_batch_size=max_rows, prefill_batch_size=max_rows
    )
    eos = StopSequences([[token] for token in stops.eos])
    active: dict[int, _Active] = {}
    try:
        while more or active:
            if more and len(active) < max_rows:
                room = max_rows - len(active)
                joining = list(itertools.islice(pending, room))
                more = len(joining) == room
                if joining:
                    _insert(generator, joining, eos, active, stops, clock())
            if not active:
                continue
            responses = generator.next_generated()
            now = clock()
            finished: dict[int, str] = {}
            still_running: list[int] = []  # rows we stop that the generator would continue
            for response in responses:
                item = active[response.uid]
                item.tokens.append(response.token)
                reason = stops.reason(item, now)
                if reason is not None:
                    finished[response.uid] = reason
                    if response.finish_reason is None:
                        still_running.append(response.uid)
            if still_running:
                generator.remove(still_running)
            done = [  # all built before the first yield: pauses shift only rows going on
                Decoded(active[uid].row.key, active[uid].tokens, reason, now - active[uid].started)
                for uid, reason in finished.items()
            ]
            for uid in finished:
                del active[uid]
            for decoded in done:
                paused = clock()
                yield decoded
                resumed = clock()  # the caller's time between pulls is no row's time
                for other in active.values():
                    other.started += resumed - paused
            if not responses and not finished and not more and active:
                raise RuntimeError("BatchGenerator stopped with rows unfinished")
    finally:
        generator.close()


def _insert(
    generator: BatchGenerator,
    joining: list[tuple[Row, list[Any]]],
    eos: StopSequences,
    active: dict[int, _Active],
    stops: Stops,
    started: float,
) -> None:
    uids = generator.insert(
        [list(row.tokens) for row, _ in joining],
        [row.max_tokens for row, _ in joining],
        caches=[cache for _, cache in joining],
        stop_sequences=[eos] * len(joining),
    )
    for uid, (row, _) in zip(uids, joining, strict=True):
        active[uid] = _Active(row, started, stops.detokenizer())


def _prefill(
    model: Any,
    prefix: Sequence[KVCache],
    rows: Sequence[Row],
    sampler: Callable[[mx.array], mx.array],
    stops: Stops,
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
        _Active(row, started, stops.detokenizer(), next_token=token)
        for row, token in zip(rows, first, strict=True)
    ], caches


def _sample(logits: mx.array, sampler: Callable[[mx.array], mx.array]) -> list[int]:
    last = logits[:, -1, :]
    logprobs = last - mx.logsumexp(last, axis=-1, keepdims=True)
    sampled = sampler(logprobs).tolist()
    assert isinstance(sampled, list)
    return [int(t) for t in sampled]  # type: ignore[arg-type]
