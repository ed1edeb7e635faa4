"""The per-process runner: owns the backend (created once per process, once per xdist worker).

With `--codemode-batch-size N` and a backend that can generate several cases together, the
runner opens one stream over the case about to run and every case this process will run after
it; the backend decodes up to N of them at a time, a finished case's slot going to the next one
(continuous batching). Each item takes its output from the stream, pulling only until its own
case is done, so results are reported as they come while the rest decode. Scores, budgets and
records stay per case; only the generation is shared.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.dry_run.sandbox import Sandbox
from pytest_codemode_eval.evaluate import (
    Budgets,
    build_request,
    generate_safely,
    result_from_generation,
)
from pytest_codemode_eval.generation import Backend, Generation, GenerationRequest
from pytest_codemode_eval.options import OPTIONS_KEY, CodemodeOptions
from pytest_codemode_eval.output_cache import OutputCache, model_namespace, output_key
from pytest_codemode_eval.prompt import renderer_fingerprint
from pytest_codemode_eval.suite import Case, Suite

RUNNER_KEY = pytest.StashKey["CaseRunner"]()
SampleKey = tuple[str, str, int]  # suite file, case id, repeat
CACHED_BACKENDS = ("mlx", "openai")  # a replay is its own record


@runtime_checkable
class BatchingBackend(Protocol):
    def generate_stream(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[int, Generation]]: ...


class BackendUnavailable(Exception):
    """The backend could not be created; every case in this process reports the same one line."""


class CaseRunner:
    """Evaluates cases in this process with a backend made on first use and closed at the end."""

    def __init__(self, options: CodemodeOptions) -> None:
        self.options = options
        self.budgets = Budgets(options.max_tokens, options.time_budget, options.seed)
        self._backend: Backend | None = None
        self._failure: str | None = None
        self._identities: dict[str, dict[str, Any]] = {}
        # keyed by (suite file, case id, repeat): ids are unique only within a suite
        self._pending: dict[SampleKey, Generation] = {}  # finished, not yet handed out
        self._stream: Iterator[tuple[int, Generation]] | None = None
        self._streamed: list[SampleKey] = []  # the open stream's samples, by request index
        self._stream_requests: list[GenerationRequest] = []
        self._cache: OutputCache | None = None
        self._batching_failed: str | None = None
        self._model_identity: dict[str, Any] | None = None
        # One sandbox pool per process, started by the first dry run, closed with the runner.
        self.sandbox = Sandbox() if options.dry_run else None

    @property
    def backend(self) -> Backend:
        if self._failure is not None:
            raise BackendUnavailable(self._failure)
        if self._backend is None:
            if self.options.backend is None:
                raise pytest.UsageError(
                    "no backend chosen: pass --codemode-backend=replay|mlx|openai "
                    "(or set codemode_backend in the ini file)"
                )
            from pytest_codemode_eval.backends.factory import make_backend

            try:
                self._backend = make_backend(self.options)
            except Exception as exc:  # a model that fails to load: one clear line per case
                self._failure = (
                    f"backend {self.options.backend} unavailable: {type(exc).__name__}: {exc}"
                )
                raise BackendUnavailable(self._failure) from exc
        return self._backend

    def run(
        self,
        case: Case,
        suite: Suite,
        upcoming: Sequence[tuple[Case, int]] = (),
        repeat: int = 0,
    ) -> CaseResult:
        """Score one sample of a case; `upcoming` are the (case, repeat) samples this process
        runs next (for batching)."""
        key = (str(suite.path), case.id, repeat)
        request = build_request(case, suite, self.budgets, repeat)
        generation = self._take(key)
        cached = generation is None and (generation := self._cached(request)) is not None
        if generation is None:
            self._open(case, repeat, suite, upcoming)
            generation = self._take(key)
        if generation is None:  # no stream, or it failed before reaching this case
            generation = generate_safely(self.backend, request)
            self._store(request, generation)
        result = result_from_generation(case, suite, generation, self.sandbox, repeat)
        return dataclasses.replace(result, cached=cached)

    @property
    def cache(self) -> OutputCache | None:
        """The output cache of this model (mlx and openai backends; off for replays)."""
        usable = self.options.backend in CACHED_BACKENDS and self._model_identity is not None
        if self._cache is None and self.options.cache_dir is not None and usable:
            assert self._model_identity is not None
            folder = self.options.cache_dir / model_namespace(self._model_identity)
            self._cache = OutputCache(folder)
        return self._cache

    def _cached(self, request: GenerationRequest) -> Generation | None:
        if self.cache is None or self._model_identity is None:
            return None
        return self.cache.get(output_key(self.backend.name, self._model_identity, request))

    def _store(self, request: GenerationRequest, generation: Generation) -> None:
        """Appended and flushed now: a run killed a moment later keeps this output."""
        if self.cache is not None and self._model_identity is not None:
            key = output_key(self.backend.name, self._model_identity, request)
            self.cache.put(key, request.case_id, generation)

    def _take(self, key: SampleKey) -> Generation | None:
        """This case's output, pulling the open stream until it is there."""
        while key not in self._pending and self._stream is not None:
            if key not in self._streamed:
                return None
            try:
                index, generation = next(self._stream)
            except StopIteration:
                self._stream = None
            except Exception as exc:  # the rest of the session goes one by one
                self._close_stream()
                self._batching_failed = f"{type(exc).__name__}: {exc}"
                warnings.warn(
                    f"codemode: batched generation failed ({self._batching_failed}); "
                    "the remaining cases are generated one by one",
                    pytest.PytestWarning,
                    stacklevel=1,
                )
            else:
                self._pending[self._streamed[index]] = generation
                self._store(self._stream_requests[index], generation)
        return self._pending.pop(key, None)

    def _open(
        self, case: Case, repeat: int, suite: Suite, upcoming: Sequence[tuple[Case, int]]
    ) -> None:
        backend = self.backend
        path = str(suite.path)
        batch = [
            (case, repeat),
            *(
                (c, r)
                for c, r in upcoming
                if (path, c.id, r) not in self._pending
                and self._cached(build_request(c, suite, self.budgets, r)) is None
            ),
        ]
        if self.options.in_flight <= 1 or len(batch) == 1 or self._batching_failed:
            return
        if not isinstance(backend, BatchingBackend):
            return
        self._close_stream()
        requests = [build_request(c, suite, self.budgets, r) for c, r in batch]
        self._stream = backend.generate_stream(requests)
        self._stream_requests = requests
        self._streamed = [(path, c.id, r) for c, r in batch]

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    def load(self) -> None:
        """Create the backend now (the model load) and fingerprint the model, before any case's
        clock runs; a failure is kept for each case to report."""
        try:
            self._model_identity = self.backend.identity()
        except BackendUnavailable:
            return

    def identity(self, suite: Suite) -> dict[str, Any]:
        """What this process measured; travels with every result to the controller."""
        key = str(suite.path)
        if self._model_identity is None:
            self._model_identity = self.backend.identity()
        if key not in self._identities:
            self._identities[key] = {
                "suite": suite.name,
                "suite_path": str(suite.path),
                "suite_hash": suite.fingerprint,
                "renderer_hash": renderer_fingerprint(suite.catalog),
                "categories": list(suite.categories),
                "backend": self.backend.name,
                "model": self._model_identity,
                "cache": str(self.options.cache_dir) if self.options.cache_dir else None,
                "generation": {
                    "max_tokens": self.options.max_tokens,
                    "time_budget": self.options.time_budget,
                    "repeats": self.options.repeats,
                    "seed": self.options.seed or 0,
                    "seeds": "one per case and repeat: sha256(seed/case id/repeat)",
                },
            }
        return self._identities[key]

    def close(self) -> None:
        self._close_stream()
        if self.sandbox is not None:
            self.sandbox.close()
        if self._cache is not None:
            self._cache.close()
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def runner_for(config: pytest.Config) -> CaseRunner:
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is None:
        runner = CaseRunner(config.stash[OPTIONS_KEY])
        config.stash[RUNNER_KEY] = runner
    return runner
