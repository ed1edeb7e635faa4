"""PNG pictures beside the markdown report: category scores with their intervals and targets,
and the routing confusion matrix as a heatmap.

matplotlib is optional for the plugin (`pytest-codemode-eval[plots]`; the trainer and the dev
environment have it): without it the report says how to get the pictures, and nothing fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_codemode_eval.aggregate import Summary
from pytest_codemode_eval.confusion import Confusion

MISSING_MATPLOTLIB = "pictures need matplotlib: `pip install 'pytest-codemode-eval[plots]'`"


def _pyplot() -> Any | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display on CI machines
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def picture_paths(report: Path) -> dict[str, Path]:
    """Where the pictures of a report go: beside it, named after it."""
    return {
        "categories": report.with_name(f"{report.stem}-categories.png"),
        "confusion": report.with_name(f"{report.stem}-confusion.png"),
    }


def draw_categories(summary: Summary, path: Path) -> bool:
    """Bars of the category scores, 95 % Wilson intervals as error bars, each target marked."""
    plt = _pyplot()
    if plt is None:
        return False
    rows = summary.rows
    names = [row.name for row in rows]
    scores = [row.score * 100 for row in rows]
    below = [max(0.0, row.score - row.ci95[0]) * 100 for row in rows]
    above = [max(0.0, row.ci95[1] - row.score) * 100 for row in rows]
    colours = [_colour(row.decision) for row in rows]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.2), dpi=110)
    positions = list(range(len(rows)))
    axes.bar(positions, scores, color=colours, edgecolor="#333333", linewidth=0.6)
    axes.errorbar(positions, scores, yerr=[below, above], fmt="none", ecolor="#222222", capsize=4)
    for x, row in zip(positions, rows, strict=True):
        if row.target is not None:
            axes.hlines(row.target * 100, x - 0.42, x + 0.42, colors="#c0392b", linewidth=2.2)
    axes.set_xticks(positions, names, rotation=30, ha="right")
    axes.set_ylim(0, 105)
    axes.set_ylabel("score (%)")
    axes.set_title("Category scores, 95 % Wilson intervals; red line: target")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def _colour(decision: str | None) -> str:
    return {"pass": "#7fbf7f", "fail": "#e58c8c", "inconclusive": "#f2cf73"}.get(
        decision or "", "#a6bddb"
    )


def draw_confusion(confusion: Confusion, path: Path) -> bool:
    """The confusion matrix as a heatmap, counts written in the cells."""
    plt = _pyplot()
    if plt is None or not confusion.rows:
        return False
    grid = [
        [confusion.count(row, column) for column in confusion.columns] for row in confusion.rows
    ]
    width = max(5.0, 0.55 * len(confusion.columns) + 3)
    height = max(3.0, 0.4 * len(confusion.rows) + 2)
    figure, axes = plt.subplots(figsize=(width, height), dpi=110)
    image = axes.imshow(grid, cmap="Blues", aspect="auto")
    darkest = max(max(values) for values in grid) or 1
    for i, values in enumerate(grid):
        for j, value in enumerate(values):
            if value:
                colour = "white" if value > darkest / 2 else "black"
                axes.text(j, i, str(value), ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(len(confusion.columns)), confusion.columns, rotation=45, ha="right")
    axes.set_yticks(range(len(confusion.rows)), confusion.rows)
    axes.set_xlabel("first tool called (or outcome)")
    axes.set_ylabel("expected tool")
    axes.set_title("Tool routing")
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def render_picture_links(drawn: dict[str, Path]) -> str:
    """A report section linking the pictures drawn beside it (relative links)."""
    lines = ["## Pictures", ""]
    titles = {"categories": "Category scores", "confusion": "Tool routing confusion matrix"}
    for name, path in drawn.items():
        lines.append(f"![{titles[name]}]({path.name})")
    if not drawn:
        lines.append(MISSING_MATPLOTLIB)
    return "\n".join(lines)
