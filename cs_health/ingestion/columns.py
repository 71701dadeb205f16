"""Typed, valid events as plain columns: what the event store takes from every path (files, native API, Segment).

Plain columns rather than a DataFrame, so a 500-event HTTP request pays no per-call frame costs. A text column
is a numpy object array (an HTTP request's values, as parsed) or an Arrow string array (a file's, as read and
validated): a file's text then goes from the reader to the database without a Python object per value, which
cost a second and a half of a two-million-event import in conversions there and back. The helpers below serve
both. Timestamps are naive-UTC text in the database's own format (`DATETIME_FORMAT`), which sorts like time,
gives the day as its first ten characters, and is bound as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


Text = np.ndarray | pa.Array  # objects with None where absent, or Arrow strings with nulls


def as_numpy(values: Text | pa.ChunkedArray) -> np.ndarray:
    """A column as numpy: Arrow text as objects (None for null), numpy as it is."""
    return values if isinstance(values, np.ndarray) else values.to_numpy(zero_copy_only=False)


def as_arrow(values: Text, kind: pa.DataType | None = None) -> pa.Array:
    """A column as Arrow: numpy converted to `kind` (text by default), Arrow as it is."""
    return values if isinstance(values, pa.Array) else pa.array(values, type=kind or pa.string())


def take_values(values: Text, positions: np.ndarray) -> Text:
    """The values at `positions` (integer indexes or a boolean mask), in that order, as the same kind of column."""
    if isinstance(values, np.ndarray):
        return values[positions]
    return values.filter(positions) if positions.dtype == bool else values.take(positions)


def present(values: Text) -> np.ndarray:
    """Where a text column holds a value (not None, not null)."""
    if isinstance(values, np.ndarray):
        return np.not_equal(values, None)
    return values.is_valid().to_numpy(zero_copy_only=False)


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of `values` as they are (np.array would build a 2-d array from a list of tuples)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass(frozen=True)
class EventColumns:
    """One value per event in each column; text columns are `Text`, absent values None or null."""

    account_id: Text
    event: Text
    timestamp: Text  # DATETIME_FORMAT, naive UTC
    user_id: Text
    quantity: np.ndarray  # float64
    message_id: Text
    properties: Text  # canonical JSON text (validation.canonical_json) or None
    micros: np.ndarray  # int64 microseconds of `timestamp`, kept beside the text so that nothing parses it back

    def __len__(self) -> int:
        return len(self.quantity)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> Self:
        """From (account_id, event, timestamp, user_id, quantity, message_id, properties) tuples."""
        if not rows:
            return cls.empty()
        account_id, event, timestamp, user_id, quantity, message_id, properties = zip(*rows, strict=True)
        return cls(
            object_array(account_id),
            object_array(event),
            object_array(timestamp),
            object_array(user_id),
            np.asarray(quantity, dtype=np.float64),
            object_array(message_id),
            object_array(properties),
            np.array(timestamp, dtype="datetime64[us]").view(np.int64),
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Self:
        """From the vectorised validator's frame of events (timestamps as datetime64, text as Arrow strings)."""
        stamps = frame["timestamp"].to_numpy(dtype="datetime64[us]")
        return cls(
            _text(frame["account_id"]),
            _text(frame["event"]),
            timestamp_text(stamps),
            _text(frame["user_id"]),
            frame["quantity"].to_numpy(dtype=np.float64),
            _text(frame["message_id"]),
            _text(frame["properties"]),
            stamps.view(np.int64),
        )

    @classmethod
    def empty(cls) -> Self:
        return cls(*(np.empty(0, dtype=_EMPTY_TYPES.get(name, object)) for name in _NAMES))

    @classmethod
    def concat(cls, parts: Sequence[EventColumns]) -> Self:
        """The parts' events in one batch, text as objects (an HTTP request's mix of parsed and validated events)."""
        return cls(*(np.concatenate([as_numpy(getattr(part, name)) for part in parts]) for name in _NAMES))

    def take(self, positions: np.ndarray) -> Self:
        """The events at `positions` (integer indexes or a boolean mask), in that order."""
        return type(self)(*(take_values(getattr(self, name), positions) for name in _NAMES))

    def column(self, name: str) -> Text:
        return getattr(self, name)


def timestamp_text(values: np.ndarray) -> pa.Array:
    """DATETIME_FORMAT text of datetime64 values as Arrow strings, with no Python object per value."""
    return pc.cast(pa.array(values.astype("datetime64[us]")), pa.string())


def arrow_table(columns: Mapping[str, Text]) -> pa.Table:
    """Columns of events or of their rollup as an Arrow table (for ADBC and COPY): text as strings, None as null."""
    return pa.table({name: as_arrow(values, _ARROW_TYPES.get(name, pa.string())) for name, values in columns.items()})


_ARROW_TYPES = {"event_key": pa.int64(), "quantity": pa.float64(), "events": pa.int64()}


def _text(values: pd.Series) -> Text:
    """A validated text column: Arrow strings as they are (no copy), objects with None where absent."""
    if values.dtype == object:
        return values.to_numpy(dtype=object, na_value=None)
    array = pa.array(values)  # zero-copy: pandas holds them in Arrow, in one or more chunks
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


_NAMES = tuple(item.name for item in fields(EventColumns))
_EMPTY_TYPES = {"quantity": np.float64, "micros": np.int64}
