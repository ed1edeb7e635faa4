"""What a backend returns for one case, and the protocol every backend implements.

A backend turns a GenerationRequest into a Generation. Failures (a crash, a hung model, a budget
hit) are values here, carried in `finish` and `error`, so one bad case never ends a session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Finish = Literal["stop", "length", "timeout", "error"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "timeout", "error")


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to answer one case, already rendered from the suite."""

    case_id: str
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[Mapping[str, Any]]
    max_tokens: int
    time_budget: float
    repeat: int = 0  # which of --codemode-repeats this is (0-based)
    seed: int | None = None  # this request's own sampling seed (see evaluate.request_seed)


@dataclass(frozen=True)
class Generation:
    """The raw model text for one case and how its generation ended."""

    output: str
    seconds: float = 0.0
    finish: Finish = "stop"
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    error: str | None = None
    # Calls a server parsed itself (OpenAI `tool_calls`): recorded, never trusted over `output`.
    server_tool_calls: tuple[Mapping[str, Any], ...] = field(default=())
    # Which server answered (openai backend), and the servers that failed while holding this
    # request ({"url", "error"}) before another answered it (see backends/fleet.py).
    endpoint: str | None = None
    endpoint_failures: tuple[Mapping[str, str], ...] = field(default=())

    @property
    def tokens_per_second(self) -> float | None:
        if not self.generated_tokens or self.seconds <= 0:
            return None
        return self.generated_tokens / self.seconds


class Backend(Protocol):
    """A source of model outputs: replay file, in-process mlx, or an OpenAI-compatible server."""

    name: str

    def identity(self) -> dict[str, Any]:
        """What was measured: model path, fingerprints, versions, generation settings."""
        ...

    def generate(self, request: GenerationRequest) -> Generation: ...

    def close(self) -> None: ...
