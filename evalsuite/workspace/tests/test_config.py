from pathlib import Path

import pytest

from src.agent.config import DEFAULT_MODEL, AgentConfig


def test_defaults_are_conservative():
    config = AgentConfig()
    assert config.model == DEFAULT_MODEL
    assert config.max_turns == 8
    assert config.allow_network is False
    assert not config.uses_adapter


@pytest.mark.parametrize(
    "field, value",
    [("max_turns", 0), ("max_tokens", 0), ("temperature", 2.5), ("tool_timeout_s", 0)],
)
def test_invalid_values_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        AgentConfig(**{field: value})


def test_from_env_reads_punie_variables():
    config = AgentConfig.from_env(
        {"PUNIE_MODEL": "local/tiny", "PUNIE_MAX_TURNS": "3", "PUNIE_ADAPTER": "adapters/v4"}
    )
    assert config.model == "local/tiny"
    assert config.max_turns == 3
    assert config.adapter_path == Path("adapters/v4")


def test_from_env_parses_false_flag():
    config = AgentConfig.from_env({"PUNIE_ALLOW_NETWORK": "false"})
    assert config.allow_network is False


def test_with_overrides_revalidates():
    config = AgentConfig().with_overrides(temperature=0.7)
    assert config.temperature == 0.7
    with pytest.raises(ValueError):
        config.with_overrides(max_turns=-1)
