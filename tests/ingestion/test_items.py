"""An HTTP request's events are accepted, typed and reported exactly as the same records in a JSON Lines file.

The lean per-item driver (items.validate_items) must agree with the file path (read_table + the vectorised
validator) on random mixes of good and bad items: the same accepted events with the same typed values, and the
same field and reason for every rejected one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.items import plain_event, validate_items
from cs_health.ingestion.readers import read_table
from cs_health.ingestion.validation import validate
from tests.factories import write_records

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
EVENTS = KINDS["events"]

odd_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2**70), st.floats(allow_nan=False, allow_infinity=False)
)
odd_values = st.one_of(odd_scalars, st.lists(st.integers(), max_size=2), st.just({"a": 1}))
texts = st.one_of(
    st.sampled_from(["acc-1", "login", "u-1", "Café", " padded ", "", "   ", "\u2003x\u00a0", "x" * 129, "y" * 256]),
    st.text(max_size=6),
    odd_values,
)
moments = st.datetimes(dt.datetime(1850, 1, 1), dt.datetime(2026, 11, 26)).map(lambda moment: moment.isoformat())
timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-23T10:00:00.123Z",
            "2026-11-23 10:00:00",
            "2026-11-23T10:00",
            "2026-11-23T10:00:00+01:00",
            "2026-11-23T10:00:00.5Z",
            "2026-11-23 10:00:00.12-00:00",
            "2026-11-23T10:00:00.1234567Z",
            "2026-11-24T12:00:00Z",  # exactly a day ahead: still accepted
            "2026-11-24T12:00:00.000001Z",  # a microsecond more: refused
            "2026-02-30T10:00:00Z",
            "2026-13-01",
            "2026-11-23",
            "20261123T100000",
            "2026-11-23T24:00:00",
            " 2026-11-23T10:00:00Z ",
            "yesterday",
            "",
        ]
    ),
    moments,
    st.tuples(moments, st.sampled_from(["Z", "+05:30", "-11:00", "+00:00", "-00:00", "+2359"])).map("".join),
    odd_values,
)
quantities = st.one_of(
    st.sampled_from([1, 0, -1, 2.5, -0.0, 2**53, 2**53 + 1, "3", " 4 ", "abc", "", True]), odd_scalars
)
properties = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=3), st.one_of(odd_scalars, st.text(max_size=3)), max_size=3),
    st.sampled_from(['{"plan": "pro"}', "[1, 2]", "not json", "", {"nested": {"b": [1, {"c": None}]}}]),
    odd_values,
)
FIELDS = {
    "account_id": texts,
    "event": texts,
    "timestamp": timestamps,
    "user_id": texts,
    "quantity": quantities,
    "message_id": texts,
    "properties": properties,
    "browser": texts,  # not a contract field: kept in properties
}
GOOD = {"account_id": "acc-1", "event": "login", "timestamp": "2026-11-23T10:00:00Z"}


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly good events with a few fields changed, missing or added."""
    item = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        if draw(st.booleans()) and name in item:
            del item[name]
        else:
            item[name] = draw(FIELDS[name])
    return item


def through_a_file(records: list[dict[str, Any]], folder: Path) -> tuple[EventColumns, list[int], list[tuple]]:
    """The file path: JSON Lines read and validated; locations turned into 0-based indexes."""
    raw = read_table(write_records(folder / "events.jsonl", records))
    valid = validate(raw, EVENTS, now=NOW)
    rejects = [(reject.location - 1, reject.field, reject.reason) for reject in valid.rejects]
    return EventColumns.from_frame(valid.frame), (valid.locations - 1).tolist(), rejects


def same_columns(left: EventColumns, right: EventColumns) -> bool:
    return all(np.array_equal(getattr(left, name.name), getattr(right, name.name)) for name in dataclasses.fields(left))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(items(), min_size=1, max_size=12))
@example(records=[dict(GOOD, quantity=2.5), dict(GOOD, quantity=-1)])  # a neighbour's type never changes a message
def test_http_items_agree_with_the_file_path(records: list[dict[str, Any]], tmp_path: Path) -> None:
    records = [*records, GOOD]  # a file without some required column is refused whole; a request has no columns
    expected_events, expected_locations, expected_rejects = through_a_file(records, tmp_path)
    batch = validate_items(records, NOW)
    assert [(reject.location, reject.field, reject.reason) for reject in batch.rejects] == expected_rejects
    assert batch.locations.tolist() == expected_locations
    assert same_columns(batch.events, expected_events)


@pytest.mark.parametrize(
    "item",
    [
        dict(GOOD, user_id="u-1", quantity=3, message_id="m-1", properties={"b": 1, "a": [2]}),
        dict(GOOD, timestamp="2026-11-23T11:00:00.5+01:00"),
        dict(GOOD, account_id="  acc-1 "),
    ],
)
def test_plain_events_take_the_fast_path(item: dict[str, Any]) -> None:
    """Ordinary events never reach the vectorised validator (the point of the lean driver)."""
    assert plain_event(item, "2026-11-24 12:00:00.000000") is not None


@pytest.mark.parametrize(
    "item",
    [
        dict(GOOD, browser="firefox"),
        dict(GOOD, quantity="3"),
        dict(GOOD, timestamp="2026-11-23T10:00:00.1234567Z"),
        dict(GOOD, timestamp="2026-11-24T12:00:00.000001Z"),
        dict(GOOD, user_id=""),
        {"event": "login", "timestamp": "2026-11-23T10:00:00Z"},
    ],
)
def test_anything_unusual_takes_the_validators_path(item: dict[str, Any]) -> None:
    assert plain_event(item, "2026-11-24 12:00:00.000000") is None
