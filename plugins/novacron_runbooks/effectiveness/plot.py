"""Draw a window's effectiveness as one PNG (matplotlib's Agg backend: no display, safe in a worker).

Left: time to resolve per runbook in minutes on a log scale (runbooks take seconds to hours): the bar is the
median, the dot the p90, the red tick the catalog's time budget. Right: success rate with successes/runs.
Only runbooks with remediations in the window are drawn; without any, the figure says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from novacron_runbooks.plotting import png_bytes, pyplot

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes

    from novacron_runbooks.effectiveness.stats import RunbookEffectiveness

MIN_MINUTES = 1 / 60
"""Floor of the log axis: one second."""


def _minutes(seconds: float) -> float:
    return max(seconds / 60, MIN_MINUTES)


def _resolve_panel(axes: Axes, rows: Sequence[RunbookEffectiveness]) -> None:
    ys = range(len(rows))
    for y, item in zip(ys, rows, strict=True):
        if item.time_to_resolve:
            axes.barh(y, _minutes(item.time_to_resolve["0.5"]), color="tab:blue", height=0.6)
            axes.plot(_minutes(item.time_to_resolve["0.9"]), y, "o", color="black", markersize=4)
        else:
            axes.text(MIN_MINUTES, y, " no success", va="center", fontsize=7, color="tab:red")
        if item.budget_seconds is not None:
            axes.plot(
                _minutes(item.budget_seconds), y, "|", color="tab:red", markersize=14, markeredgewidth=2
            )
    axes.set_xscale("log")
    axes.set_xlim(left=MIN_MINUTES)
    axes.set_xlabel("minutes (bar median, dot p90, red: time budget)")
    axes.set_title("Time to resolve", fontsize=10)
    axes.grid(axis="x", alpha=0.3)


def _success_panel(axes: Axes, rows: Sequence[RunbookEffectiveness]) -> None:
    for y, item in enumerate(rows):
        ratio = item.success_ratio or 0.0
        colour = "tab:green" if ratio >= 1 else "tab:orange" if ratio >= 0.5 else "tab:red"
        axes.barh(y, ratio * 100, color=colour, height=0.6)
        axes.text(min(ratio * 100, 80) + 2, y, f"{item.successes}/{item.runs}", va="center", fontsize=7)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of remediations (successes/runs)")
    axes.set_title("Success rate", fontsize=10)
    axes.grid(axis="x", alpha=0.3)


def effectiveness_png(figures: Sequence[RunbookEffectiveness], title: str) -> bytes:
    """Return the window's plot as PNG bytes."""
    rows = [item for item in figures if item.runs]
    height = 1.2 + 0.35 * max(len(rows), 1)
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, height), dpi=100, sharey=True)
    try:
        if rows:
            _resolve_panel(left, rows)
            _success_panel(right, rows)
            left.set_yticks(range(len(rows)), [item.runbook for item in rows], fontsize=8)
            left.invert_yaxis()
        else:
            for axes in (left, right):
                axes.text(0.5, 0.5, "no remediations", transform=axes.transAxes, ha="center", va="center")
                axes.set_yticks([])
        figure.suptitle(title, fontsize=11)
        return png_bytes(figure)
    finally:
        plt.close(figure)
