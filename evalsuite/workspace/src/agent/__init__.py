"""The agent core: configuration, Code Mode execution and tool dispatch."""

from src.agent.code_mode import execute_code
from src.agent.config import AgentConfig

__all__ = ["AgentConfig", "execute_code"]
