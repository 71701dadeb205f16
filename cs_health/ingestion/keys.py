"""Deduplication keys: a 64-bit hash of the message id, or of the event's own fields when it has none.

The same event sent through a file, the native API or the Segment API gets the same key, so replays are
recognised across paths. Hashes are computed over numpy object arrays so the result does not depend on
which pandas string backend read the data.
"""

from __future__ import annotations

import hashlib

import numpy as np
from pandas.util import hash_array

from cs_health.ingestion.columns import EventColumns, Text, as_numpy, object_array, present

MIX = np.uint64(0x100000001B3)


def _hash_text(values: Text) -> np.ndarray:
    return hash_array(
        object_array(["" if value is None else str(value) for value in as_numpy(values)]), categorize=False
    )


def event_keys(events: EventColumns) -> np.ndarray:
    """int64 keys for typed events."""
    message_ids = as_numpy(events.message_id)  # hashed as Python strings, whichever path the events came by
    has_message = present(message_ids)
    if has_message.all():  # the usual case: every event names its message id (validated text)
        return hash_array(message_ids, categorize=False).view(np.int64)
    keys = np.empty(len(events), dtype=np.uint64)
    if has_message.any():
        keys[has_message] = hash_array(message_ids[has_message], categorize=False)
    anonymous = events.take(~has_message)
    micros = anonymous.micros
    fields = _hash_text(anonymous.account_id)
    for part in (
        _hash_text(anonymous.event),
        hash_array(micros),
        _hash_text(anonymous.user_id),
        hash_array(anonymous.quantity),
        _hash_text(anonymous.properties),
    ):
        fields = (fields * MIX) ^ part
    keys[~has_message] = fields
    return keys.view(np.int64)


def event_identities(keys: np.ndarray, micros: np.ndarray) -> np.ndarray:
    """One int64 per event for telling events apart in memory, as the table's key (timestamp, event_key) does:
    a replay repeats both its key and its time."""
    return ((keys.view(np.uint64) * MIX) ^ hash_array(micros)).view(np.int64)


def record_id(*parts: object) -> str:
    """A stable id for records the contract gives no id (NPS answers, touchpoints)."""
    return hashlib.sha256("\x1f".join("" if part is None else str(part) for part in parts).encode()).hexdigest()[:32]
