"""Create the backend named by the options; model backends are imported only when chosen."""

from __future__ import annotations

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

        from pytest_codemode_eval.backends.openai import OpenAIBackend

        assert options.base_url is not None
        return OpenAIBackend(
            options.base_url,
            api_model=options.api_model,
            api_key=options.api_key or os.environ.get("OPENAI_API_KEY") or None,
            temperature=options.temperature,
            seed=options.seed,
            concurrency=options.batch_size,
        )
    raise NotImplementedError(f"backend {options.backend!r} is not available yet")
