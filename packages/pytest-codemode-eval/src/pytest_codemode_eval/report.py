"""Render a Summary as markdown (the reference report's shape), plain terminal text and JSON.

Rendering only formats: every number comes from `aggregate.summarize`, every pass/fail from
`gate`, so the tables can never disagree with the exit status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_codemode_eval.aggregate import CategorySummary, Summary
from pytest_codemode_eval.gate import gate_misses
from pytest_codemode_eval.safe_text import json_text, markdown_code, markdown_text

QUERY_WIDTH = 48
RESULTS_SCHEMA_VERSION = 1


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def truncate(text: str, width: int = QUERY_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def pass_mark(row: CategorySummary) -> str:
    return {True: "✅", False: "❌", None: "—"}[row.passed]


def headline(summary: Summary) -> str:
    overall = summary.overall
    target = f" (target ≥{percent(overall.target)})" if overall.target is not None else ""
    if overall.target is None:
        return f"{percent(overall.score)} overall over {overall.n} cases"
    state = "✅ PASS" if not gate_misses(summary) and not summary.missing else "❌ FAIL"
    return f"{state} — {percent(overall.score)}{target}"


def warnings(summary: Summary) -> list[str]:
    found = list(summary.identity.get("warnings", ()))
    if summary.missing:
        found.append(
            f"{len(summary.missing)} case(s) produced no result: {', '.join(summary.missing)}"
        )
    return found


def render_markdown(summary: Summary, extra_sections: Sequence[str] = ()) -> str:
    """The full report: header, category table, per-prompt table, distribution, extra sections."""
    parts = [render_header(summary)]
    parts += [f"> ⚠️ **WARNING:** {markdown_text(warning)}" for warning in warnings(summary)]
    parts += [
        render_category_table(summary),
        render_case_table(summary),
        render_distribution(summary),
    ]
    parts += list(extra_sections)
    return "\n\n".join(parts) + "\n"


def render_header(summary: Summary) -> str:
    identity = summary.identity
    model = identity.get("model", {})
    lines = [f"# Code Mode eval: {markdown_text(str(identity.get('suite', 'suite')))}", ""]
    if identity.get("started"):
        lines.append(f"**Date:** {identity['started']}  ")
    lines.append(f"**Backend:** {markdown_text(str(identity.get('backend', '?')))}  ")
    if model.get("path") or model.get("name"):
        fingerprint = f" ({_code(model['fingerprint'])})" if model.get("fingerprint") else ""
        if model.get("fingerprint_method"):
            fingerprint += f" ({markdown_text(str(model['fingerprint_method']))})"
        lines.append(f"**Model:** {_code(model.get('path') or model.get('name'))}{fingerprint}  ")
    if model.get("adapter"):
        adapter, adapter_fingerprint = model["adapter"], model.get("adapter_fingerprint", "?")
        lines.append(f"**Adapter:** {_code(adapter)} ({_code(adapter_fingerprint)})  ")
    lines.append(
        f"**Suite:** `{identity.get('suite_hash', '?')}` · "
        f"**Prompt renderer:** `{identity.get('renderer_hash', '?')}`  "
    )
    lines.append(f"**Result:** {headline(summary)}")
    return "\n".join(lines)


def _code(value: object) -> str:
    return markdown_code(str(value))


def render_category_table(summary: Summary) -> str:
    baseline = f"{summary.baseline_name} Baseline" if summary.baseline_name else "Baseline"
    lines = [
        "## Pre-Registered Success Criteria vs Actual",
        "",
        f"| Category | {baseline} | Target | Actual | Pass? |",
        "|----------|----------|--------|--------|-------|",
    ]
    for row in summary.categories:
        lines.append(
            f"| {row.name} | {percent(row.baseline)} | {_target(row)} | "
            f"{percent(row.score)} | {pass_mark(row)} |"
        )
    o = summary.overall
    lines.append(
        f"| **Overall** | **{percent(o.baseline)}** | **{_target(o)}** | "
        f"**{percent(o.score)}** | {pass_mark(o)} |"
    )
    return "\n".join(lines)


def _target(row: CategorySummary) -> str:
    return "—" if row.target is None else f"≥{percent(row.target)}"


def render_case_table(summary: Summary) -> str:
    lines = [
        "## Per-Prompt Results",
        "",
        "| Prompt ID | Query (truncated) | Score | Time | Notes |",
        "|-----------|-------------------|-------|------|-------|",
    ]
    for case in summary.cases:
        note = _cell(case.note)
        query = _cell(truncate(case.prompt))
        case_id = _cell(case.id)
        lines.append(f"| {case_id} | {query} | {case.score:.2f} | {case.seconds:.1f}s | {note} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Model text and notes in a table cell: see safe_text.markdown_text."""
    return markdown_text(text)


