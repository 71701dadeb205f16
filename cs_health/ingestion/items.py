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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.contract import KINDS, MAX_QUANTITY
from cs_health.ingestion.readers import json_records_table
from cs_health.ingestion.rejects import Reject
from cs_health.ingestion.validation import FUTURE_TOLERANCE, canonical_json, validate

EVENTS = KINDS["events"]
FIELDS = frozenset(EVENTS.field_names)
LIMITS = {spec.name: spec.max_length for spec in EVENTS.fields}
# The shape SDKs send: date, time to the minute, second or microsecond, then Z, an offset or nothing.
PLAIN_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?(Z|[+-]\d\d:\d\d)?")
UTC_ZONES = frozenset((None, "Z", "+00:00", "-00:00"))
EARLIEST = "1900"  # older timestamps are unusual enough to take the validator's path
ACCOUNT_LIMIT, EVENT_LIMIT, USER_LIMIT, MESSAGE_LIMIT = (
    LIMITS[name] for name in ("account_id", "event", "user_id", "message_id")
)
UTC = dt.UTC
from_iso = dt.datetime.fromisoformat


class NotPlain(Exception):
    """Raised by the field readers below: the item needs the vectorised validator."""


@dataclass(frozen=True)
class EventBatch:
    """One request's events after validation: the good ones typed (with their 0-based index in the request,
    in request order), the others as rejects with index, field and reason."""

    size: int
    events: EventColumns
    locations: np.ndarray
    rejects: list[Reject]


def _text(value: Any, limit: int) -> str:
    """Stripped text within `limit` characters; anything else (blank, too long, holding a NUL, not a string) is
    not plain."""
    if type(value) is str:
        text = value.strip()
        if text and len(text) <= limit and "\x00" not in text:
            return text
    raise NotPlain


def _optional_text(value: Any, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


def _timestamp(value: Any, latest: str) -> str:
    """Naive-UTC text (DATETIME_FORMAT) of a plainly shaped, real, not-future timestamp. A UTC timestamp's
    text is put together from its own digits (datetime.isoformat costs more than the rest of an item)."""
    match = PLAIN_TIMESTAMP.fullmatch(value) if type(value) is str else None
    if match is None:
        raise NotPlain
    try:
        moment = from_iso(value)  # does that day and time exist?
    except ValueError:
        raise NotPlain from None
    day, minutes, seconds, fraction, zone = match.groups()
    if zone in UTC_ZONES:
        text = f"{day} {minutes}:{seconds or '00'}.{(fraction or '').ljust(6, '0')}"
    else:
        text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if EARLIEST <= text <= latest:
        return text
    raise NotPlain


def _quantity(value: Any) -> float:
    if value is None:
        return 1.0
    kind = type(value)
    if (kind is int or kind is float) and 0 <= value <= MAX_QUANTITY:  # whole ones this small are exact floats
        return float(value)
    raise NotPlain


def _properties(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is dict:
        text = canonical_json(value)
        if "\\u0000" not in text:  # a NUL anywhere inside is the vectorised validator's to reject
            return text
    raise NotPlain


def plain_event(item: Any, latest: str) -> tuple[Any, ...] | None:
    """The typed row (EventColumns.from_rows order) of an item that is plainly valid, else None.
    `latest` is the newest acceptable timestamp as naive-UTC text."""
    if type(item) is not dict or not item.keys() <= FIELDS:
        return None
    get = item.get
    try:
        return (
            _text(get("account_id"), ACCOUNT_LIMIT),
            _text(get("event"), EVENT_LIMIT),
            _timestamp(get("timestamp"), latest),
            _optional_text(get("user_id"), USER_LIMIT),
            _quantity(get("quantity")),
            _optional_text(get("message_id"), MESSAGE_LIMIT),
            _properties(get("properties")),
        )
    except NotPlain:
        return None


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
