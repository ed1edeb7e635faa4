"""Run Code Mode code in pydantic-monty: a Rust Python interpreter in worker subprocesses that
reaches the host only through the tool stubs passed in, under time and memory limits.

One pool per process (per xdist worker), started on the first dry run and closed at the end. Each
run gets its own session, so no state leaks from one case into the next; a worker that dies is a
note for its case, and the next run starts a fresh pool. Nothing here raises for anything the
code does: every ending is a `DryRun` value.
"""

from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run.classify import classify_runtime_error
from pytest_codemode_eval.dry_run.fake_tools import FakeTools
from pytest_codemode_eval.dry_run.stubs import Stub, ToolRecorder
from pytest_codemode_eval.dry_run.trace import DryRun, RunStatus
from pytest_codemode_eval.workspace_facts import WorkspaceError, WorkspaceFacts, scan_workspace

if TYPE_CHECKING:
    from pydantic_monty import Monty, ResourceLimits

# Per case: 1 s of execution, 64 MB of heap, 1,000 frames, 256 tool calls and name lookups
# (each is a round trip to this process, ~1-2 ms). Sleeping is instant: a dry run never waits.
LIMITS: ResourceLimits = {
    "max_feed_duration_secs": 1.0,
    "max_memory": 64 * 1024 * 1024,
    "max_recursion_depth": 1000,
    "max_suspensions": 256,
}
WALL_BACKSTOP_SECONDS = 5.0  # the pool kills a worker that runs this long between round trips
STDOUT_LIMIT = 4000  # characters of printed output kept in the trace
SEED = 0  # the fakes' choices, so a dry run gives the same trace every time


class Sandbox:
    """Dry runs for this process; use as a context manager or call `close()`."""

    def __init__(self, limits: ResourceLimits | None = None) -> None:
        self.limits: ResourceLimits = limits if limits is not None else LIMITS
        self._pool: Monty | None = None
        self._facts: dict[Path, WorkspaceFacts | None] = {}

    def run(self, code: str, catalog: Catalog, workspace: Path | None = None) -> DryRun:
        """Run `code` with the catalog's tools bound to recording stubs."""
        recorder = ToolRecorder(catalog, self._fakes(catalog, workspace))
        stdout = _Stdout(STDOUT_LIMIT)
        started = time.perf_counter()
        status, error, line = self._feed(code, recorder.lookup(), stdout)
        return DryRun(
            status=status,
            calls=tuple(recorder.calls),
            stdout=stdout.text(),
            error=error,
            line=line,
            seconds=time.perf_counter() - started,
        )

    def _feed(
        self, code: str, lookup: dict[str, Stub], stdout: _Stdout
    ) -> tuple[RunStatus, str | None, int | None]:
        from pydantic_monty import (
            MontyCrashedError,
            MontyError,
            MontyRuntimeError,
            MontySyntaxError,
        )

        try:
            with self._checkout() as session:
                session.feed_run(code, external_lookup=lookup, print_callback=stdout)
        except MontyRuntimeError as exc:
            return classify_runtime_error(exc)
        except MontySyntaxError as exc:  # the caller ran only code that Python parses
            return RunStatus.UNSUPPORTED, exc.display("type-msg"), None
        except MontyCrashedError as exc:
            self._discard_pool()
            what = "time backstop" if exc.timed_out else "crash"
            return RunStatus.CRASHED, f"sandbox worker lost ({what}): {exc}", None
        except (MontyError, OSError, ValueError, TypeError, RuntimeError) as exc:
            self._discard_pool()
            return RunStatus.CRASHED, f"sandbox failed: {type(exc).__name__}: {exc}", None
        return RunStatus.COMPLETED, None, None

    def _checkout(self) -> Any:
        if self._pool is None:
            from pydantic_monty import Monty

            pool = Monty(min_processes=1, max_processes=1, request_timeout=WALL_BACKSTOP_SECONDS)
            self._pool = pool.__enter__()
        return self._pool.checkout(limits=self.limits, os_policy={"sleep": "zero"})

    def _fakes(self, catalog: Catalog, workspace: Path | None) -> dict[str, Stub]:
        facts = self._workspace(workspace)
        if facts is None:
            return {}
        return FakeTools(facts, random.Random(SEED), always_found=True).stubs(catalog.tools)

    def _workspace(self, workspace: Path | None) -> WorkspaceFacts | None:
        if workspace is None:
            return None
        if workspace not in self._facts:
            try:
                self._facts[workspace] = scan_workspace(workspace)
            except (WorkspaceError, OSError):
                self._facts[workspace] = None  # typed defaults instead of workspace values
        return self._facts[workspace]

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):  # a broken pool is replaced either way
                pool.__exit__(None, None, None)

    def close(self) -> None:
        self._discard_pool()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Stdout:
    """Collects what the code prints, keeping the first `limit` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.cut = False

    def __call__(self, stream: str, text: str) -> None:
        room = self.limit - self.size
        if room <= 0:
            self.cut = True
            return
        self.parts.append(text[:room])
        self.size += min(len(text), room)
        self.cut = self.cut or len(text) > room

    def text(self) -> str:
        return "".join(self.parts) + ("…" if self.cut else "")
