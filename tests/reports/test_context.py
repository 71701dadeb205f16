"""The pure report context: period parsing, the audience rule by construction, and too little data."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from reports.context import (
    AccountRecord,
    ChurnRecord,
    HealthRecord,
    InternalReportContext,
    ReportContext,
    ReportData,
    ReportInputError,
    build_context,
    check_kind,
    parse_period,
)

RISK_FIELDS = {"outlook", "health_reasons", "health_summary", "internal_notes"}


@pytest.mark.parametrize(
    ("text", "start", "end", "title"),
    [
        ("2026-10", dt.date(2026, 10, 1), dt.date(2026, 11, 1), "October 2026"),
        ("2026-12", dt.date(2026, 12, 1), dt.date(2027, 1, 1), "December 2026"),
        ("2026-Q3", dt.date(2026, 7, 1), dt.date(2026, 10, 1), "Q3 2026 (July to September)"),
        ("2026-q4", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026 (October to December)"),
    ],
)
def test_periods_parse(text, start, end, title):
    period = parse_period(text)
    assert (period.start, period.end, period.title) == (start, end, title)


def test_previous_period_crosses_the_year():
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "the month must be 01 to 12"),
        ("2026-00", "the month must be 01 to 12"),
        ("2026-Q5", "the quarter must be Q1 to Q4"),
        ("October", "use a month like 2026-10 or a quarter like 2026-Q3"),
        ("", "is not a period"),
        ("2026-10-01", "is not a period"),
        ("1899-12", "the year must be 1900 to 9998"),
        # found while pointing the fuzzer at the reports route: the period ended in year 10000, a 500
        ("9999-12", "the year must be 1900 to 9998"),
        ("9999-Q4", "the year must be 1900 to 9998"),
    ],
)
def test_bad_periods_say_what_is_wrong(text, message):
    with pytest.raises(ReportInputError, match="period: ") as error:
        parse_period(text)
    assert message in str(error.value)


def test_kind_must_match_the_period():
    with pytest.raises(ReportInputError, match="a QBR needs a quarter"):
        check_kind("qbr", parse_period("2026-10"))
    with pytest.raises(ReportInputError, match="kind: 'weekly' is not one of monthly, qbr"):
        check_kind("weekly", parse_period("2026-10"))


def _data() -> ReportData:
    return ReportData(
        account=AccountRecord("a-1", "Acme", "smb", "csm@cs.example", "growth"),
        health_now=HealthRecord(dt.date(2026, 11, 1), 71.4, "green", summary="why", reasons=("reason",)),
        user_usage=pd.DataFrame(
            {"bucket": ["current", "previous"], "event": ["login", "login"], "user_id": ["u", "u"], "events": [3, 2]}
        ),
        churn=ChurnRecord(dt.date(2026, 11, 1), 0.1, 0.2, 0.3, None, 1000.0, 300.0, ("near renewal",)),
    )


def test_the_client_context_has_no_risk_fields_at_all():
    period = parse_period("2026-10")
    client = build_context(_data(), period, kind="monthly", audience="client", generated_on=dt.date(2026, 11, 2))
    internal = build_context(_data(), period, kind="monthly", audience="internal", generated_on=dt.date(2026, 11, 2))
    assert type(client) is ReportContext
    assert not RISK_FIELDS & {item.name for item in dataclasses.fields(client)}
    assert isinstance(internal, InternalReportContext)
    assert internal.outlook is not None
    assert internal.outlook.arr_at_risk == 300.0
    assert client.health.score_text == "71"
    assert (client.value.events, client.value.previous_events, client.value.events_change) == (3, 2, 0.5)


def test_an_account_without_data_gets_notes_instead_of_charts():
    report = build_context(
        ReportData(account=AccountRecord("a-2")),
        parse_period("2026-10"),
        kind="monthly",
        audience="client",
        generated_on=dt.date(2026, 11, 2),
    )
    assert report.account.name == "a-2"
    assert not report.enough_data
    assert not report.usage.enough_data
    assert not report.health.enough_history
    assert any(note.startswith("Not enough data") for note in report.notes)
