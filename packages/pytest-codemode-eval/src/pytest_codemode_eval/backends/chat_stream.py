"""Read one streamed chat completion: server-sent events in, the answer so far out.

Split from the OpenAI backend so the HTTP client (retries, model choice, budgets) and the
reading of what a server streams (text, think deltas, server-parsed calls, finish, usage) each
stay one job. See `backends/openai.py` for what mlx_lm.server actually sends.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_codemode_eval.generation import Finish, Generation
from pytest_codemode_eval.parse import THINK_CLOSE, THINK_OPEN, TOOL_CALL_CLOSE, TOOL_CALL_OPEN

DONE: dict[str, Any] = {"[DONE]": True}  # the event read_events yields for `data: [DONE]`
# After the first complete call, a few more events (at most 1 s) are read for finish and usage.
GRACE_EVENTS = 4
GRACE_SECONDS = 1.0
FINISH_REASONS: dict[str, Finish] = {"stop": "stop", "tool_calls": "stop", "length": "length"}
DROPPED_CALL = (
    "the server ended on a tool call but sent none: it drops a call it cannot parse "
    "(mlx_lm.server logs 'Failed to parse tool call'); the raw text is lost"
)


def read_events(
    response: http.client.HTTPResponse, sock: socket.socket, deadline: Callable[[], float]
) -> Iterator[dict[str, Any]]:
    """The JSON events of a server-sent-event stream (or of a plain JSON answer), until
    `[DONE]` or the end; raises TimeoutError once `deadline()` passes, even mid-read."""
    if "json" in (response.getheader("Content-Type") or ""):
        sock.settimeout(max(deadline() - time.perf_counter(), 0.001))
        yield json.loads(response.read())
        return
    data: list[str] = []
    while True:
        left = deadline() - time.perf_counter()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:  # a blank line ends an event; `:` lines are keep-alive comments
            text, data = "\n".join(data), []
            if text == "[DONE]":
                yield DONE
                return
            event = json.loads(text)
            if isinstance(event, dict):
                yield event


@dataclass
class StreamState:
    """What one streamed answer has said so far: text, server calls, finish, usage."""

    started: float = 0.0
    text: str = ""
    in_think: bool = False
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    closed_at: float | None = None  # when the first complete call ended: later text is ignored
    grace: int = GRACE_EVENTS
    done: bool = False

    @property
    def call_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def answered(self) -> bool:
        return self.call_closed or self.finish_reason is not None

    def read_until(self, deadline: float) -> float:
        return deadline if self.closed_at is None else min(deadline, self.closed_at + GRACE_SECONDS)

    @property
    def complete(self) -> bool:
        return self.done or bool(self.usage) or (self.call_closed and self.grace <= 0)

    def feed(self, event: Mapping[str, Any]) -> None:
        self.done = self.done or event is DONE
        self.fingerprint = event.get("system_fingerprint") or self.fingerprint
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        if self.call_closed:
            self.grace -= 1
        for choice in event.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice)

    def _choice(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta") or choice.get("message") or {}
        if not self.call_closed:
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                self._append(reasoning, think=True)
            if isinstance(delta.get("content"), str) and delta["content"]:
                self._append(delta["content"], think=False)
            for position, call in enumerate(delta.get("tool_calls") or []):
                self._merge_call(call, position)
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])

    def _append(self, piece: str, think: bool) -> None:
        if think != self.in_think:
            self.text += THINK_OPEN if think else THINK_CLOSE
            self.in_think = think
        self.text += piece
        if TOOL_CALL_CLOSE in self.text:
            self.text = self.text[: self.text.index(TOOL_CALL_CLOSE) + len(TOOL_CALL_CLOSE)]
            self.closed_at = time.perf_counter()

    def _merge_call(self, call: Any, position: int) -> None:
        """OpenAI streams a call in pieces (name, then argument fragments) keyed by `index`."""
        if not isinstance(call, dict):
            return
        index = call.get("index", position)
        merged = self.calls.setdefault(index, {"type": "function", "function": {}})
        merged.update({k: v for k, v in call.items() if k not in ("function", "index")})
        function = merged["function"]
        for key, value in (call.get("function") or {}).items():
            if key == "arguments" and isinstance(value, str):
                function[key] = function.get(key, "") + value
            elif value is not None:
                function[key] = value
        if not self.call_closed and _complete_call(self.calls[min(self.calls)]):
            self.closed_at = time.perf_counter()

    def generation(self, timed_out: bool = False) -> Generation:
        """The answer so far; its time runs to the end of the first call, as in the mlx backend."""
        seconds = (self.closed_at or time.perf_counter()) - self.started
        finish, error = self._finish(timed_out)
        # a think block still open at a stop was closed unseen (the server drops the tag)
        text = self.text + (THINK_CLOSE if self.in_think and finish == "stop" else "")
        return Generation(
            output=text,
            seconds=seconds,
            finish=finish,
            prompt_tokens=_count(self.usage.get("prompt_tokens")),
            generated_tokens=_count(self.usage.get("completion_tokens")),
            error=error,
            server_tool_calls=tuple(self.calls[i] for i in sorted(self.calls)),
        )

    def _finish(self, timed_out: bool) -> tuple[Finish, str | None]:
        if timed_out:
            return "timeout", None
        if self.call_closed or self.finish_reason is None:
            return "stop", None
        if (
            self.finish_reason == "tool_calls"
            and not self.calls
            and TOOL_CALL_OPEN not in self.text
        ):
            return "error", DROPPED_CALL
        finish = FINISH_REASONS.get(self.finish_reason, "error")
        return finish, None if finish != "error" else f"server finish_reason {self.finish_reason!r}"


def _complete_call(call: Mapping[str, Any]) -> bool:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not function.get("name") or not isinstance(arguments, str | dict):
        return False
    try:
        return isinstance(arguments, dict) or isinstance(json.loads(arguments), dict)
    except ValueError:
        return False


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
