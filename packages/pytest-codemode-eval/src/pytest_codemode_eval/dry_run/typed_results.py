"""Shape a stub's answer as the tool's declared return type, so the sandbox sees what the real tool
would return: a `TypedDict` is a dict with exactly its declared keys, a dataclass an object with
exactly its fields, `list[Location]` a list of those.

Lists are never empty here: code that loops over diagnostics and reads a field the type lacks
must reach that read to be caught. A value that does not fit the type is replaced by a default of
the type, so another suite's catalog works without fakes of its own.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

_MAX_DEPTH = 8
_DEFAULTS: dict[Any, Any] = {str: "ok", int: 1, float: 1.0, bool: True, bytes: b""}


def typed_value(value: Any, hint: Any, depth: int = 0) -> Any:
    """`value` converted to `hint` where it fits, else a plausible default of `hint`."""
    if hint is None or hint is type(None):
        return None
    if hint is Any or depth > _MAX_DEPTH or isinstance(hint, str | typing.TypeVar):
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_value(value, args, depth)
    if origin is typing.Literal:
        return value if value in args else args[0]
    if origin in (list, tuple, set, frozenset) or _is_sequence(origin):
        return _list_value(value, args[0] if args else Any, depth)
    if origin is dict or hint is dict:
        return dict(value) if isinstance(value, dict) else {}
    if typing.is_typeddict(hint):
        return _typeddict_value(value, hint, depth)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_value(value, hint, depth)
    if hint in _DEFAULTS:
        return value if _is_exactly(value, hint) else _DEFAULTS[hint]
    return value


def _union_value(value: Any, args: tuple[Any, ...], depth: int) -> Any:
    options = [arg for arg in args if arg is not type(None)]
    if value is None and len(options) < len(args):
        return None
    for option in options:
        if option in _DEFAULTS and _is_exactly(value, option):
            return value
    return typed_value(value, options[0], depth + 1) if options else None


def _list_value(value: Any, item: Any, depth: int) -> list[Any]:
    items = list(value) if isinstance(value, list | tuple) else []
    return [typed_value(entry, item, depth + 1) for entry in items or [None]]


def _typeddict_value(value: Any, hint: Any, depth: int) -> dict[str, Any]:
    given = value if isinstance(value, dict) else {}
    return {
        name: typed_value(given.get(name), field_hint, depth + 1)
        for name, field_hint in _hints(hint).items()
    }


def _dataclass_value(value: Any, hint: type, depth: int) -> Any:
    from pydantic_monty import ClassInstance  # the sandbox reads only wrapped instances

    given = value if isinstance(value, dict) else {}
    hints = _hints(hint)
    values = {
        field.name: typed_value(given.get(field.name), hints.get(field.name, Any), depth + 1)
        for field in dataclasses.fields(hint)
        if field.init
    }
    return ClassInstance(hint(**values), eager_attrs="all")


def _hints(hint: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(hint)
    except Exception:  # an unresolvable annotation: keep the names, any values
        return dict.fromkeys(getattr(hint, "__annotations__", {}), Any)


def _is_sequence(origin: Any) -> bool:
    import collections.abc as abc

    return origin in (abc.Sequence, abc.Iterable, abc.Collection, abc.MutableSequence)


def _is_exactly(value: Any, kind: Any) -> bool:
    """bool is an int subclass; a count of True is not plausible, nor is 1 for a flag."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return type(value) is kind
