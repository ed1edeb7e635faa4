"""The one exception type for bad suite input: it always names the file, line or field at fault."""

from __future__ import annotations

from pathlib import Path


class SuiteError(Exception):
    """Bad input in a suite file; the message says where and what was expected."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line


def read_text_file(path: Path, what: str = "file") -> str:
    """A suite, case, targets or replay file as text; unreadable or non-UTF-8 is a SuiteError."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(path, f"cannot read {what}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SuiteError(path, f"{what} is not UTF-8 text (byte {exc.start})") from exc
