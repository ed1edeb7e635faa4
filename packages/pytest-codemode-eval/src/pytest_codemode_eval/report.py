"""Render a Summary as markdown (the reference report's shape), plain terminal text and JSON.

Rendering only formats: every number comes from `aggregate.summarize`, every pass/fail from
`gate`, so the tables can never disagree with the exit status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_codemode_eval.aggregate import CaseStats, CategorySummary, Summary
from pytest_codemode_eval.confusion import confusion_matrix, render_confusion_markdown
from pytest_codemode_eval.endpoints import (
    endpoint_stats,
    listed_endpoints,
    render_endpoint_markdown,
    render_endpoint_terminal,
    worth_a_table,
)
from pytest_codemode_eval.gate import gate_exit_status, gate_misses, interval_misses
from pytest_codemode_eval.safe_text import json_text, markdown_code, markdown_text

QUERY_WIDTH = 48
RESULTS_SCHEMA_VERSION = 2


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def truncate(text: str, width: int = QUERY_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def percent_interval(row: CategorySummary, space: str = " ") -> str:
    """`33.3 % [6.1–79.2]`: the score with its 95 % Wilson interval, in percent."""
    low, high = row.ci95
    return f"{row.score * 100:.1f}{space}% [{low * 100:.1f}–{high * 100:.1f}]"


UNSUPPORTED = "⚠️"


def pass_mark(row: CategorySummary) -> str:
    """The point verdict, flagged when its interval does not back it."""
    if row.target is not None and not row.evaluated:
        return "not evaluated"
    mark = {True: "✅", False: "❌", None: "—"}[row.passed]
    return mark if row.supported else f"{mark}{UNSUPPORTED}"


def headline(summary: Summary) -> str:
    overall = summary.overall
    target = f" (target ≥{percent(overall.target)})" if overall.target is not None else ""
    if overall.target is None:
        return f"{percent(overall.score)} overall over {overall.n} cases"
    if not overall.evaluated:
        judged = [row.name for row in summary.categories if row.judged]
        return (
            f"⚠️ PARTIAL RUN — {overall.n} of {overall.suite_n} cases gave a result; overall not "
            f"evaluated; judged: {', '.join(judged) if judged else 'nothing'}"
        )
    state = "✅ PASS" if not gate_misses(summary) and not summary.missing else "❌ FAIL"
    return (
        f"{state} — {percent_interval(overall)}{target}; 95 % interval decision: {overall.decision}"
    )


def warnings(summary: Summary) -> list[str]:
    found = list(summary.identity.get("warnings", ()))
    for row in summary.not_evaluated:
        found.append(
            f"{row.name} not evaluated: {row.n} of {row.suite_n} cases gave a result "
            "(a category is judged only when all its cases ran)"
        )
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
        render_decision_table(summary),
        render_case_table(summary),
        render_distribution(summary),
    ]
    endpoints = endpoint_stats(summary.cases, summary.identity)
    if worth_a_table(endpoints):
        parts.append(render_endpoint_markdown(endpoints, summary.cases))
    confusion = confusion_matrix(summary.cases)
    if not confusion.empty:
        parts.append(render_confusion_markdown(confusion))
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
    if len(urls := listed_endpoints(identity)) > 1:
        lines.append(f"**Endpoints:** {', '.join(_code(url) for url in urls)}  ")
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
            f"{percent_interval(row)} | {pass_mark(row)} |"
        )
    o = summary.overall
    lines.append(
        f"| **Overall** | **{percent(o.baseline)}** | **{_target(o)}** | "
        f"**{percent_interval(o)}** | {pass_mark(o)} |"
    )
    lines += [
        "",
        "Actual: mean score with its 95 % Wilson interval over the distinct cases.",
    ]
    if not all(row.supported for row in summary.rows):
        lines[-1] += (
            f" {UNSUPPORTED} the interval straddles the target: the data cannot support this "
            "point pass or fail (inconclusive)."
        )
    return "\n".join(lines)


def render_decision_table(summary: Summary) -> str:
    """What the data can decide: the three-way decision and the cases a decision would take."""
    repeats = summary.repeats
    head = "| Category | n | Actual [95 % CI] | Target | Decision | Cases needed | Format |"
    rule = "|----------|---|------------------|--------|----------|--------------|--------|"
    if repeats > 1:
        head += f" pass^{repeats} |"
        rule += "------|"
    lines = ["## What the data can decide", "", head, rule]
    for row in summary.rows:
        cells = [
            row.name if row is not summary.overall else "**Overall**",
            str(row.n),
            percent_interval(row),
            _target(row),
            row.decision or ("not evaluated" if not row.evaluated else "—"),
            _cases_needed(row),
            percent(row.format_adherence),
        ]
        if repeats > 1:
            cells.append(percent(row.pass_hat_k))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Decision: pass when the whole interval is at or above the target, fail when all of it is "
        "below, inconclusive otherwise. Cases needed: how many cases at the observed score would "
        "lift the lower bound to the target (— when the score does not exceed it). Format: share "
        "of outputs holding a parseable call.",
    ]
    return "\n".join(lines)


def _cases_needed(row: CategorySummary) -> str:
    if row.target is None or row.cases_needed is None:
        return "—"
    return str(row.cases_needed)


def _target(row: CategorySummary) -> str:
    return "—" if row.target is None else f"≥{percent(row.target)}"


def render_case_table(summary: Summary) -> str:
    lines = [
        "## Per-Prompt Results",
        "",
        "| Prompt ID | Query (truncated) | Score | Time | Notes |",
        "|-----------|-------------------|-------|------|-------|",
    ]
    if summary.repeats > 1:
        return "\n".join(lines + [_repeated_case_row(stats) for stats in summary.case_stats])
    for case in summary.cases:
        note = _cell(case.note)
        query = _cell(truncate(case.prompt))
        case_id = _cell(case.id)
        lines.append(f"| {case_id} | {query} | {case.score:.2f} | {case.seconds:.1f}s | {note} |")
    return "\n".join(lines)


def _repeated_case_row(stats: CaseStats) -> str:
    """A case over its repeats: mean score and time, full-credit count, pass^k, verdicts."""
    k = stats.repeats
    seconds = sum(s.seconds for s in stats.samples) / k
    verdicts: dict[str, int] = {}
    for sample in stats.samples:
        verdicts[str(sample.verdict)] = verdicts.get(str(sample.verdict), 0) + 1
    mix = ", ".join(f"{name} ×{n}" for name, n in verdicts.items())
    note = f"{stats.full_credit}/{k} full credit, pass^{k} {stats.pass_hat(k):.2f}; {mix}"
    if len(verdicts) == 1:
        note += f" — {stats.samples[0].note}"
    query = _cell(truncate(stats.prompt))
    return f"| {stats.id} | {query} | {stats.score:.2f} | {seconds:.1f}s | {_cell(note)} |"


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
    rows = [("Category", "n", "Baseline", "Target", "Actual [95% CI]", "Point", "Decision")]
    for row in summary.rows:
        mark = {True: "PASS", False: "FAIL", None: "-"}[row.passed]
        if row.target is not None and not row.evaluated:
            mark = f"{row.n}/{row.suite_n} ran"
        target = "-" if row.target is None else f">={percent(row.target)}"
        decision: str = row.decision or ("not evaluated" if not row.evaluated else "-")
        if row.decision == "inconclusive" and row.cases_needed is not None:
            decision += f" (~{row.cases_needed} cases)"
        rows.append(
            (
                row.name,
                str(row.n),
                percent(row.baseline),
                target,
                percent_interval(row, space=""),
                mark,
                decision,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    cases = [
        f"{c.id:<10} {c.score:4.2f} {c.seconds:6.1f}s  {c.verdict:<18} {c.note}"
        for c in summary.cases
    ]
    identity = summary.identity
    model = identity.get("model", {})
    head = f"backend {identity.get('backend', '?')}"
    if model.get("path"):
        head += f" · model {model['path']} ({model.get('fingerprint', '?')})"
    head += f" · suite {identity.get('suite_hash', '?')}"
    head += f" · renderer {identity.get('renderer_hash', '?')}"
    if len(urls := listed_endpoints(identity)) > 1:
        head += f" · endpoints {', '.join(urls)}"
    lines = [head, *[f"WARNING: {w}" for w in warnings(summary)], "", *table, "", *cases, ""]
    endpoints = endpoint_stats(summary.cases, identity)
    if worth_a_table(endpoints):
        lines += [render_endpoint_terminal(endpoints, summary.cases), ""]
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
            "ci95": list(r.ci95),
            "target": r.target,
            "baseline": r.baseline,
            "pass": r.passed,
            "decision": r.decision,
            "cases_needed": r.cases_needed,
            "supported": r.supported,
            "evaluated": r.evaluated,
            "suite_n": r.suite_n,
            "samples": r.samples,
            "pass_hat_k": r.pass_hat_k,
            "format_adherence": r.format_adherence,
        }

    return {
        "schema": RESULTS_SCHEMA_VERSION,
        "identity": dict(summary.identity),
        "baseline": summary.baseline_name,
        "overall": row(summary.overall),
        "categories": [row(r) for r in summary.categories],
        "repeats": summary.repeats,
        "cases": [case.to_dict() for case in summary.cases],
        "per_case": [stats.to_dict() for stats in summary.case_stats],
        "confusion": confusion_matrix(summary.cases).to_dict(),
        "endpoints": [e.to_dict() for e in endpoint_stats(summary.cases, summary.identity)],
        "missing": list(summary.missing),
        "gate": {
            "passed": not misses and not summary.missing,
            "misses": [
                {"category": m.category, "actual": m.actual, "target": m.target} for m in misses
            ],
            "interval": {
                "exit_status": gate_exit_status(summary, "interval"),
                "not_pass": [
                    {
                        "category": m.category,
                        "decision": m.decision,
                        "actual": m.actual,
                        "ci95": list(m.ci95 or ()),
                        "target": m.target,
                        "cases_needed": m.cases_needed,
                    }
                    for m in interval_misses(summary)
                ],
            },
        },
    }


def render_json(summary: Summary) -> str:
    return json_text(results_document(summary), indent=2) + "\n"  # model text: see safe_text