DISTRIBUTION_LABELS = {
    1.0: "Code Mode call, right tool(s)",
    0.5: "direct tool call, right tool",
    0.0: "prose/timeout/wrong/malformed",
}


# The verdicts each standard label describes; a bucket holding any other verdict (0.5 can also be
# a half chain or a Code Mode call with a wrong argument) lists its verdicts instead.
_LABELLED_VERDICTS = {
    1.0: {"code_mode"},
    0.5: {"direct_call"},
    0.0: {"prose", "timeout", "wrong_tool", "malformed", "truncated", "error"},
}


def render_distribution(summary: Summary) -> str:
    counts = summary.distribution()
    for value in DISTRIBUTION_LABELS:
        counts.setdefault(value, 0)
    lines = ["**Score distribution:**"]
    for value, count in sorted(counts.items(), reverse=True):
        label = _distribution_label(summary, value)
        lines.append(f"- {value:.2f} ({label}): {count} prompt{'s' if count != 1 else ''}")
    verdicts = " · ".join(f"{name} {n}" for name, n in summary.verdict_counts().items())
    lines += ["", f"**Verdicts:** {verdicts}"]
    return "\n".join(lines)


def _distribution_label(summary: Summary, value: float) -> str:
    verdicts: dict[str, int] = {}
    for case in summary.cases:
        if case.score == value:
            verdicts[str(case.verdict)] = verdicts.get(str(case.verdict), 0) + 1
    if value in DISTRIBUTION_LABELS and set(verdicts) <= _LABELLED_VERDICTS[value]:
        return DISTRIBUTION_LABELS[value]
    mixed = ", ".join(f"{name} {n}" for name, n in verdicts.items())
    return mixed if value in DISTRIBUTION_LABELS else f"partial credit: {mixed}"


def render_terminal(summary: Summary) -> str:
    """A compact plain-text version for the pytest terminal summary."""
    rows = [("Category", "Baseline", "Target", "Actual", "Pass?")]
    for row in summary.rows:
        mark = {True: "PASS", False: "FAIL", None: "-"}[row.passed]
        target = "-" if row.target is None else f">={percent(row.target)}"
        rows.append((row.name, percent(row.baseline), target, percent(row.score), mark))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    cases = [
        f"{c.id:<10} {c.score:4.2f} {c.seconds:6.1f}s  {c.verdict:<14} {c.note}"
        for c in summary.cases
    ]
    identity = summary.identity
    model = identity.get("model", {})
    head = f"backend {identity.get('backend', '?')}"
    if model.get("path"):
        head += f" · model {model['path']} ({model.get('fingerprint', '?')})"
    head += f" · suite {identity.get('suite_hash', '?')}"
    head += f" · renderer {identity.get('renderer_hash', '?')}"
    lines = [head, *[f"WARNING: {w}" for w in warnings(summary)], "", *table, "", *cases, ""]
    lines.append(f"Result: {headline(summary)}")
    return "\n".join(lines)


def results_document(summary: Summary) -> dict[str, Any]:
    """Everything machine-readable: identity, per case, per category, overall, gate."""
    misses = gate_misses(summary)

    def row(r: CategorySummary) -> dict[str, Any]:
        return {
            "name": r.name,
            "n": r.n,
            "score": r.score,
            "target": r.target,
            "baseline": r.baseline,
            "pass": r.passed,
        }

    return {
        "schema": RESULTS_SCHEMA_VERSION,
        "identity": dict(summary.identity),
        "baseline": summary.baseline_name,
        "overall": row(summary.overall),
        "categories": [row(r) for r in summary.categories],
        "cases": [case.to_dict() for case in summary.cases],
        "missing": list(summary.missing),
        "gate": {
            "passed": not misses and not summary.missing,
            "misses": [
                {"category": m.category, "actual": m.actual, "target": m.target} for m in misses
            ],
        },
    }


def render_json(summary: Summary) -> str:
    return json_text(results_document(summary), indent=2) + "\n"  # model text: see safe_text
