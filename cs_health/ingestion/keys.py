"""Deduplication keys: a 64-bit hash of the message id, or of the event's own fields when it has none.

The same event sent through a file, the native API or the Segment API gets the same key, so replays are
recognised across paths. Hashes are computed over numpy object arrays so the result does not depend on
which pandas string backend read the data.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from pandas.util import hash_array

MIX = np.uint64(0x100000001B3)


def _hash_text(values: pd.Series) -> np.ndarray:
    return hash_array(np.asarray(values.fillna("").astype(str), dtype=object), categorize=False)


def event_keys(events: pd.DataFrame) -> np.ndarray:
    """int64 keys for typed event records (columns of the events contract, timestamps as datetime64)."""
    has_message = events["message_id"].notna().to_numpy()
    keys = np.empty(len(events), dtype=np.uint64)
    if has_message.any():
        keys[has_message] = _hash_text(events["message_id"][has_message])
    if not has_message.all():
        anonymous = events.loc[~has_message]
        fields = _hash_text(anonymous["account_id"])
        for part in (
            _hash_text(anonymous["event"]),
            hash_array(anonymous["timestamp"].astype("datetime64[us]").to_numpy().view(np.int64)),
            _hash_text(anonymous["user_id"]),
            hash_array(anonymous["quantity"].astype(float).to_numpy()),
            _hash_text(anonymous["properties"]),
        ):
            fields = (fields * MIX) ^ part
        keys[~has_message] = fields
    return keys.view(np.int64)


def record_id(*parts: object) -> str:
    """A stable id for records the contract gives no id (NPS answers, touchpoints)."""
    return hashlib.sha256("\x1f".join("" if part is None else str(part) for part in parts).encode()).hexdigest()[:32]
