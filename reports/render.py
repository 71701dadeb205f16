"""HTML and PDF of a report context: one Jinja2 environment (autoescape on), inline CSS and inline SVG charts, and
the PDF printed from that same HTML by WeasyPrint.

Pure: a context in, text or bytes out. Every value reaches the page through autoescaping (charts are escaped by
matplotlib), so an account called `<script>alert(1)</script>` prints as that text.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reports import charts
from reports.context import ReportContext
from reports.report_charts import feature_bars_svg

MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
ADOPTION_FEATURES = 10  # bars in the adoption chart


@dataclass(frozen=True)
class ReportCharts:
    """The inline SVGs of one report (None where there is too little data); the same for both audiences."""

    health: Markup | None
    usage: Markup | None
    adoption: Markup | None


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _change(value: float | None) -> Markup:
    if value is None or not math.isfinite(value):
        return Markup('<span class="flat">n/a</span>')
    css = "up" if value > 0.005 else "down" if value < -0.005 else "flat"
    return Markup('<span class="{}">{:+.0f}%</span>').format(css, 100 * value)


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f}"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} points"


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def _hours(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def _day(value: dt.date | None) -> str:
    return "n/a" if value is None else f"{value:%d %b %Y}"


def _month(value: dt.date) -> str:
    return f"{value:%B %Y}"


@cache
def environment() -> Environment:
    """The package's one Jinja2 environment: autoescape on, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=_number,
        percent=_percent,
        change=_change,
        signed=_signed,
        points=_points,
        money=_money,
        hours=_hours,
        day=_day,
        month=_month,
    )
    return env


@cache
def _css() -> Markup:
    # Our own stylesheet, inlined as is (it holds no user data).
    return Markup(resources.files("reports").joinpath("templates/report.css").read_text(encoding="utf-8"))


def render_charts(report: ReportContext) -> ReportCharts:
    """The report's charts; sections with too little data get None (the template says so in words)."""
    name = report.account.name
    health = usage = adoption = None
    if report.health.enough_history:
        points = report.health.history
        health = charts.health_history_svg(
            [point.as_of for point in points], [point.score for point in points], title=f"Health score of {name}"
        )
    if report.usage.enough_data:
        band = report.usage.forecast
        usage = charts.usage_svg(
            report.usage.days,
            report.usage.events,
            forecast_days=band.days if band else (),
            forecast=band.expected if band else (),
            lower=band.lower if band else (),
            upper=band.upper if band else (),
            title=f"Usage of {name}" + (" with forecast" if band else ""),
            unit="events per day (weekly mean)",
        )
    shown = [*report.adoption.key_features, *report.adoption.other_features][:ADOPTION_FEATURES]
    if any(feature.events or feature.previous_events for feature in shown):
        adoption = feature_bars_svg(
            [feature.feature for feature in shown],
            [feature.events for feature in shown],
            [feature.previous_events for feature in shown],
            current_label=report.period.title,
            previous_label=report.previous.title,
            title="Events per feature",
            unit=f"events in the {report.period.granularity}",
        )
    return ReportCharts(*(Markup(svg) if svg else None for svg in (health, usage, adoption)))


def render_html(report: ReportContext, report_charts: ReportCharts | None = None, *, for_print: bool = False) -> str:
    """The self-contained HTML report (inline CSS and SVG, no external resources). `for_print` embeds each SVG as a
    data-URI image instead: the same picture, but WeasyPrint lays it out about a third faster than inline SVG."""
    drawn = report_charts if report_charts is not None else render_charts(report)
    if for_print:
        drawn = ReportCharts(*(_as_image(svg) for svg in (drawn.health, drawn.usage, drawn.adoption)))
    return environment().get_template("report.html").render(report=report, charts=drawn, css=_css())


def _as_image(svg: Markup | None) -> Markup | None:
    if svg is None:
        return None
    data = base64.b64encode(str(svg).encode("utf-8")).decode("ascii")
    return Markup('<img class="chart" alt="chart" src="data:image/svg+xml;base64,{}">').format(data)


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load the system libraries it draws with (HTML reports still work)."""


def render_pdf(html: str) -> bytes:
    """The A4 PDF of a rendered report (running header with account and period, "Page N of M" footer)."""
    try:
        from weasyprint import HTML  # heavy import, only where PDFs are made
    except OSError as error:  # Pango / HarfBuzz missing from the machine
        raise PdfUnavailable(
            "PDF reports need Pango: apt-get install libpango-1.0-0 libpangoft2-1.0-0 (HTML reports work without it)"
        ) from error

    return HTML(string=html).write_pdf()


def render(report: ReportContext, fmt: str, report_charts: ReportCharts | None = None) -> bytes:
    """The report in `fmt` ("html" or "pdf") as bytes, ready to archive or serve."""
    if fmt == "pdf":
        return render_pdf(render_html(report, report_charts, for_print=True))
    return render_html(report, report_charts).encode("utf-8")


def render_email(report: ReportContext, **extra: Any) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the e-mail a report goes out with."""
    env = environment()
    subject = f"{report.account.name}: {report.title.lower()} for {report.period.title}"
    if report.audience == "internal":
        subject += " (with internal copy)"
    text = env.get_template("mail.txt").render(report=report, **extra)
    html = env.get_template("mail.html").render(report=report, **extra)
    return subject, text, html
