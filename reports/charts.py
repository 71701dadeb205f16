"""Small charts as inline SVG strings, shared by the dashboard and the PDF reports.

Pure: plain sequences in, an `<svg>` element out (matplotlib's Agg-free SVG backend, text kept as text so it is
searchable and scales). Every label goes through matplotlib's XML escaping, so an account called `<script>`
stays text. Never imports cs_health.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import threading
import warnings
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

import matplotlib

matplotlib.use("Agg")

from matplotlib import dates as mdates
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

# Band colours that pass WCAG contrast as text on white; the bands are also always named in words.
BAND_COLOURS = {"green": "#1b7f3b", "yellow": "#8a6d00", "red": "#b42318", "unknown": "#52606d"}
BAND_FILL = {"green": "#e3f4e8", "yellow": "#fdf5d8", "red": "#fbe4e2"}
QUADRANT_COLOURS = {
    "high_value_at_risk": "#b42318",
    "high_value_healthy": "#1b7f3b",
    "low_value_at_risk": "#c2570c",
    "low_value_healthy": "#2f6fb0",
}
INK, MUTED, ACCENT = "#1f2933", "#52606d", "#2f6fb0"
WIDTH, HEIGHT = 7.2, 2.8  # inches

_RC = {
    "svg.fonttype": "none",  # text stays text (escaped), not glyph paths
    "svg.hashsalt": "cs-health",  # stable element ids, so the same data renders the same bytes
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
}
_LOCK = threading.Lock()  # matplotlib's global state is not thread-safe; the web server renders from a pool


def _to_svg(figure: Figure, title: str) -> str:
    """The figure as an inline `<svg>` element (no XML prolog), labelled for screen readers."""
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Text stays text in the SVG (the browser's fonts draw it), so a glyph DejaVu lacks (an emoji) is harmless.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    label = f'<svg role={quoteattr("img")} aria-label={quoteattr(title)} class="chart" '
    return svg.replace("<svg ", label, 1)


def _figure(height: float = HEIGHT, width: float = WIDTH) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    figure.patch.set_alpha(0)
    return figure


def _style(axes: Axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#d9e2ec", linewidth=0.6)
    axes.set_axisbelow(True)


def _date_axis(axes: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _finite(values: Sequence[float | None]) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]


def health_history_svg(
    days: Sequence[dt.date],
    scores: Sequence[float | None],
    *,
    title: str = "Health score",
    green: float = 70.0,
    yellow: float = 40.0,
) -> str:
    """The score over time on a 0-100 axis with the red / yellow / green bands shaded behind it."""
    with _LOCK, rc_context(_RC):
        figure = _figure()
        axes = figure.subplots()
        axes.axhspan(0, yellow, color=BAND_FILL["red"], zorder=0, label="red band")
        axes.axhspan(yellow, green, color=BAND_FILL["yellow"], zorder=0, label="yellow band")
        axes.axhspan(green, 100, color=BAND_FILL["green"], zorder=0, label="green band")
        if days:
            axes.plot(list(days), _finite(scores), color=INK, linewidth=1.6, marker=".", markersize=3)
            _date_axis(axes)
        axes.set_ylim(0, 100)
        axes.set_ylabel("score (0-100)")
        axes.set_title(title, loc="left", color=INK)
        for level, name in ((yellow / 2, "red"), ((yellow + green) / 2, "yellow"), ((green + 100) / 2, "green")):
            axes.text(1.01, level, name, transform=axes.get_yaxis_transform(), color=BAND_COLOURS[name], va="center")
        _style(axes)
        return _to_svg(figure, title)


def usage_svg(
    days: Sequence[dt.date],
    values: Sequence[float | None],
    *,
    forecast_days: Sequence[dt.date] = (),
    forecast: Sequence[float | None] = (),
    lower: Sequence[float | None] = (),
    upper: Sequence[float | None] = (),
    title: str = "Usage",
    unit: str = "events per day",
) -> str:
    """Observed usage, and when given the forecast line with its uncertainty band up to the horizon."""
    with _LOCK, rc_context(_RC):
        figure = _figure()
        axes = figure.subplots()
        if days:
            axes.plot(list(days), _finite(values), color=ACCENT, linewidth=1.2, label="observed")
        if forecast_days:
            if lower and upper:
                axes.fill_between(
                    list(forecast_days),
                    _finite(lower),
                    _finite(upper),
                    color=ACCENT,
                    alpha=0.18,
                    linewidth=0,
                    label="forecast interval",
                )
            if forecast:
                axes.plot(
                    list(forecast_days), _finite(forecast), color=INK, linestyle="--", linewidth=1.2, label="forecast"
                )
        if days or forecast_days:
            _date_axis(axes)
            axes.legend(loc="upper left", frameon=False, fontsize=8)
        axes.set_ylim(bottom=0)
        axes.set_ylabel(unit)
        axes.set_title(title, loc="left", color=INK)
        _style(axes)
        return _to_svg(figure, title)


def calibration_svg(
    predicted: Sequence[float | None],
    observed: Sequence[float | None],
    *,
    counts: Sequence[int] | None = None,
    title: str = "Calibration",
) -> str:
    """Mean predicted probability against the observed rate per bin; a calibrated model sits on the diagonal."""
    with _LOCK, rc_context(_RC):
        figure = _figure(height=3.4, width=4.2)
        axes = figure.subplots()
        axes.plot([0, 1], [0, 1], color=MUTED, linestyle=":", linewidth=1, label="perfect calibration")
        points = [
            (p, o, counts[i] if counts else None)
            for i, (p, o) in enumerate(zip(_finite(predicted), _finite(observed), strict=True))
            if math.isfinite(p) and math.isfinite(o)
        ]
        if points:
            sizes = [12 + 60 * math.sqrt((n or 1) / max(c or 1 for *_, c in points)) for *_, n in points]
            axes.plot([p for p, *_ in points], [o for _, o, _ in points], color=ACCENT, linewidth=1.2)
            axes.scatter([p for p, *_ in points], [o for _, o, _ in points], s=sizes, color=ACCENT, label="model")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_xlabel("predicted churn probability")
        axes.set_ylabel("observed churn rate")
        axes.set_title(title, loc="left", color=INK)
        axes.legend(loc="upper left", frameon=False, fontsize=8)
        _style(axes)
        return _to_svg(figure, title)


def quadrant_svg(
    arr: Sequence[float],
    scores: Sequence[float | None],
    quadrants: Sequence[str],
    *,
    names: Sequence[str] = (),
    labelled: int = 8,
    title: str = "Value x risk",
) -> str:
    """Each account at (health score, ARR on a log axis), coloured by its quadrant; the largest at-risk
    accounts are labelled by name."""
    with _LOCK, rc_context(_RC):
        figure = _figure(height=3.8)
        axes = figure.subplots()
        rows = [
            (float(a), math.nan if s is None else float(s), q)
            for a, s, q in zip(arr, scores, quadrants, strict=True)
            if a and a > 0
        ]
        for quadrant, colour in QUADRANT_COLOURS.items():
            chosen = [(a, s) for a, s, q in rows if q == quadrant]
            if chosen:
                axes.scatter(
                    [s for _, s in chosen],
                    [a for a, _ in chosen],
                    s=14,
                    color=colour,
                    alpha=0.75,
                    linewidth=0,
                    label=quadrant.replace("_", " "),
                )
        if names:
            at_risk = sorted(
                (
                    (float(a), float(s), str(n))
                    for a, s, q, n in zip(arr, scores, quadrants, names, strict=True)
                    if q.endswith("at_risk") and s is not None and a and a > 0
                ),
                reverse=True,
            )[:labelled]
            for a, s, n in at_risk:
                axes.annotate(n[:40], (s, a), xytext=(4, 3), textcoords="offset points", fontsize=7, color=INK)
        if rows:
            axes.set_yscale("log")
            axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _money(value)))
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        axes.set_xlim(0, 100)
        axes.set_xlabel("health score (0-100)")
        axes.set_ylabel("ARR (log scale)")
        axes.set_title(title, loc="left", color=INK)
        _style(axes)
        return _to_svg(figure, title)


def _money(value: float) -> str:
    if value >= 1_000_000:
        return f"${value / 1_000_000:g}M"
    if value >= 1_000:
        return f"${value / 1_000:g}k"
    return f"${value:g}"
