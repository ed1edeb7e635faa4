"""What a scored case is: a verdict, its credit and a one-line note (the records the rubric,
the aggregation and every report share, kept apart so nothing imports back into the scorer)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    CODE_MODE = "code_mode"
    NO_CALL = "no_call"  # the case expects no tool and the answer is prose
    DIRECT_CALL = "direct_call"
    PARTIAL_CHAIN = "partial_chain"
    BAD_ARGUMENTS = "bad_arguments"
    WRONG_TOOL = "wrong_tool"
    UNREQUESTED_CHANGE = "unrequested_change"  # a workspace-changing tool the case did not ask for
    UNNEEDED_CALL = "unneeded_call"  # a tool call in a case that expects none
    PROSE = "prose"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    TIMEOUT = "timeout"
    ERROR = "error"
    RUNTIME_ERROR = "runtime_error"  # the dry run of the code raised


@dataclass(frozen=True)
class Score:
    value: float
    verdict: Verdict
    note: str
    tools_called: tuple[str, ...] = ()
    extra_calls: tuple[str, ...] = ()  # tools called that the case does not expect (read-only)

    @property
    def full_credit(self) -> bool:
        return self.value >= 1.0


def one_line(note: str, limit: int = 300) -> str:
    """A note is one line: it quotes model output and backend errors, which may span lines.

    Only the note's start is read: a megabyte of form feeds in a tool name was a million lines.
    """
    head = note[: 4 * limit]
    text = " ".join(part.strip() for part in head.splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
