"""One decoding loop for every batch size: a case alone is a batch of one.

Rows join as slots free up (continuous batching: a finished row leaves at once and the next
waiting case is prefilled and joins the running batch) and results come out as rows finish.
Every row stops by one rule (`Stops`: EOS, the end of the first tool call, its token budget,
its time budget) and is timed by one clock: from the moment it joins, not counting the time the
caller spends between pulls. The loop keeps the model one step ahead of the host, as mlx-lm's
`generate_step` does: the next step is computed while the host reads and checks the tokens of
the previous one (a finished row's extra step is dropped).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx

from pytest_codemode_eval.backends.mlx.rows import Batch, Row

CLEAR_CACHE_EVERY = 256  # decode steps between releases of mlx's buffer cache (as mlx-lm does)
Sampler = Callable[[mx.array], mx.array]


@dataclass
class Decoded:
    """A finished row: its text, the generated ids (a final EOS included) and why it ended."""

    key: int
    text: str
    tokens: list[int]
    finish: str  # stop | length | timeout
    seconds: float  # from joining the batch to finishing, the caller's pauses left out


@dataclass
class Active:
    """A row being decoded: its ids so far and what its streaming detokenizer let out."""

    row: Row
    started: float
    detokenizer: Any  # this row's own streaming detokenizer
    tokens: list[int] = field(default_factory=list)
    text: str = ""


@dataclass(frozen=True)
class Stops:
    """The one stop rule, the one place that cuts a row's text."""

    eos: frozenset[int]
    close: str  # the tool-call end, as text: tokenizers may spell it in several pieces
    detokenizer: Callable[[], Any]  # a fresh streaming detokenizer

    def reason(self, active: Active, now: float) -> str | None:
        """Why this row stops after its newest token, in mlx-lm's stream_generate order: EOS
        (not text), the close in the streamed text, the token budget, then the time budget."""
        token = active.tokens[-1]
        if token in self.eos:
            return "stop"
        active.detokenizer.add_token(token)
        last = len(active.tokens) >= active.row.max_tokens
        if last:
            active.detokenizer.finalize()  # stream_generate flushes before its last text
        active.text += active.detokenizer.last_segment
        if self.close and self.close in active.text:
            return "stop"
        if last:
            return "length"
        if now - active.started > active.row.time_budget:
            return "timeout"
        return None

    def text(self, active: Active) -> str:
        """The row's whole text as stream_generate writes it: EOS is not text; a closing
        `</tool_call>` is kept and nothing after it (nothing after it is scored)."""
        active.detokenizer.finalize()
        text = str(active.detokenizer.text)
        if self.close and self.close in text:
            text = text[: text.index(self.close) + len(self.close)]
        return text


def decode(
    batch: Batch,
    rows: Iterable[Row],
    *,
    max_rows: int,
    sampler: Sampler,
    stops: Stops,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[Decoded]:
    """Decode the rows, at most `max_rows` at a time, yielding each as it finishes."""
    waiting, active = deque(rows), list[Active]()
    pending: mx.array | None = None  # one sampled token per active row, not yet read
    steps = 0
    while waiting or active:
        if waiting and len(active) < max_rows:
            joining = [waiting.popleft() for _ in range(min(max_rows - len(active), len(waiting)))]
            started = clock()
            first = sample(batch.join(joining), sampler)
            active += [Active(row, started, stops.detokenizer()) for row in joining]
            pending = first if pending is None else mx.concatenate([pending, first])
        assert pending is not None
        ahead: mx.array | None = sample(batch.step(pending), sampler)  # runs while we read
        mx.async_eval(ahead)  # type: ignore[no-untyped-call]
        now = clock()
        finished, going_on = _check(active, _as_ints(pending), stops, now)
        if finished:
            active = [active[i] for i in going_on]
            batch.keep(going_on, alone=len(active) == 1 and not waiting)
            ahead = ahead[mx.array(going_on)] if going_on and ahead is not None else None
        pending = ahead
        for decoded in finished:
            paused = clock()
            yield decoded
            resumed = clock()  # the caller's time between pulls is no row's time
            for item in active:
                item.started += resumed - paused
        steps += 1
        if steps % CLEAR_CACHE_EVERY == 0:
            mx.clear_cache()


def _check(
    active: Sequence[Active], tokens: Sequence[int], stops: Stops, now: float
) -> tuple[list[Decoded], list[int]]:
    """Each row's newest token through the stop rule: the rows that finished (timed before
    any pause) and the indices of those going on."""
    finished: list[Decoded] = []
    going_on: list[int] = []
    for index, (item, token) in enumerate(zip(active, tokens, strict=True)):
        item.tokens.append(token)
        reason = stops.reason(item, now)
        if reason is None:
            going_on.append(index)
        else:
            seconds = now - item.started
            finished.append(Decoded(item.row.key, stops.text(item), item.tokens, reason, seconds))
    return finished, going_on


def sample(logits: mx.array, sampler: Sampler) -> mx.array:
    """One token per row from the rows' last logits, as mlx-lm samples (from log-probabilities)."""
    return sampler(logits - mx.logsumexp(logits, axis=-1, keepdims=True))


def _as_ints(tokens: mx.array) -> list[int]:
    values = tokens.tolist()
    assert isinstance(values, list)
    return [int(t) for t in values]  # type: ignore[arg-type]
