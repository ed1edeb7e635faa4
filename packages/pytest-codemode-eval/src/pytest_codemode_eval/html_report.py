"""One offline HTML file to browse a run: every case, its output and its diff to the baseline.

Users open raw outputs when a category drops; inspect_ai's and promptfoo's viewers need a server.
This file opens from disk, in a CI artefact, without a network: the page (`html_assets/`) and the
run's data are inlined into one file. The data is the results document the JSON file holds (plus
the comparison and the baseline's cases when there is a baseline), embedded as JSON in a
`<script type="application/json">` block; the page's script builds everything from it, the case
rows in chunks and a case's details only when it is opened, so 1,000 cases load at once.

Model output is untrusted: in the data block every `<`, `>` and `&` is a `\\u003c`-style escape
(stronger than escaping `</` alone: `<!--` cannot change how the block is parsed either), and the
page only ever puts model text into the DOM with `textContent`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from pytest_codemode_eval.aggregate import Summary
from pytest_codemode_eval.compare import Comparison
from pytest_codemode_eval.report import results_document
from pytest_codemode_eval.safe_text import json_text

DATA_ELEMENT_ID = "codemode-data"
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_ASSETS = files("pytest_codemode_eval") / "html_assets"
# Inside a <script> block these could end or re-mode it; as JSON escapes they read back the same.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
# What the page shows of a baseline case, beside the same case of this run.
_BASELINE_FIELDS = (
    "id", "repeat", "category", "score", "verdict", "note", "seconds", "finish", "output",
    "think", "error", "tools_called", "server_tool_calls", "dry_run", "prompt_tokens",
    "generated_tokens", "tokens_per_second", "cached",
)  # fmt: skip


def render_html_report(
    summary: Summary, comparison: Comparison | None = None, baseline: Path | None = None
) -> str:
    """The page for a finished run: the same document the results JSON holds."""
    document = results_document(summary)
    if comparison is not None:
        document["comparison"] = comparison.to_dict()
    return render_html(document, read_baseline_cases(baseline) if comparison else None)


def render_html(
    document: Mapping[str, Any],
    baseline_cases: Sequence[Mapping[str, Any]] | None = None,
    baseline_label: str | None = None,
) -> str:
    """A results document (with `comparison` when there was a baseline) as one HTML page."""
    label = baseline_label
    if label is None and isinstance(document.get("comparison"), Mapping):
        label = str(document["comparison"].get("baseline", "baseline"))
    data = {
        "results": document,
        "baseline": None if baseline_cases is None else {"label": label, "cases": baseline_cases},
    }
    parts = {
        "TITLE": html.escape(page_title(document)),
        "STYLE": _asset("report.css"),
        "SCRIPT": _asset("report.js"),
        "DATA_ID": DATA_ELEMENT_ID,
        "DATA": script_json(data),
    }
    # One pass over the template: text put in is never scanned for placeholders again.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _asset("page.html"))


def page_title(document: Mapping[str, Any]) -> str:
    identity = document.get("identity")
    suite = identity.get("suite") if isinstance(identity, Mapping) else None
    return f"Code Mode eval: {suite or 'suite'}"


def script_json(value: object) -> str:
    """JSON that a `<script>` element holds as written, whatever the strings in it contain."""
    return json_text(value).translate(_SCRIPT_ESCAPES)


def read_baseline_cases(path: Path | None) -> list[dict[str, Any]] | None:
    """The baseline run's cases, trimmed to what the page shows beside this run's.

    The file was read once already (a bad one is a usage error before any case runs), so a
    failure here only leaves the side-by-side view out."""
    if path is None:
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    cases = document.get("cases") if isinstance(document, dict) else None
    if not isinstance(cases, list):
        return None
    return [
        {key: case[key] for key in _BASELINE_FIELDS if key in case}
        for case in cases
        if isinstance(case, dict)
    ]


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")
