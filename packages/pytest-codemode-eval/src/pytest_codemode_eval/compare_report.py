"""Render a Comparison: a markdown section for the report, a terminal block, the CLI's output.

Formatting only; every number comes from `compare.compare_runs`.
"""

from __future__ import annotations

from pytest_codemode_eval.compare import Comparison, GroupComparison
from pytest_codemode_eval.safe_text import markdown_code, markdown_text

VERDICT_MARK = {
    "better": "⬆️ better",
    "worse": "⬇️ worse",
    "no_detectable_difference": "no detectable difference",
}


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"


def _interval(group: GroupComparison) -> str:
    low, high = group.ci95
    return f"[{_points(low)} – {_points(high)}]"


def _p(value: float) -> str:
    return f"{value:.3g}"


def _cell(text: str) -> str:
    return markdown_text(text)


def render_comparison_markdown(comparison: Comparison) -> str:
    """The paired comparison section: per category, flips, one-sided cases, warnings."""
    lines = [
        "## Paired comparison with a baseline run",
        "",
        f"Baseline: {markdown_code(comparison.baseline)} · cases compared: {comparison.overall.n}",
        "",
    ]
    lines += [
        f"> ⚠️ **WARNING:** {warning}: the comparison is not like for like"
        for warning in comparison.warnings
    ]
    if comparison.warnings:
        lines.append("")
    lines += [
        "| Category | n | Before | After | Δ (points) [95 % CI] | ↑ / ↓ | McNemar p | sign p "
        "| Verdict |",
        "|----------|---|--------|-------|----------------------|-------|-----------|--------"
        "|---------|",
    ]
    for group in (*comparison.categories, comparison.overall):
        name = "**Overall**" if group is comparison.overall else group.name
        lines.append(
            f"| {name} | {group.n} | {group.before * 100:.1f}% | {group.after * 100:.1f}% | "
            f"{_points(group.delta)} {_interval(group)} | {group.improved} / {group.regressed} | "
            f"{_p(group.mcnemar_p)} | {_p(group.sign_p)} | {VERDICT_MARK[group.verdict]} |"
        )
    lines += [
        "",
        "Δ: mean paired difference with a seeded paired-bootstrap 95 % interval (10,000 "
        "resamples of cases). McNemar: exact, on full credit. Sign: exact, on every changed "
        "score. A verdict needs both the interval to exclude 0 and the sign test p < 0.05.",
        "",
        render_flips(comparison),
    ]
    for label, ids in (
        ("Only in the baseline", comparison.only_baseline),
        ("Only in this run", comparison.only_new),
    ):
        if ids:
            lines += ["", f"**{label}** ({len(ids)}): {', '.join(ids)}"]
    return "\n".join(lines)


def render_flips(comparison: Comparison) -> str:
    if not comparison.flips:
        return "**Flips:** none — every compared case kept its score."
    lines = [
        f"**Flips** ({len(comparison.flips)}):",
        "",
        "| Case | Category | Change | Before | After | Before note | After note |",
        "|------|----------|--------|--------|-------|-------------|------------|",
    ]
    for flip in comparison.flips:
        lines.append(
            f"| {_cell(flip.id)} | {_cell(flip.category)} | {flip.direction} | "
            f"{flip.before:.2f} {flip.before_verdict} | {flip.after:.2f} {flip.after_verdict} | "
            f"{_cell(flip.before_note)} | {_cell(flip.after_note)} |"
        )
    return "\n".join(lines)


def render_comparison_terminal(comparison: Comparison) -> str:
    lines = [f"paired comparison with {comparison.baseline} ({comparison.overall.n} cases)"]
    lines += [
        f"WARNING: {warning}: the comparison is not like for like"
        for warning in comparison.warnings
    ]
    for group in (*comparison.categories, comparison.overall):
        lines.append(
            f"  {group.name:<12} {group.before * 100:5.1f}% -> {group.after * 100:5.1f}%  "
            f"delta {_points(group.delta)} {_interval(group)}  up {group.improved} down "
            f"{group.regressed}  McNemar p {_p(group.mcnemar_p)}  {group.verdict}"
        )
    for flip in comparison.flips:
        lines.append(
            f"  {flip.direction:<9} {flip.id:<12} {flip.before:.2f} {flip.before_verdict} -> "
            f"{flip.after:.2f} {flip.after_verdict}"
        )
    for label, ids in (
        ("only in the baseline", comparison.only_baseline),
        ("only in this run", comparison.only_new),
    ):
        if ids:
            lines.append(f"  {label}: {', '.join(ids)}")
    return "\n".join(lines)
