"""Circuit breaker around components that call slow or flaky backends.

After ``failure_threshold`` consecutive failures for a component the circuit
opens and the component is short-circuited (props replaced by a fallback) until
``reset_after_s`` has passed; then one trial render is let through.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tdom_svcs.middleware import middleware
from tdom_svcs.types import Component, Context, Props, PropsResult


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


log = logging.getLogger(__name__)


@dataclass
class Circuit:
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0


@middleware
@dataclass
class CircuitBreakerMiddleware:
    """Stops rendering components whose backends keep failing."""

    priority: int = -20
    failure_threshold: int = 5
    reset_after_s: float = 30.0
    circuits: dict[str, Circuit] = field(default_factory=dict)

    def _circuit(self, component: Component) -> Circuit:
        name = getattr(component, "__qualname__", repr(component))
        return self.circuits.setdefault(name, Circuit())

    def __call__(self, component: Component, props: Props, context: Context) -> PropsResult:
        circuit = self._circuit(component)
        if circuit.state is CircuitState.OPEN:
            if time.monotonic() - circuit.opened_at < self.reset_after_s:
                return {**props, "unavailable": True}
            circuit.state = CircuitState.HALF_OPEN
        return props

    def record_failure(self, component: Component, error: Exception) -> None:
        circuit = self._circuit(component)
        circuit.failures += 1
        log.warning("render of %r failed (%d in a row): %s", component, circuit.failures, error)
        if circuit.state is CircuitState.HALF_OPEN or circuit.failures >= self.failure_threshold:
            circuit.state = CircuitState.OPEN
            circuit.opened_at = time.monotonic()

    def record_success(self, component: Component) -> None:
        circuit = self._circuit(component)
        circuit.state = CircuitState.CLOSED
        circuit.failures = 0

    def snapshot(self) -> dict[str, Any]:
        return {name: c.state.value for name, c in self.circuits.items()}
