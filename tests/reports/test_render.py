"""HTML and PDF rendering: escaping, the running header and footer, and no risk figures in the client copy."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from pypdf import PdfReader

from reports.context import AccountRecord, ChurnRecord, HealthRecord, ReportData, build_context, parse_period
from reports.render import render_charts, render_html, render_pdf

pytestmark = pytest.mark.usefixtures("needs_pdf")

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def data() -> ReportData:
    days = pd.date_range("2026-05-01", "2026-10-31").date
    return ReportData(
        account=AccountRecord("a-1", SCRIPT, "smb", "csm@cs.example", "growth"),
        health_now=HealthRecord(dt.date(2026, 11, 1), 64.6, "yellow"),
        health=pd.DataFrame(
            {"as_of": [dt.date(2026, 9, 1), dt.date(2026, 11, 1)], "score": [50.0, 64.6], "band": "yellow"}
        ),
        daily_usage=pd.DataFrame({"day": days, "event": "login", "events": 4}),
        user_usage=pd.DataFrame(
            {"bucket": ["current", "previous"], "event": ["login", "login"], "user_id": ["u", "u"], "events": [9, 4]}
        ),
        churn=ChurnRecord(dt.date(2026, 11, 1), 0.12, 0.25, 0.31, None, 12_000.0, 3_720.0, ("near renewal",)),
    )


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_markup_in_names_is_text_in_html_and_pdf(data):
    for audience in ("client", "internal"):
        report = build_context(
            data, parse_period("2026-10"), kind="monthly", audience=audience, generated_on=dt.date(2026, 11, 2)
        )
        html = render_html(report)
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        pages = _pages(render_pdf(html))
        assert len(pages) >= 2
        for number, text in enumerate(pages, start=1):
            assert SCRIPT in text  # the literal name, in the running header of every page
            assert "October 2026" in text
            assert f"Page {number} of {len(pages)}" in text
        whole = "\n".join(pages)
        assert "Health score 65 out of 100" in whole
        if audience == "client":
            for word in ("churn", "Churn", "ARR at risk", "probability", "31%", "3,720"):
                assert word not in whole
                assert word not in html
        else:
            assert "ARR AT RISK" in whole.upper()
            assert "$3,720" in whole
            assert "31%" in whole


def test_too_little_data_renders_a_note_and_no_chart():
    report = build_context(
        ReportData(account=AccountRecord("empty", "Empty Co")),
        parse_period("2026-Q3"),
        kind="qbr",
        audience="client",
        generated_on=dt.date(2026, 10, 2),
    )
    charts = render_charts(report)
    assert (charts.health, charts.usage, charts.adoption) == (None, None, None)
    html = render_html(report, charts)
    assert "<svg" not in html
    assert "Not enough data: no product usage was recorded in Q3 2026" in html
    text = "\n".join(_pages(render_pdf(html)))
    assert "Not enough usage data to chart a trend" in text
