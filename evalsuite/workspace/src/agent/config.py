"""Runtime configuration for the agent loop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"


@dataclass(frozen=True)
class AgentConfig:
    """Settings that control how the agent talks to the model and runs tools.

    Values come from keyword arguments or, via :meth:`from_env`, from
    ``PUNIE_*`` environment variables.
    """

    model: str = DEFAULT_MODEL
    adapter_path: Path | None = None
    max_turns: int = 8
    max_tokens: int = 2048
    temperature: float = 0.2
    tool_timeout_s: float = 10.0
    workspace_root: Path = field(default_factory=Path.cwd)
    allow_network: bool = False

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be within [0, 2], got {self.temperature}")
        if self.tool_timeout_s <= 0:
            raise ValueError("tool_timeout_s must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentConfig:
        """Build a config from ``PUNIE_*`` variables, falling back to the defaults."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if "PUNIE_MODEL" in env:
            kwargs["model"] = env["PUNIE_MODEL"]
        if "PUNIE_ADAPTER" in env:
            kwargs["adapter_path"] = Path(env["PUNIE_ADAPTER"])
        if "PUNIE_MAX_TURNS" in env:
            kwargs["max_turns"] = int(env["PUNIE_MAX_TURNS"])
        if "PUNIE_MAX_TOKENS" in env:
            kwargs["max_tokens"] = int(env["PUNIE_MAX_TOKENS"])
        if "PUNIE_TEMPERATURE" in env:
            kwargs["temperature"] = float(env["PUNIE_TEMPERATURE"])
        if "PUNIE_WORKSPACE" in env:
            kwargs["workspace_root"] = Path(env["PUNIE_WORKSPACE"])
        if "PUNIE_ALLOW_NETWORK" in env:
            kwargs["allow_network"] = bool(env["PUNIE_ALLOW_NETWORK"])
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> AgentConfig:
        """Return a copy with some fields replaced (validation runs again)."""
        return replace(self, **changes)

    @property
    def uses_adapter(self) -> bool:
        return self.adapter_path is not None
