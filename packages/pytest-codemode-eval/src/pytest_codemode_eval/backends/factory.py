"""Create the backend named by the options; model backends are imported only when chosen."""

from __future__ import annotations

from typing import Any

from pytest_codemode_eval.generation import Backend
from pytest_codemode_eval.options import CodemodeOptions


def make_backend(options: CodemodeOptions) -> Backend:
    if options.backend == "replay":
        from pytest_codemode_eval.backends.replay import ReplayBackend

        assert options.replay is not None  # checked when options were resolved
        return ReplayBackend(options.replay)
    if options.backend == "mlx":
        from pytest_codemode_eval.backends.mlx import MlxBackend

        assert options.model is not None
        return MlxBackend(
            options.model,
            adapter=options.adapter,
            temperature=options.temperature,
            seed=options.seed,
            batch_size=options.batch_size,
        )
    if options.backend == "openai":
        import os

        from pytest_codemode_eval.backends.fleet import FleetBackend
        from pytest_codemode_eval.backends.openai import OpenAIBackend

        assert options.base_url  # checked when options were resolved
        settings: dict[str, Any] = {
            "api_model": options.api_model,
            "api_key": options.api_key or os.environ.get("OPENAI_API_KEY") or None,
            "temperature": options.temperature,
            "seed": options.seed,
            "tool_choice": options.tool_choice,
        }
        if len(options.base_url) > 1:
            return FleetBackend(options.base_url, concurrency=options.batch_size, **settings)
        return OpenAIBackend(options.base_url[0], concurrency=options.batch_size, **settings)
    raise NotImplementedError(f"backend {options.backend!r} is not available yet")
