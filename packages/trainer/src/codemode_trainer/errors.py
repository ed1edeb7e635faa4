"""``TrainerError``: the one base of every user-facing trainer error, so the CLI catches it once.

Each stage keeps its own class (``ConfigError``, ``TrainError``, ...) for callers that care which
stage refused; all of them carry a one-line message naming the file, line or key at fault.
"""

from __future__ import annotations


class TrainerError(Exception):
    """A one-line, user-facing reason a trainer command cannot do what was asked."""


class DataError(TrainerError, ValueError):
    """A dataset that cannot be used: missing, empty, not UTF-8, or a line that is not a row."""
