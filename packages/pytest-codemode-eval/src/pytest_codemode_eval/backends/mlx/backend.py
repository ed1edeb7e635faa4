"""The mlx backend: the model is loaded once per process, every case continues the KV cache of
the shared prefix (system prompt + tool stubs), and every generation, one case or a batch,
runs through the one decoding loop (`decode`).

Budgets are enforced between tokens: a case that runs out of time becomes a `timeout`
generation and the session carries on. Generation also stops at the end of the first complete
tool call, since nothing after it is scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx_lm
from mlx_lm.sample_utils import make_sampler

from pytest_codemode_eval.backends.mlx.decode import Decoded, Sampler, Stops, decode
from pytest_codemode_eval.backends.mlx.prefix import SharedPrefix, probe
from pytest_codemode_eval.backends.mlx.rows import Batch, CopiedRows, Row, SharedRows
from pytest_codemode_eval.backends.mlx.shared_prefix import supports_shared_prefix
from pytest_codemode_eval.blas import use_fast_blas
from pytest_codemode_eval.chat_template import prompt_token_ids
from pytest_codemode_eval.generation import Finish, Generation, GenerationRequest
from pytest_codemode_eval.identity import ModelNotFound, model_identity, resolve_model_path
from pytest_codemode_eval.parse import TOOL_CALL_CLOSE


class MlxBackend:
    name = "mlx"

    def __init__(
        self,
        model: str,
        adapter: Path | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        batch_size: int = 1,
        prefix_cache: bool = True,
    ) -> None:
        self.model_path = resolve_model_path(model)
        if adapter is not None and not (adapter / "adapters.safetensors").is_file():
            raise ModelNotFound(f"{adapter}: not an adapter folder (no adapters.safetensors)")
        self.adapter = adapter
        self.requested = model
        self.temperature = temperature
        self.seed = seed
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self.model, self.tokenizer = mlx_lm.load(
            str(self.model_path), adapter_path=str(adapter) if adapter else None
        )
        self.prefix = SharedPrefix(self.model)

    def identity(self) -> dict[str, Any]:
        identity = model_identity(self.model_path, self.adapter, self.requested)
        identity.update(
            mlx=getattr(mx, "__version__", "?"),
            mlx_lm=mlx_lm.__version__,
            blas=use_fast_blas() or "reference",
            settings={
                "temperature": self.temperature,
                "seed": self.seed,
                "batch_size": self.batch_size,
                "enable_thinking": False,
                "prefix_cache": self.prefix_cache,
            },
        )
        return identity

    def prompt_ids(self, request: GenerationRequest) -> list[int]:
        """The chat rendered by the model's own template, thinking disabled where supported."""
        return prompt_token_ids(self.tokenizer, request.messages, request.tools)

    def generate(self, request: GenerationRequest) -> Generation:
        """One case: a batch of one through the same loop as a batch of many."""
        ((_, generation),) = self._stream([request], max_rows=1)
        return generation

    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """All the requests' generations, in order (see `generate_stream`)."""
        done = dict(self.generate_stream(requests))
        return [done[i] for i in range(len(requests))]

    def generate_stream(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[int, Generation]]:
        """Generate the requests together, at most `batch_size` at a time, and yield
        (index, generation) as each finishes. A finished case's slot goes to the next waiting
        one at once (continuous batching); budgets, stops and records stay per case, and each
        case's clock starts when it joins the batch."""
        yield from self._stream(requests, max_rows=max(self.batch_size, 1))

    def _stream(
        self, requests: Sequence[GenerationRequest], max_rows: int
    ) -> Iterator[tuple[int, Generation]]:
        if not requests:
            return
        prompts = [self.prompt_ids(request) for request in requests]
        if self.prefix_cache and (len(prompts) > 1 or self.prefix.cache is None):
            self.prefix.warm(
                prompts if len(prompts) > 1 else [prompts[0], self.prompt_ids(probe(requests[0]))]
            )
        rows = []
        for key, (request, ids) in enumerate(zip(requests, prompts, strict=True)):
            prefixed, rest = self.prefix.split(ids)
            rows.append(Row(key, rest, request.max_tokens, request.time_budget, prefixed))
        stops = Stops(
            frozenset(self.tokenizer.eos_token_ids), TOOL_CALL_CLOSE, self._new_detokenizer
        )
        batch = self._batch(rows, max_rows)
        sampler = self._sampler(requests[0])  # rows share the draws: seeded once a stream
        for decoded in decode(batch, rows, max_rows=max_rows, sampler=sampler, stops=stops):
            yield decoded.key, _generation(decoded, len(prompts[decoded.key]))

    def _batch(self, rows: Sequence[Row], max_rows: int) -> Batch:
        """The prefix stored once for all rows where that is exact (float32, a routable
        architecture) and rows really share it; otherwise a copy per row."""
        prefix = self.prefix.cache
        shared = (
            max_rows > 1
            and len(rows) > 1
            and prefix is not None
            and all(row.prefixed for row in rows)
            and supports_shared_prefix(self.model, prefix)
        )
        return SharedRows(self.model, prefix) if shared else CopiedRows(self.model, prefix)

    def _sampler(self, request: GenerationRequest) -> Sampler:
        """Seeded per request (derived from the run's seed, the case and the repeat), so a
        sampled output does not depend on which cases this process ran before it."""
        seed = request.seed if request.seed is not None else self.seed
        if seed is not None:
            mx.random.seed(seed)
        sampler: Sampler = make_sampler(temp=self.temperature)
        return sampler

    def _new_detokenizer(self) -> Any:
        return self.tokenizer.detokenizer  # a fresh copy per call

    def close(self) -> None:
        self.prefix = SharedPrefix(self.model)


_FINISH: dict[str, Finish] = {"stop": "stop", "length": "length", "timeout": "timeout"}


def as_finish(reason: str) -> Finish:
    """mlx-lm's finish reasons (and ours) as the Generation record's closed set."""
    return _FINISH.get(reason, "error")


def _generation(decoded: Decoded, prompt_tokens: int) -> Generation:
    return Generation(
        decoded.text,
        decoded.seconds,
        as_finish(decoded.finish),
        prompt_tokens=prompt_tokens,
        generated_tokens=len(decoded.tokens),
    )
