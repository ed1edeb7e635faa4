"""Untrusted text (model output, notes, prompts) into the files a run writes: JSON and markdown.

Model output can hold anything: lone surrogates (UTF-8 cannot encode them, so writing the file
raised), U+2028 / U+0085 (line breaks to `str.splitlines`, so a JSONL record split in two),
`<script>` or `</details>` (raw HTML in report.md and the GitHub step summary), `|` and newlines
(a broken table row), backticks (a code span swallowing the rest of the row). Everything that
writes such text goes through one of the two functions here.
"""

from __future__ import annotations

import json
import re

# Inside a JSON string these are legal raw, yet break the file: escape them as \uXXXX.
_JSON_UNSAFE = re.compile("[\u0085\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKDOWN = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`", "\\": "\\\\"}
)


def json_text(value: object, indent: int | None = None) -> str:
    """`json.dumps` that keeps non-ASCII readable and escapes only what would break the file.

    Lone surrogates and U+0085/U+2028/U+2029 can only occur inside JSON strings, where `\\uXXXX`
    reads back as the same character (a high surrogate written right before a low one reads back
    as the pair's character: JSON cannot tell them apart).
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def markdown_text(text: str) -> str:
    """`text` shown as itself on one markdown line or table cell.

    HTML (`<`, `>`, `&`) becomes entities, `|`, backticks and backslashes are escaped, every line
    break is a space, and a lone surrogate is written as `\\udXXX`.
    """
    flat = " ".join(text.splitlines())
    flat = _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", flat)
    return flat.translate(_MARKDOWN)


def markdown_code(text: str) -> str:
    """`text` as an inline code span that no backtick or line break in it can close early."""
    flat = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", " ".join(text.splitlines()))
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") else flat
    return f"{fence}{padded}{fence}"
