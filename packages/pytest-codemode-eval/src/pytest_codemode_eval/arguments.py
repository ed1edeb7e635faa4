"""Check a tool invocation's arguments: do they bind to the tool's signature and match the pins?

Direct XML calls carry every value as text, so values are coerced to the parameter's annotated
type before comparing. Strings compare after normalising `./` prefixes, a trailing `/` and
surrounding whitespace, so `./src/` and `src` pin alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_codemode_eval.catalog import ToolSpec, annotation_text
from pytest_codemode_eval.code_calls import Unresolved
from pytest_codemode_eval.invocations import Invocation

_MISSING = object()


def check_arguments(
    invocation: Invocation, spec: ToolSpec, pins: Mapping[str, tuple[Mapping[str, Any], ...]]
) -> str | None:
    """None when the call binds and matches one of the tool's pin alternatives; else the problem."""
    if invocation.starred:
        return f"{spec.name}: *args/**kwargs cannot be checked against the signature"
    try:
        bound = spec.signature.bind(*invocation.args, **invocation.kwargs)
    except TypeError as exc:
        return f"{spec.name}: arguments do not bind ({exc})"
    bound.apply_defaults()
    values = {
        name: coerce(value, spec.signature.parameters[name].annotation)
        for name, value in bound.arguments.items()
    }
    alternatives = pins.get(spec.name, ())
    if not alternatives:
        return None
    try:
        mismatches = [_pin_mismatch(spec.name, values, pin) for pin in alternatives]
    except RecursionError:  # a JSON argument nested hundreds deep; normalise and == recurse
        return f"{spec.name}: arguments are nested too deeply to compare"
    if any(mismatch is None for mismatch in mismatches):
        return None
    return mismatches[0]


def _pin_mismatch(tool: str, values: Mapping[str, Any], pin: Mapping[str, Any]) -> str | None:
    for name, wanted in pin.items():
        got = values.get(name, _MISSING)
        if isinstance(got, Unresolved):
            return f"{tool}: {name}={got.source} is only known at run time, expected {wanted!r}"
        if got is _MISSING or normalise(got) != normalise(wanted):
            shown = "missing" if got is _MISSING else shown_value(got)
            return f"{tool}: {name}={shown}, expected {wanted!r}"
    return None


def shown_value(value: Any) -> str:
    """`repr` for a note; repr raises on an int past Python's 4300-digit conversion limit."""
    try:
        return repr(value)
    except ValueError:  # `0xfff...` in the code: a literal any length, its decimal form is not
        return f"<{type(value).__name__} too large to show>"


def normalise(value: Any) -> Any:
    """Compare paths and text the way a person would: `./src/` equals `src`."""
    if isinstance(value, str):
        text = value.strip()
        while text.startswith("./"):
            text = text[2:]
        if len(text) > 1 and text.endswith("/"):
            text = text.rstrip("/") or "/"
        return text
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    return value


def coerce(value: Any, annotation: Any) -> Any:
    """Turn the text of an XML parameter into the annotated type (int, float, bool, list, dict)."""
    if not isinstance(value, str):
        return value
    kind = annotation_text(annotation).replace(" ", "")
    text = value.strip()
    try:
        if kind in {"int", "int|None"}:
            return int(text)
        if kind in {"float", "float|None"}:
            return float(text)
        if kind in {"bool", "bool|None"} and text.lower() in {"true", "false"}:
            return text.lower() == "true"
        if kind.startswith(("list", "dict")) and text[:1] in "[{":
            return json.loads(text)
    except (ValueError, RecursionError):
        return value
    return value
