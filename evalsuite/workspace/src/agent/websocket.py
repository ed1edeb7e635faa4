"""WebSocket bridge: lets the web UI drive an agent session over one connection.

Messages are JSON objects with a ``type`` field. ``execute`` runs a Code Mode
snippet; ``ping`` is answered with ``pong``; everything else is an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from src.agent.code_mode import execute_code
from src.agent.config import AgentConfig

log = logging.getLogger(__name__)


@dataclass
class SessionState:
    """Per-connection bookkeeping, kept for the lifetime of the socket."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.monotonic)
    turns: int = 0
    message_counts: dict[str, int] = field(default_factory=dict)

    def record(self, message_type: str) -> None:
        self.message_counts[message_type] = self.message_counts.get(message_type, 0) + 1


class AgentSession:
    """Handles the messages of one connected client."""

    def __init__(self, config: AgentConfig, connection: ServerConnection) -> None:
        self.config = config
        self.connection = connection
        self.state = SessionState()

    async def send(self, payload: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(payload))

    async def handle(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            await self.send({"type": "error", "error": "message is not valid JSON"})
            return
        kind = message.get("type", "")
        self.state.record(kind)
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "execute":
            await self.execute(message.get("code", ""))
        else:
            await self.send({"type": "error", "error": f"unknown message type {kind!r}"})

    async def execute(self, code: str) -> None:
        if self.state.turns >= self.config.max_turns:
            await self.send({"type": "error", "error": "turn limit reached"})
            return
        self.state.turns += 1
        try:
            output = await asyncio.wait_for(
                asyncio.to_thread(execute_code, code), timeout=self.config.tool_timeout_s
            )
        except TimeoutError:
            output = f"Error: snippet timed out after {self.config.tool_timeout_s}s"
        await self.send({"type": "result", "turn": self.state.turns, "output": output})


class AgentWebSocketServer:
    """Accepts connections and runs one :class:`AgentSession` per client."""

    def __init__(self, config: AgentConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.sessions: dict[str, AgentSession] = {}

    async def _serve_connection(self, connection: ServerConnection) -> None:
        session = AgentSession(self.config, connection)
        self.sessions[session.state.session_id] = session
        log.info("session %s opened", session.state.session_id)
        try:
            async for raw in connection:
                await session.handle(raw)
        finally:
            del self.sessions[session.state.session_id]
            state = session.state
            log.info("session %s closed after %d turns", state.session_id, state.turns)

    async def run(self) -> None:
        async with serve(self._serve_connection, self.host, self.port) as server:
            await server.serve_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(AgentWebSocketServer(AgentConfig.from_env()).run())
