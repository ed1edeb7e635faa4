"""A tiny path router: ``@route("/users/{user_id}")`` registers a view function."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    pattern: str
    methods: frozenset[str]
    handler: Handler
    regex: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method not in self.methods:
            return None
        found = self.regex.fullmatch(path)
        return found.groupdict() if found else None


ROUTES: list[Route] = []


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn ``/users/{user_id}`` into a regex with a named group per parameter."""
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    return re.compile(_PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", pattern))


def route(pattern: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Handler], Handler]:
    """Register the decorated function for ``pattern``."""

    def decorator(handler: Handler) -> Handler:
        ROUTES.append(Route(pattern, frozenset(methods), handler, compile_pattern(pattern)))
        return handler

    return decorator


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    for candidate in ROUTES:
        params = candidate.match(method, path)
        if params is not None:
            return candidate.handler, params
    return None
