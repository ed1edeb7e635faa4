"""OpenAI-compatible server backend (mlx_lm.server, llama.cpp, vLLM, LM Studio), stdlib only.

Each case is one streamed `POST {base_url}/chat/completions`. Streaming lets the case's time
budget be enforced between chunks (the socket timeout is reset to what is left before every
read, so a server that hangs costs at most the budget); reading stops at the end of the first
complete tool call, as the mlx backend does. `http.client` rather than `urllib.request`: urllib
hides the socket, and its timeout could then only be set once per request.

`output` is the raw text: `content` deltas, with `reasoning` / `reasoning_content` deltas put
back inside `<think>`...`</think>` where they arrived. `server_tool_calls` are the calls the
server parsed itself: recorded, used by `parse_output` only when the text holds no call.

What mlx_lm.server 0.32.2 streams for a model whose template uses `<tool_call>` (observed):
text before a call as `content`; think text as `reasoning` (tags removed); the call itself
never as text. When `</tool_call>` is generated, one delta carries the whole call,
`{"function": {"name": ..., "arguments": "<JSON string>"}, "type": "function", "id": <uuid4>,
"index": 0}`, then `finish_reason: "tool_calls"`, the usage chunk and `[DONE]`. A call body its
parser rejects is dropped (a log warning only: no text, no call, finish `tool_calls`); we make
that an `error` generation saying so, not an empty answer. So against mlx_lm.server every call
is scored from the server's parse. Call text is never rebuilt from `tool_calls` (that would
hide the server's part); identity says `server_parses_tool_calls: true` instead. The server
also hides whether a call sat inside `<think>` (its state machine lets a call start there).

With `concurrency` N > 1 (`--codemode-batch-size N`), up to N requests are in flight at once
(`generate_stream`): servers that batch (vLLM, llama.cpp with parallel slots, mlx_lm.server)
answer them together. Each case's time budget starts when its own request is sent.

The model is never picked blindly: `GET {base_url}/models` at start, and every request names a
model the server listed (mlx_lm.server loads whatever its `model` field names). Sent with every
request: `chat_template_kwargs: {"enable_thinking": false}`, so the prompt is the mlx backend's.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pytest_codemode_eval.backends.chat_stream import StreamState, read_events
from pytest_codemode_eval.generation import Generation, GenerationRequest

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 10.0  # seconds: a server's Retry-After is honoured up to this
TOOL_CALL_NOTE = (
    "calls are scored from the raw text; the server's own parsed tool_calls only when the text "
    "has none (mlx_lm.server strips <tool_call> text, so its calls are all server-parsed)"
)


class ServerError(Exception):
    """The server cannot serve this run: unreachable, no such model, a refused request. One line.

    `down`: the server itself failed (refused, unreachable, 5xx or dropped after the retries),
    not this request; a fleet takes it out of rotation (`backends/fleet.py`)."""

    def __init__(self, message: str, down: bool = False) -> None:
        super().__init__(message)
        self.down = down


class _Transient(Exception):
    """A failure worth another attempt: HTTP 429/5xx or a dropped connection."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_model: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 0.5,
        enable_thinking: bool | None = False,
        concurrency: int = 1,
        tool_choice: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(
                f"--codemode-base-url must be http(s)://HOST[:PORT]/PATH, got {base_url!r}"
            )
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path
        self._https = parts.scheme == "https"
        self._api_key = api_key
        self.temperature, self.seed, self.retries = temperature, seed, retries
        self.timeout, self.backoff, self.enable_thinking = timeout, backoff, enable_thinking
        self.concurrency = concurrency
        self.tool_choice = tool_choice
        self.system_fingerprint: str | None = None
        self.served = self._with_retries(self._list_models)
        self.model = choose_model(api_model, self.served, self.base_url)

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.model,
            "base_url": self.base_url,
            "served": list(self.served),
            "system_fingerprint": self.system_fingerprint,
            "server_parses_tool_calls": True,
            "tool_calls": TOOL_CALL_NOTE,
            "settings": {
                "temperature": self.temperature,
                "seed": self.seed,
                "enable_thinking": self.enable_thinking,
                "retries": self.retries,
                "concurrency": self.concurrency,
                "tool_choice": self.tool_choice,
                "api_key": self._api_key is not None,
            },
        }

    def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        try:
            return self.attempt(request)
        except ServerError as exc:
            seconds = time.perf_counter() - started
            return Generation("", seconds, "error", error=str(exc), endpoint=self.base_url)

    def attempt(self, request: GenerationRequest) -> Generation:
        """One case with its retries; raises ServerError (`down`: the server failed)."""
        generation = self._with_retries(lambda: self._stream(request))
        return dataclasses.replace(generation, endpoint=self.base_url)

    def generate_stream(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[int, Generation]]:
        """(index, generation) as each request finishes, `concurrency` in flight at a time."""
        return generate_concurrently(self.generate, requests, self.concurrency)

    def close(self) -> None:
        return None  # one connection per request: nothing stays open

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = list(request.tools)
        if request.tools and self.tool_choice is not None:  # see README: vLLM, llama.cpp
            body["tool_choice"] = self.tool_choice
        if self.seed is not None or self.temperature > 0:  # the request's own derived seed
            body["seed"] = request.seed if request.seed is not None else self.seed
        if self.enable_thinking is not None:  # as the mlx backend renders the prompt
            body["chat_template_kwargs"] = {"enable_thinking": self.enable_thinking}
        return body

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        """Run `attempt`, again after a backoff on a transient failure, `retries` times at most.

        A retried case starts afresh (greedy output does not change); its `seconds` and time
        budget are those of the attempt that answered."""
        for number in range(self.retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if number == self.retries:
                    raise ServerError(
                        f"{exc} (gave up after {number + 1} attempts)", down=True
                    ) from None
                delay = self.backoff * 2**number
                time.sleep(min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after else delay)
        raise AssertionError("unreachable")

    def _list_models(self) -> list[str]:
        try:
            connection, response, sock = self._open("GET", "/models", None, self.timeout)
            try:
                payload = response.read()
            finally:
                _close(connection, response, sock)
        except TimeoutError:
            raise ServerError(
                f"GET {self.base_url}/models: no answer within {self.timeout:g} s"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None
        return parse_model_list(payload, self.base_url)

    def _stream(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        deadline = started + request.time_budget
        state = StreamState(started=started)
        try:
            connection, response, sock = self._open(
                "POST", "/chat/completions", self.request_body(request), request.time_budget
            )
        except TimeoutError:
            return state.generation(timed_out=True)
        try:
            for event in read_events(response, sock, lambda: state.read_until(deadline)):
                state.feed(event)
                if state.complete:
                    break
        except TimeoutError:
            if not state.answered:  # else only the usage report was still to come
                return state.generation(timed_out=True)
        except ValueError as exc:
            raise ServerError(f"{self.base_url}: unreadable event in the stream ({exc})") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None
        finally:
            _close(connection, response, sock)
            self.system_fingerprint = self.system_fingerprint or state.fingerprint
        if not state.answered and not state.done:
            raise _Transient(f"{self.base_url} closed the stream before finishing")
        return state.generation()

    def _open(
        self, method: str, path: str, body: Mapping[str, Any] | None, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket]:
        """Send a request; return the connection, an HTTP 200 response and the socket under it."""
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=max(timeout, 0.001))
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "text/event-stream, application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            connection.connect()
            sock = connection.sock  # kept: the connection drops it when the response takes over
            connection.request(method, self._prefix + path, body=data, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if isinstance(exc, TimeoutError):
                raise
            raise self._failure(exc) from None
        if response.status != 200:
            detail = _error_detail(response)
            _close(connection, response, sock)
            message = (
                f"{method} {self.base_url}{path}: HTTP {response.status} {response.reason}{detail}"
            )
            if response.status in TRANSIENT_STATUS:
                raise _Transient(message, _retry_after(response.getheader("Retry-After")))
            raise ServerError(message)
        return connection, response, sock

    def _failure(self, exc: BaseException) -> Exception:
        if isinstance(exc, ConnectionRefusedError):
            return ServerError(
                f"cannot connect to {self.base_url}: connection refused — is the server running?",
                down=True,
            )
        if isinstance(exc, socket.gaierror):
            message = f"cannot connect to {self.base_url}: unknown host {self._host!r}"
            return ServerError(message, down=True)
        if isinstance(exc, ConnectionError | http.client.HTTPException):
            return _Transient(f"connection to {self.base_url} lost ({type(exc).__name__})")
        return ServerError(f"cannot talk to {self.base_url}: {exc}", down=True)


def generate_concurrently(
    generate: Callable[[GenerationRequest], Generation],
    requests: Sequence[GenerationRequest],
    workers: int,
) -> Iterator[tuple[int, Generation]]:
    """(index, generation) as each request finishes, `workers` requests in flight at a time."""
    pool = ThreadPoolExecutor(max(workers, 1), thread_name_prefix="codemode-openai")
    futures: dict[Future[Generation], int] = {
        pool.submit(generate, request): index for index, request in enumerate(requests)
    }
    try:
        for future in as_completed(futures):
            try:
                generation = future.result()
            except Exception as exc:  # one odd answer must not end the others
                generation = Generation("", 0.0, "error", error=f"{type(exc).__name__}: {exc}")
            yield futures[future], generation
    finally:  # closed early: requests not sent yet are dropped, running ones end on budget
        pool.shutdown(wait=False, cancel_futures=True)


def choose_model(requested: str | None, served: list[str], base_url: str) -> str:
    """The model id to request: the one named if the server lists it, else its only model."""
    listing = ", ".join(served) or "none"
    if requested is not None:
        if requested in served:
            return requested
        raise ServerError(f"model {requested!r} is not served by {base_url} (it serves: {listing})")
    if len(served) == 1:
        return served[0]
    if not served:
        raise ServerError(f"{base_url}/models lists no model: name one with --codemode-api-model")
    raise ServerError(
        f"{base_url} serves {len(served)} models ({listing}): choose one with --codemode-api-model"
    )


def parse_model_list(payload: bytes, base_url: str) -> list[str]:
    try:
        data = json.loads(payload)
        return [str(item["id"]) for item in data["data"]]
    except (ValueError, TypeError, KeyError):
        hint = " (mlx_lm.server: set HF_HUB_CACHE to an existing folder)" if not payload else ""
        raise ServerError(f"GET {base_url}/models: not an OpenAI model list{hint}") from None


def _close(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, sock: socket.socket
) -> None:
    """Hang up now (the server stops generating when its next write fails)."""
    response.close()
    connection.close()
    sock.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _error_detail(response: http.client.HTTPResponse) -> str:
    """The server's error message, on one line, for the exception text."""
    try:
        body = response.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""
    try:
        data = json.loads(body)
        error = data.get("error", data) if isinstance(data, dict) else data
        body = str(error.get("message", error) if isinstance(error, dict) else error)
    except ValueError:
        pass
    body = " ".join(body.split())[:300]
    return f": {body}" if body else ""
