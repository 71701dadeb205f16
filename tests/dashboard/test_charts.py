"""reports.charts: valid, self-contained SVG with escaped text, for every chart and for empty input."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from reports import charts

DAYS = [dt.date(2026, 1, 1) + dt.timedelta(days=7 * i) for i in range(12)]
NAME = "<script>alert('x')</script> & Co"


def parsed(svg: str) -> ET.Element:
    assert svg.startswith("<svg")
    assert 'role="img"' in svg
    return ET.fromstring(svg)


def texts(svg: str) -> str:
    return " ".join(element.text or "" for element in parsed(svg).iter() if element.tag.endswith("text"))


def test_health_history_names_the_bands_and_escapes_the_title():
    svg = charts.health_history_svg(DAYS, [80, 75, None, 60, 55, 50, 45, 38, 35, 30, 41, 44], title=NAME)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert parsed(svg).get("aria-label") == NAME
    words = texts(svg)
    assert all(band in words for band in ("red", "yellow", "green"))
    assert "score (0-100)" in words


def test_usage_with_and_without_a_forecast_band():
    alone = charts.usage_svg(DAYS, list(range(12)), title="Usage")
    future = [DAYS[-1] + dt.timedelta(days=7 * i) for i in range(1, 6)]
    banded = charts.usage_svg(
        DAYS, list(range(12)), forecast_days=future, forecast=[12] * 5, lower=[8] * 5, upper=[16] * 5, title="Usage"
    )
    assert "forecast" not in texts(alone)
    assert "events per day" in texts(alone)
    assert "forecast interval" in texts(banded)
    assert len(banded) > len(alone)


def test_calibration_skips_empty_bins_and_labels_axes_in_percent():
    svg = charts.calibration_svg([0.05, 0.15, None, 0.9], [0.04, 0.2, None, float("nan")], counts=[50, 20, 0, 1])
    words = texts(svg)
    assert "predicted churn probability" in words
    assert "observed churn rate" in words
    assert "%" in words


def test_quadrant_scatter_escapes_account_names():
    svg = charts.quadrant_svg(
        [200_000, 10_000, 5_000, 0],
        [20, 90, 35, None],
        ["high_value_at_risk", "high_value_healthy", "low_value_at_risk", "low_value_healthy"],
        names=[NAME, "Calm Co", "Small & Sad", "Zero"],
    )
    assert "&lt;script&gt;" in svg
    assert "<script" not in svg
    assert NAME in texts(svg)
    assert "Small & Sad" in texts(svg)
    assert "Calm Co" not in texts(svg)


def test_empty_inputs_still_render():
    for svg in (
        charts.health_history_svg([], []),
        charts.usage_svg([], []),
        charts.calibration_svg([], []),
        charts.quadrant_svg([], [], []),
    ):
        parsed(svg)


def test_the_same_data_renders_the_same_bytes():
    assert charts.health_history_svg(DAYS, list(range(12))) == charts.health_history_svg(DAYS, list(range(12)))
