"""The training progress line: iteration, loss, tokens/s and ETA.

On a terminal one line is redrawn in place (validation results and the end stay on their own
lines); anywhere else (a pipe, a log file, CI) each report is one plain line with no control
characters, so logs stay greppable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``0:41``, ``12:05``, ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Reports of one training session covering iterations ``start+1 .. total``."""

    def __init__(
        self,
        total: int,
        *,
        start: int = 0,
        stream: TextIO | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        label: str = "",
    ) -> None:
        self.total = total
        self.start = start
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.label = label  # "[rank 1/2]" under mlx.launch: every line says which rank wrote it
        self.began = clock()
        self.last_val: float | None = None
        self._width = 0  # of the line drawn in place, to blank it out when shorter

    def eta(self, iteration: int) -> float | None:
        done = iteration - self.start
        if done <= 0:
            return None
        return (self.clock() - self.began) / done * (self.total - iteration)

    def line(
        self, iteration: int, loss: float, tokens_per_second: float, tokens: int | None = None
    ) -> str:
        width = len(str(self.total))
        eta = self.eta(iteration)
        parts = [
            f"iter {iteration:>{width}}/{self.total}",
            f"loss {loss:.3f}",
            *([f"val {self.last_val:.3f}"] if self.last_val is not None else []),
            f"{tokens_per_second:,.0f} tok/s",
            *([f"{tokens:,} tokens"] if tokens is not None else []),
            f"ETA {format_duration(eta)}" if eta is not None else "ETA ?",
        ]
        return "  ".join(parts)

    def train(
        self, iteration: int, loss: float, tokens_per_second: float, tokens: int | None = None
    ) -> None:
        """A report; ``tokens`` is the running count of trained (unmasked) tokens."""
        self._emit(self.line(iteration, loss, tokens_per_second, tokens), keep=False)

    def val(self, iteration: int, loss: float) -> None:
        self.last_val = loss
        self._emit(f"iter {iteration}: val loss {loss:.3f}", keep=True)

    def note(self, text: str) -> None:
        self._emit(text, keep=True)

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def _emit(self, text: str, *, keep: bool) -> None:
        text = f"{self.label} {text}" if self.label else text
        if not self.tty:
            self.stream.write(text + "\n")
        elif keep:  # finish the in-place line, then write a permanent one
            self.stream.write(
                ("\r" + " " * self._width + "\r" if self._width else "") + text + "\n"
            )
            self._width = 0
        else:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        self.stream.flush()
