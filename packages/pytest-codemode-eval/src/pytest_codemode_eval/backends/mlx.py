"""In-process mlx-lm backend: the model is loaded once per process and every case reuses the KV
cache of the shared prefix (system prompt + tool stubs).

The plugin's entry to mlx: it chooses the BLAS, then imports mlx and its two helpers, which
only it imports (so they are split out of it for size, not exposed): `mlx_batch` (continuous
batching) and `mlx_shared_prefix` (attention over a prefix stored once). Budgets are enforced
between streamed tokens: a case that runs out of time becomes a `timeout` generation and the
session carries on. Generation also stops at the end of the first complete tool call, since
nothing after it is scored.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_codemode_eval.blas import use_fast_blas
from pytest_codemode_eval.chat_template import prompt_token_ids
from pytest_codemode_eval.generation import Finish, Generation, GenerationRequest
from pytest_codemode_eval.identity import ModelNotFound, model_identity, resolve_model_path
from pytest_codemode_eval.parse import TOOL_CALL_CLOSE

_BLAS = use_fast_blas()  # must run before mlx is imported

import mlx.core as mx  # noqa: E402
import mlx_lm  # noqa: E402
from mlx_lm.generate import stream_generate  # noqa: E402
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402
from mlx_lm.sample_utils import make_sampler  # noqa: E402

from pytest_codemode_eval.backends.mlx_batch import (  # noqa: E402
    Decoded,
    Row,
    Stops,
    decode,
    decode_copied,
)
from pytest_codemode_eval.backends.mlx_shared_prefix import supports_shared_prefix  # noqa: E402


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
        self._prefix_ids: list[int] = []
        self._prefix_cache: list[Any] | None = None

    def identity(self) -> dict[str, Any]:
        identity = model_identity(self.model_path, self.adapter, self.requested)
        identity.update(
            mlx=getattr(mx, "__version__", "?"),
            mlx_lm=mlx_lm.__version__,
            blas=_BLAS or "reference",
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

    def cached_prefix(self, ids: Sequence[int]) -> tuple[list[Any], list[int]]:
        """A private copy of the shared-prefix KV cache and the tokens still to process."""
        if self._prefix_cache is None or list(ids[: len(self._prefix_ids)]) != self._prefix_ids:
            return make_prompt_cache(self.model), list(ids)
        return copy.deepcopy(self._prefix_cache), list(ids[len(self._prefix_ids) :])

    def warm_prefix(self, prompts: Sequence[Sequence[int]]) -> None:
        """Prefill the longest common token prefix of the prompts once (ids, not text: BPE
        merges at the boundary can differ from rendering the prefix alone)."""
        if len(prompts) < 2 and self._prefix_cache is not None:
            return
        common = list(prompts[0])
        for ids in prompts[1:]:
            n = next((i for i, (a, b) in enumerate(zip(common, ids, strict=False)) if a != b), None)
            common = common[: n if n is not None else min(len(common), len(ids))]
        common = common[: min(len(p) for p in prompts) - 1]  # every case keeps >= 1 token
        if len(common) < 2 or common == self._prefix_ids:
            return
        cache = make_prompt_cache(self.model)
        self.model(mx.array(common)[None], cache=cache)
        mx.eval([c.state for c in cache])
        self._prefix_ids, self._prefix_cache = common, cache

    def _sampler(self, request: GenerationRequest) -> Any:
        """Seeded per request (derived from the run's seed, the case and the repeat), so a
        sampled output does not depend on which cases this process ran before it."""
        seed = request.seed if request.seed is not None else self.seed
        if seed is not None:
            mx.random.seed(seed)
        return make_sampler(temp=self.temperature)

    def generate(self, request: GenerationRequest) -> Generation:
        started = time.perf_counter()
        ids = self.prompt_ids(request)
        if self.prefix_cache and self._prefix_cache is None:
            self.warm_prefix([ids, self.prompt_ids(_probe(request))])
        cache, rest = self.cached_prefix(ids)
        text, finish, generated = "", "length", 0
        for response in stream_generate(
            self.model, self.tokenizer, rest, max_tokens=request.max_tokens,
            sampler=self._sampler(request), prompt_cache=cache,
        ):  # fmt: skip
            text += response.text
            generated = response.generation_tokens
            if TOOL_CALL_CLOSE in text:
                text, finish = text[: text.index(TOOL_CALL_CLOSE) + len(TOOL_CALL_CLOSE)], "stop"
                break
            if response.finish_reason is not None:
                finish = response.finish_reason
                break
            if time.perf_counter() - started > request.time_budget:
                finish = "timeout"
                break
        return Generation(
            output=text,
            seconds=time.perf_counter() - started,
            finish=as_finish(finish),
            prompt_tokens=len(ids),
            generated_tokens=generated,
        )

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
        case's clock starts when it joins the batch.

        Behind a shared prefix (the suite's system prompt) of a float32 model, the prefix is
        stored once and attended by all rows (`mlx_shared_prefix`); otherwise (bf16/fp16
        activations, an architecture whose attention cannot be routed, no prefix cache)
        mlx-lm's BatchGenerator, each row with its own copy of the prefix cache.
        """
        if not requests:
            return
        prompts = [self.prompt_ids(request) for request in requests]
        if self.prefix_cache:
            self.warm_prefix(
                prompts if len(prompts) > 1 else [prompts[0], self.prompt_ids(_probe(requests[0]))]
            )
        prefix = self._prefix_ids
        shared = [
            i
            for i, ids in enumerate(prompts)
            if self._prefix_cache is not None and ids[: len(prefix)] == prefix
        ]
        stops = Stops(
            frozenset(self.tokenizer.eos_token_ids), TOOL_CALL_CLOSE, self._new_detokenizer
        )
        settings = {
            "max_rows": max(self.batch_size, 1),
            "sampler": self._sampler(requests[0]),  # rows share the draws: seeded once a stream
            "stops": stops,
        }
        if not shared or not supports_shared_prefix(self.model, self._prefix_cache or []):
            copied = (
                self._row_with_copy(i, request, prompts[i]) for i, request in enumerate(requests)
            )
            for decoded in decode_copied(self.model, copied, **settings):
                yield decoded.key, self._decoded_generation(decoded, prompts)
            return
        others = sorted(set(range(len(requests))) - set(shared))
        for i in others:  # another suite's prompt in the same batch: one by one
            yield i, self.generate(requests[i])
        assert self._prefix_cache is not None
        rows = [
            Row(i, prompts[i][len(prefix) :], requests[i].max_tokens, requests[i].time_budget)
            for i in shared
        ]
        for decoded in decode(self.model, self._prefix_cache, rows, **settings):
            yield decoded.key, self._decoded_generation(decoded, prompts)

    def _row_with_copy(
        self, index: int, request: GenerationRequest, ids: list[int]
    ) -> tuple[Row, list[Any]]:
        """A row with its own cache: a copy of the prefix cache (made when the row joins)."""
        cache, rest = self.cached_prefix(ids)
        return Row(index, rest, request.max_tokens, request.time_budget), cache

    def _decoded_generation(self, decoded: Decoded, prompts: Sequence[list[int]]) -> Generation:
        """A finished row as a Generation: text as the one-by-one path writes it (EOS is not
        text; a closing </tool_call> is kept and nothing after it)."""
        ids = decoded.tokens
        eos = self.tokenizer.eos_token_ids
        text = self._detokenize(ids[:-1] if decoded.finish == "stop" and ids[-1] in eos else ids)
        if TOOL_CALL_CLOSE in text:
            text = text[: text.index(TOOL_CALL_CLOSE) + len(TOOL_CALL_CLOSE)]
        return Generation(
            text, decoded.seconds, as_finish(decoded.finish),
            prompt_tokens=len(prompts[decoded.key]), generated_tokens=len(ids),
        )  # fmt: skip

    def _new_detokenizer(self) -> Any:
        return self.tokenizer.detokenizer  # a fresh copy per call

    def _detokenize(self, ids: list[int]) -> str:
        """Decode as stream_generate does (mlx-lm's streaming detokenizer), so a batched output
        is character for character the one-by-one output (plain decode keeps a leading space)."""
        detokenizer = self._new_detokenizer()
        for token in ids:
            detokenizer.add_token(token)
        detokenizer.finalize()
        return str(detokenizer.text)

    def close(self) -> None:
        self._prefix_cache = None


_FINISH: dict[str, Finish] = {"stop": "stop", "length": "length", "timeout": "timeout"}


def as_finish(reason: str) -> Finish:
    """mlx-lm's finish reasons (and ours) as the Generation record's closed set."""
    return _FINISH.get(reason, "error")


def _probe(request: GenerationRequest) -> GenerationRequest:
    """The same chat with another user turn, to find where the shared prefix ends."""
    messages = [dict(m) for m in request.messages]
    messages[-1]["content"] = "x" if messages[-1].get("content") != "x" else "y"
    return GenerationRequest("__probe__", messages, request.tools, 1, 1.0)
