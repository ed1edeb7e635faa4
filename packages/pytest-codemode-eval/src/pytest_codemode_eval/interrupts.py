"""A stop signal is never lost: SIGINT and SIGTERM end the run like Ctrl-C, and are remembered.

Python raises ``KeyboardInterrupt`` wherever the main thread is when a signal lands. Inside a
finaliser (a ``__del__``, a generator being closed, a weakref callback) the interpreter reports
the exception as unraisable and carries on, and the run would finish as if nobody had asked it to
stop. So the signal is also recorded: the next case raises again before it starts, and the
reporter marks the results incomplete whatever exit status pytest ends with.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

import pytest

_received: list[int] = []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def install(config: pytest.Config) -> None:
    """Route SIGINT (Ctrl-C) and SIGTERM (a CI timeout, ``kill``) through :func:`_interrupt`,
    where they still have their default handling; restored when pytest unconfigures."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    defaults: dict[signal.Signals, signal.Handlers | object] = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
    }
    for signum, default in defaults.items():
        if signal.getsignal(signum) is default:
            signal.signal(signum, _interrupt)
            config.add_cleanup(_restorer(signum, default))


def _restorer(signum: signal.Signals, default: object) -> Callable[[], None]:
    def restore() -> None:
        signal.signal(signum, default)  # type: ignore[arg-type]  # what getsignal returned

    return restore


def received() -> bool:
    """Whether a stop signal arrived during this run."""
    return bool(_received)


def stop_if_received() -> None:
    """Raise again a stop signal that something swallowed: no case starts after one."""
    if _received:
        raise KeyboardInterrupt(f"signal {_received[0]} (received earlier)")
