"""Draw a panel's series as a PNG with matplotlib's Agg backend (no display, safe in a worker process)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from novacron_runbooks.plotting import png_bytes, pyplot

if TYPE_CHECKING:
    from novacron_runbooks.diagnostics.panels import Panel

Points = list[tuple[float, float]]


def plot_png(panel: Panel, series: dict[str, Points]) -> bytes:
    """Return the panel as a PNG: one line per series, the threshold dashed, times in UTC."""
    plt = pyplot()
    import matplotlib.dates as mdates  # noqa: PLC0415 - after pyplot chose the backend

    figure, axes = plt.subplots(figsize=(8, 3), dpi=100)
    try:
        for label, points in sorted(series.items()):
            times = mdates.date2num([datetime.fromtimestamp(t, tz=UTC) for t, _ in points])
            axes.plot(times, [v for _, v in points], label=label, linewidth=1.2)
        if panel.threshold is not None:
            axes.axhline(panel.threshold, color="tab:red", linestyle="--", linewidth=1, label="threshold")
        axes.set_title(panel.title, fontsize=10)
        axes.set_ylabel(panel.unit)
        locator = mdates.AutoDateLocator(tz=UTC)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
        axes.grid(alpha=0.3)
        if series or panel.threshold is not None:
            axes.legend(fontsize=7, loc="upper left")
        if not series:
            axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center")
        return png_bytes(figure)
    finally:
        plt.close(figure)
