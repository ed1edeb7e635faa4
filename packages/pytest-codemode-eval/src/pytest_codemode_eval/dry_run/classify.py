"""Tell the model's runtime errors from what the sandbox does not support.

Monty runs a subset of Python: no generators yet, a few stdlib modules, no `os.system` or
`os.environ`. Code that hits those is valid Python the sandbox cannot judge, so it is scored
statically with a note. Everything else the code raises (AttributeError on a field the result
lacks, NameError, TypeError, a time or memory limit, a denied file) is the code's own error.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from pytest_codemode_eval.dry_run.trace import RunStatus

if TYPE_CHECKING:
    from pydantic_monty import MontyRuntimeError

_MISSING_MODULE = re.compile(r"No module named '(?P<module>[^']+)'")
_MODULE_ATTRIBUTE = re.compile(r"^module '[^']+' has no attribute")
_NOT_IN_SANDBOX = re.compile(r"is not supported in this environment|not yet support")


def classify_runtime_error(exc: MontyRuntimeError) -> tuple[RunStatus, str, int | None]:
    """(raised or unsupported, "ExceptionType: message", the line of the code that raised)."""
    inner = exc.exception()
    message = exc.display("type-msg")
    frames = exc.traceback()
    line = frames[-1].line if frames else None
    return (RunStatus.UNSUPPORTED if _unsupported(inner) else RunStatus.RAISED), message, line


def _unsupported(inner: BaseException) -> bool:
    text = str(inner)
    if isinstance(inner, NotImplementedError) or _NOT_IN_SANDBOX.search(text):
        return True
    if isinstance(inner, ModuleNotFoundError):
        match = _MISSING_MODULE.search(text)
        top = match["module"].split(".")[0] if match else ""
        return top in sys.stdlib_module_names  # a third-party import fails anywhere
    return isinstance(inner, AttributeError) and bool(_MODULE_ATTRIBUTE.search(text))
