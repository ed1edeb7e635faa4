"""Several OpenAI-compatible servers serving one model, used as one backend (a fleet).

Why: a 300-case suite with repeats against a 30B model is hours on one machine, and teams already
run `mlx_lm.server` or vLLM on several hosts. Each endpoint is an `OpenAIBackend` (its own
`GET /models` check, retries and time budgets); this module only decides where each request goes
and what happens when a server fails.

- Every endpoint must serve the model: the first one's choice (or `--codemode-api-model`) is
  required of the others, so a mixed fleet stops at start with the endpoint named.
- Each endpoint has `concurrency` slots (`--codemode-batch-size`); a request takes a free slot of
  the endpoint with the fewest requests in flight (ties: the one sent fewest so far).
- An endpoint that fails (refused, unreachable, 5xx or dropped after its retries: `down`)
  leaves the rotation and the request runs on another; every request ends in exactly one
  generation, so a case is never counted twice. A request that times out with nothing received
  is a hung endpoint: that endpoint leaves and the request runs once more elsewhere; when it
  times out there too, the case is slow rather than the server, and the first one comes back.
  The last endpoint in rotation is never dropped for a hang (the case just times out).
- When no endpoint is left, each remaining case is an `error` generation naming every endpoint
  and why it left; the session goes on.
- Greedy decoding does not depend on the server, so outputs equal a one-server run's.

Under xdist each worker has its own fleet (own `/models` check, own slots: up to
`batch size x workers` requests per endpoint) and finds a failed endpoint on its own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_codemode_eval.backends.openai import (
    OpenAIBackend,
    ServerError,
    generate_concurrently,
)
from pytest_codemode_eval.generation import Generation, GenerationRequest

HUNG = "nothing received within the case's time budget (hung)"


@dataclass(eq=False)
class Endpoint:
    """One server of the fleet and its place in the rotation."""

    server: OpenAIBackend
    in_flight: int = 0
    sent: int = 0
    failure: str | None = None  # why it left the rotation

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def in_rotation(self) -> bool:
        return self.failure is None


class Rotation:
    """Which endpoint takes the next request: the least busy one still in rotation."""

    def __init__(self, endpoints: Sequence[Endpoint], slots: int) -> None:
        self.endpoints = list(endpoints)
        self.slots = max(slots, 1)
        self._changed = threading.Condition()

    def take(self) -> Endpoint | None:
        """Wait for a free slot; None once no endpoint is left in rotation."""
        with self._changed:
            while True:
                live = [e for e in self.endpoints if e.in_rotation]
                if not live:
                    return None
                free = [e for e in live if e.in_flight < self.slots]
                if free:
                    chosen = min(free, key=lambda e: (e.in_flight, e.sent))
                    chosen.in_flight += 1
                    chosen.sent += 1
                    return chosen
                self._changed.wait()

    def give_back(self, endpoint: Endpoint) -> None:
        with self._changed:
            endpoint.in_flight -= 1
            self._changed.notify_all()

    def retire(self, endpoint: Endpoint, reason: str, keep_last: bool = False) -> bool:
        """Take `endpoint` out of rotation; whether its request should go elsewhere (no, when
        `keep_last` and no other endpoint is left)."""
        with self._changed:
            others = [e for e in self.endpoints if e.in_rotation and e is not endpoint]
            if keep_last and not others:
                return False
            if endpoint.in_rotation:
                endpoint.failure = reason
            self._changed.notify_all()
            return True

    def reinstate(self, endpoint: Endpoint) -> None:
        """Back in rotation: it was retired for a hang the next endpoint showed to be the case's."""
        with self._changed:
            if endpoint.failure == HUNG:
                endpoint.failure = None
                self._changed.notify_all()

    def gone(self) -> str:
        return "; ".join(f"{e.url}: {e.failure}" for e in self.endpoints if not e.in_rotation)


class FleetBackend:
    """Several endpoints as one backend: `generate` fails over, `generate_stream` fills slots."""

    name = "openai"

    def __init__(self, base_urls: Sequence[str], concurrency: int = 1, **settings: Any) -> None:
        first = OpenAIBackend(base_urls[0], concurrency=concurrency, **settings)
        settings["api_model"] = first.model  # every other endpoint must serve the same model
        servers = [
            first,
            *(OpenAIBackend(url, concurrency=concurrency, **settings) for url in base_urls[1:]),
        ]
        self.model = first.model
        self.concurrency = concurrency
        self.rotation = Rotation([Endpoint(server) for server in servers], concurrency)

    @property
    def endpoints(self) -> list[Endpoint]:
        return self.rotation.endpoints

    def identity(self) -> dict[str, Any]:
        """The first server's identity, with every endpoint named in place of its URL."""
        identity = self.endpoints[0].server.identity()
        for key in ("base_url", "served", "system_fingerprint"):
            identity.pop(key, None)
        identity["endpoints"] = [
            {
                "url": e.url,
                "served": list(e.server.served),
                "system_fingerprint": e.server.system_fingerprint,
            }
            for e in self.endpoints
        ]
        return identity

    def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        failures: list[Mapping[str, str]] = []
        hung_on: Endpoint | None = None
        while (endpoint := self.rotation.take()) is not None:
            try:
                generation = self._attempt(endpoint, request)
            except ServerError as exc:  # the server is down (see _attempt)
                self.rotation.retire(endpoint, str(exc))
                failures.append({"url": endpoint.url, "error": str(exc)})
                continue
            finally:
                self.rotation.give_back(endpoint)
            if _hung(generation) and hung_on is None:
                if self.rotation.retire(endpoint, HUNG, keep_last=True):
                    hung_on = endpoint
                    failures.append({"url": endpoint.url, "error": HUNG})
                    continue
            elif _hung(generation) and hung_on is not None:  # slow on two: the case, not them
                self.rotation.reinstate(hung_on)
                failures = [f for f in failures if f["url"] != hung_on.url or f["error"] != HUNG]
            return dataclasses.replace(generation, endpoint_failures=tuple(failures))
        error = f"no endpoint left in the rotation ({self.rotation.gone()})"
        seconds = time.perf_counter() - started
        return Generation("", seconds, "error", error=error, endpoint_failures=tuple(failures))

    def generate_stream(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[int, Generation]]:
        """(index, generation) as each finishes, `concurrency` in flight per endpoint."""
        return generate_concurrently(
            self.generate, requests, self.concurrency * len(self.endpoints)
        )

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.server.close()

    @staticmethod
    def _attempt(endpoint: Endpoint, request: GenerationRequest) -> Generation:
        """One endpoint's answer; raises ServerError when the server is down. A refused request
        (HTTP 4xx) is this case's error only."""
        started = time.perf_counter()
        try:
            return endpoint.server.attempt(request)
        except ServerError as exc:
            if exc.down:
                raise
            seconds = time.perf_counter() - started
            return Generation("", seconds, "error", error=str(exc), endpoint=endpoint.url)


def _hung(generation: Generation) -> bool:
    """Timed out before a single token arrived."""
    return (
        generation.finish == "timeout"
        and not generation.output
        and not generation.server_tool_calls
    )
