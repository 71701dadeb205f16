"""Report-only charts as inline SVG (the shared health and usage charts live in reports/charts.py).

Pure: plain sequences in, an `<svg>` element out. Text stays text (escaped by matplotlib), so a feature or
account called `<script>` renders inert.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from matplotlib import rc_context
from matplotlib.figure import Figure

from reports.charts import _LOCK  # one lock for matplotlib's global state (charts.py also selects Agg)

INK, MUTED, ACCENT, PALE = "#1f2933", "#52606d", "#2f6fb0", "#a9c4e4"
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "cs-health-report",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "xtick.color": MUTED,
    "ytick.color": INK,
}


def feature_bars_svg(
    features: Sequence[str],
    current: Sequence[float],
    previous: Sequence[float],
    *,
    current_label: str,
    previous_label: str,
    title: str = "Events per feature",
    unit: str = "events",
) -> str:
    """Horizontal bars of events per feature in this period against the one before, busiest at the top."""
    count = max(len(features), 1)
    with _LOCK, rc_context(_RC):
        figure = Figure(figsize=(7.2, 0.9 + 0.32 * count), dpi=100)
        figure.patch.set_alpha(0)
        axes = figure.subplots()
        positions = list(range(len(features)))[::-1]
        height = 0.38
        axes.barh([p + height / 2 for p in positions], list(current), height=height, color=ACCENT, label=current_label)
        axes.barh([p - height / 2 for p in positions], list(previous), height=height, color=PALE, label=previous_label)
        axes.set_yticks(positions, [str(name) for name in features])
        axes.set_xlabel(unit)
        axes.set_xlim(left=0)
        axes.set_title(title, loc="left", color=INK)
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="x", color="#d9e2ec", linewidth=0.6)
        axes.set_axisbelow(True)
        if features:
            axes.legend(loc="lower right", frameon=False, fontsize=8)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    return svg.replace("<svg ", f'<svg role="img" aria-label={quoteattr(title)} class="chart" ', 1)
