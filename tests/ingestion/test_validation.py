"""Validation against the data contract: each broken rule is reported with its field and reason."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cs_health.exceptions import InvalidInput
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.readers import RawTable
from cs_health.ingestion.validation import validate

NOW = dt.datetime(2026, 11, 23, 12, 0)


def raw(records: list[dict[str, object]]) -> RawTable:
    frame = pd.DataFrame(records, dtype=object)
    return RawTable(frame, np.arange(2, len(records) + 2, dtype=np.int64), "line")


def problems(kind: str, records: list[dict[str, object]], **kwargs: object) -> list[tuple[int, str, str]]:
    result = validate(raw(records), KINDS[kind], now=NOW, **kwargs)
    return [(reject.location, reject.field, reject.reason) for reject in result.rejects]


def event(**changes: object) -> dict[str, object]:
    return {"account_id": "a", "event": "login", "timestamp": "2026-01-01T00:00:00Z", **changes}


def test_malformed_timestamp_is_rejected_with_the_value():
    assert problems("events", [event(), event(timestamp="2026-02-30T10:00:00Z")]) == [
        (3, "timestamp", "not an ISO 8601 timestamp: '2026-02-30T10:00:00Z'")
    ]


def test_missing_required_field_is_rejected():
    assert problems("events", [event(event="  ")]) == [(2, "event", "is required but empty")]


def test_wrong_types_are_rejected():
    found = problems("tickets", [{"ticket_id": "t", "account_id": "a", "opened_at": "2026-01-01", "csat": "great"}])
    assert found == [(2, "csat", "not a whole number: 'great'")]
    assert problems("nps", [{"account_id": "a", "responded_at": "2026-01-01", "score": "11"}]) == [
        (2, "score", "must be at most 10 (got '11')")
    ]
    assert problems("events", [event(quantity="-1")])[0][1:] == ("quantity", "must be at least 0 (got '-1')")


def test_choice_and_email_fields_are_checked():
    found = problems("users", [{"user_id": "u", "account_id": "a", "role": "boss", "email": "nope"}])
    assert sorted(field for _, field, _ in found) == ["email", "role"]


def test_duplicate_ids_in_one_file_reject_the_later_record():
    records = [{"account_id": "a", "name": "One"}, {"account_id": "b"}, {"account_id": "a", "name": "Two"}]
    assert problems("accounts", records) == [(4, "account_id", "duplicate account_id 'a' (first at 2)")]


def test_unknown_accounts_are_rejected_for_dependent_kinds():
    found = problems("users", [{"user_id": "u", "account_id": "ghost"}], known_accounts={"a"})
    assert found == [(2, "account_id", "unknown account 'ghost'; import accounts first")]


def test_events_far_in_the_future_are_rejected_but_late_ones_are_not():
    found = problems("events", [event(timestamp="2026-11-25T13:00:00Z"), event(timestamp="2019-01-01")])
    assert found == [(2, "timestamp", "is more than a day in the future: '2026-11-25T13:00:00Z'")]


def test_missing_required_column_is_a_file_level_error():
    with pytest.raises(InvalidInput, match=r"required column.*timestamp"):
        validate(raw([{"account_id": "a", "event": "x"}]), KINDS["events"], now=NOW)


def test_subscription_money_and_order_rules():
    records = [
        {"account_id": "a", "start_date": "2026-01-01", "end_date": "2027-01-01", "mrr": "100"},
        {"account_id": "a", "start_date": "2026-01-01", "end_date": "2025-01-01", "mrr": "100"},
        {"account_id": "a", "start_date": "2026-02-01", "end_date": "2027-02-01", "mrr": "", "arr": ""},
    ]
    result = validate(raw(records), KINDS["subscriptions"], now=NOW)
    assert [(reject.location, reject.field) for reject in result.rejects] == [(3, "end_date"), (4, "mrr")]
    good = result.frame.iloc[0]
    assert (good["arr"], good["status"], good["subscription_id"]) == (1200.0, "active", "a:2026-01-01")


def test_event_extras_become_properties_and_other_kinds_ignore_them():
    events = validate(raw([event(browser="firefox", properties='{"plan": "pro"}')]), KINDS["events"], now=NOW)
    assert events.frame.loc[0, "properties"] == '{"browser":"firefox","plan":"pro"}'
    accounts = validate(raw([{"account_id": "a", "colour": "red"}]), KINDS["accounts"], now=NOW)
    assert accounts.ignored_columns == ["colour"]


def test_timestamps_with_offsets_are_stored_in_utc():
    result = validate(raw([event(timestamp="2026-01-05T11:00:00+01:00")]), KINDS["events"], now=NOW)
    assert result.frame.loc[0, "timestamp"] == pd.Timestamp("2026-01-05 10:00:00")


@given(st.lists(st.one_of(st.just("2026-01-01T00:00:00Z"), st.text(max_size=12)), min_size=1, max_size=30))
def test_every_record_is_either_accepted_or_rejected(timestamps: list[str]):
    records = [event(timestamp=value) for value in timestamps]
    result = validate(raw(records), KINDS["events"], now=NOW)
    rejected_lines = {reject.location for reject in result.rejects}
    assert len(result.frame) + len(rejected_lines) == len(records)
    assert rejected_lines.isdisjoint(result.locations.tolist())


TIMESTAMP_TEXTS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T10:00:00+01:00",
    "2026-01-01T00:00:00.123456Z",
    "2026-01-01 08:30:00-0230",
    "2026-01-01T00:00:00",
    "2026-01-02",
    " 2026-01-03T00:00:00Z ",
    "20260101T000000Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "soon",
]


@given(st.lists(st.sampled_from(TIMESTAMP_TEXTS), min_size=1, max_size=12))
def test_timestamps_read_as_they_do_value_by_value(timestamps: list[str]):
    """A column whose values all parse through Arrow's cast (all with a zone, or all without) is read by Arrow;
    the times, and the rejects when some value does not parse, are those of pandas reading each value alone."""
    result = validate(raw([event(timestamp=value) for value in timestamps]), KINDS["events"], now=NOW)
    one_by_one = [
        pd.to_datetime(pd.Series([value.strip()]), utc=True, errors="coerce", format="ISO8601")[0]
        for value in timestamps
    ]
    assert result.frame["timestamp"].tolist() == [stamp.tz_localize(None) for stamp in one_by_one if not pd.isna(stamp)]
    assert sorted(reject.location for reject in result.rejects) == [
        line for line, stamp in enumerate(one_by_one, start=2) if pd.isna(stamp)
    ]


NUMBER_TEXTS = ["1", " 2 ", "1.5", "1e3", "+3", ".5", "5.", "-0", "", "  ", "nan", "inf", "1e400", "-1", "1_000", "abc"]


@given(st.lists(st.one_of(st.sampled_from(NUMBER_TEXTS), st.text(alphabet="0123456789.e+- ", max_size=6)), max_size=20))
def test_a_files_text_numbers_read_as_they_do_value_by_value(quantities: list[str]):
    """CSV columns arrive as Arrow text and are parsed by Arrow when all of them parse; the result, and the
    rejects when some do not, are those of parsing each value on its own (the JSON path)."""
    records = [event(quantity=quantity) for quantity in quantities] + [event(quantity="1")]
    as_arrow = raw(records)
    as_arrow.frame = as_arrow.frame.astype("str")
    by_value = validate(raw(records), KINDS["events"], now=NOW)
    by_arrow = validate(as_arrow, KINDS["events"], now=NOW)
    assert by_arrow.frame["quantity"].tolist() == by_value.frame["quantity"].tolist()
    assert [(r.location, r.field, r.reason) for r in by_arrow.rejects] == [
        (r.location, r.field, r.reason) for r in by_value.rejects
    ]
