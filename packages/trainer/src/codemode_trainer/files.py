"""Writing a file so that readers never see half of it: write beside it, then rename in place.

Run folders are read while they are written (``metrics``, a sweep, a crashed run resumed), and
a file cut short by a crash must not look like a finished one. Every JSON or text file the
trainer writes for later reading goes through these two functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a hidden file beside ``path`` and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON with sorted keys and a final newline, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
