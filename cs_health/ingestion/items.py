"""Validation of the events of an HTTP request: a lean per-item driver in front of the vectorised validator.

A request carries a few hundred parsed JSON objects, and putting them in a DataFrame cost more than everything
else the request does. Most items are plainly valid: the declared JSON types, clean text within its length, a
timestamp in the common ISO 8601 shape, not in the future. `plain_event` recognises those and types them in
plain Python; every other item goes, with its index, to `validation.validate`, the one place the contract's
rules and messages live. An item is therefore accepted, typed and reported exactly as a file record would be
(tests/ingestion/test_items.py checks the two paths agree on random good and bad items), and the fast path
holds no error message of its own.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.readers import json_records_table
from cs_health.ingestion.rejects import Reject
from cs_health.ingestion.validation import FUTURE_TOLERANCE, canonical_json, validate

EVENTS = KINDS["events"]
FIELDS = frozenset(EVENTS.field_names)
LIMITS = {spec.name: spec.max_length for spec in EVENTS.fields}
# The shape SDKs send: date, time to the minute, second or microsecond, then Z, an offset or nothing.
PLAIN_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d:\d\d)?")
EARLIEST = "1900"  # older timestamps are unusual enough to take the validator's path
LARGEST_EXACT = 2**53  # whole quantities up to here are exactly the same float however they are converted
NOT_PLAIN = object()


@dataclass(frozen=True)
class EventBatch:
    """One request's events after validation: the good ones typed (with their 0-based index in the request,
    in request order), the others as rejects with index, field and reason."""

    size: int
    events: EventColumns
    locations: np.ndarray
    rejects: list[Reject]


def _text(value: Any, field: str) -> Any:
    """Stripped text within the field's length; NOT_PLAIN for anything else (blank, too long, not a string)."""
    if type(value) is not str:
        return NOT_PLAIN
    text = value.strip()
    return text if text and len(text) <= LIMITS[field] else NOT_PLAIN


def _optional_text(value: Any, field: str) -> Any:
    return None if value is None else _text(value, field)


def _timestamp(value: Any, latest: str) -> Any:
    """Naive-UTC text (DATETIME_FORMAT) of a plainly shaped, real, not-future timestamp; else NOT_PLAIN."""
    if type(value) is not str or PLAIN_TIMESTAMP.fullmatch(value) is None:
        return NOT_PLAIN
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:  # a day or time that does not exist
        return NOT_PLAIN
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    text = moment.isoformat(" ", "microseconds")
    return text if EARLIEST <= text <= latest else NOT_PLAIN


def _quantity(value: Any) -> Any:
    if value is None:
        return 1.0
    if type(value) is int and 0 <= value <= LARGEST_EXACT:
        return float(value)
    if type(value) is float and 0 <= value < math.inf:
        return value
    return NOT_PLAIN


def _properties(value: Any) -> Any:
    if value is None:
        return None
    return canonical_json(value) if type(value) is dict else NOT_PLAIN


def plain_event(item: Any, latest: str) -> tuple[Any, ...] | None:
    """The typed row (EventColumns.from_rows order) of an item that is plainly valid, else None.
    `latest` is the newest acceptable timestamp as naive-UTC text."""
    if type(item) is not dict or not item.keys() <= FIELDS:
        return None
    get = item.get
    row = (
        _text(get("account_id"), "account_id"),
        _text(get("event"), "event"),
        _timestamp(get("timestamp"), latest),
        _optional_text(get("user_id"), "user_id"),
        _quantity(get("quantity")),
        _optional_text(get("message_id"), "message_id"),
        _properties(get("properties")),
    )
    return None if NOT_PLAIN in row else row


def latest_timestamp(now: dt.datetime) -> str:
    """The newest timestamp the validator accepts at `now` (see validation._event_rules), as naive-UTC text."""
    return (now.replace(tzinfo=None) + FUTURE_TOLERANCE).isoformat(" ", "microseconds")


def validate_items(items: Sequence[Any], now: dt.datetime, locations: Sequence[int] | None = None) -> EventBatch:
    """Validates a request's list of events; `locations` names each item (default: its index in `items`)."""
    where = range(len(items)) if locations is None else locations
    latest = latest_timestamp(now)
    rows, row_locations, others, other_locations, rejects = [], [], [], [], []
    for location, item in zip(where, items, strict=True):
        row = plain_event(item, latest)
        if row is not None:
            rows.append(row)
            row_locations.append(location)
        elif isinstance(item, dict):
            others.append(item)
            other_locations.append(location)
        else:
            rejects.append(Reject(location, "event", "not a JSON object"))
    events, good = EventColumns.from_rows(rows), np.asarray(row_locations, dtype=np.int64)
    if others:
        valid = validate(json_records_table(others, other_locations, EVENTS.field_names), EVENTS, now=now)
        order = np.argsort(np.concatenate([good, valid.locations]), kind="stable")
        events = EventColumns.concat([events, EventColumns.from_frame(valid.frame)]).take(order)
        good = np.concatenate([good, valid.locations])[order]
        rejects = sorted([*rejects, *valid.rejects], key=lambda reject: reject.location)
    return EventBatch(len(items), events, good, rejects)
