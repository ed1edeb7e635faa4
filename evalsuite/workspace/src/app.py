"""Application factory: builds the service registry and dispatches requests to routes."""

from __future__ import annotations

from typing import Any

from svcs_di import HopscotchContainer, HopscotchRegistry
from tdom_svcs import scan_components

import src.middleware
import src.routes.api  # noqa: F401  (registers the @route handlers)
import src.services
import src.views
from src.agent.config import AgentConfig
from src.routes import resolve
from src.services import user_service
from src.views.error_page import ErrorPage


def create_registry(config: AgentConfig | None = None) -> HopscotchRegistry:
    """One registry per process: config, services, middleware and components."""
    registry = HopscotchRegistry()
    registry.register_value(AgentConfig, config or AgentConfig.from_env())
    user_service.svcs_setup(registry)
    scan_components(registry, src.services, src.middleware, src.views)
    return registry


def handle_request(registry: HopscotchRegistry, method: str, path: str) -> Any:
    """Resolve ``path`` to a handler and call it with a fresh per-request container."""
    found = resolve(method, path)
    if found is None:
        return ErrorPage(status=404, path=path)()
    handler, params = found
    with HopscotchContainer(registry) as container:
        return handler(container, **params)


if __name__ == "__main__":
    registry = create_registry()
    print(handle_request(registry, "GET", "/"))
