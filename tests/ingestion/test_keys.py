"""Deduplication keys over event columns are the keys the frame-based version stored: replays of events stored
before this change are still recognised."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.util import hash_array

from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.keys import MIX, event_keys


def _hash_text(values: pd.Series) -> np.ndarray:
    return hash_array(np.asarray(values.fillna("").astype(str), dtype=object), categorize=False)


def reference_keys(events: pd.DataFrame) -> np.ndarray:
    """The frame-based event_keys as it was, kept here as the reference."""
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


maybe_text = st.one_of(st.none(), st.text(min_size=1, max_size=8))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=6),
            st.text(min_size=1, max_size=6),
            st.integers(0, 2**40),
            maybe_text,
            st.floats(0, 1e6),
            maybe_text,
            st.one_of(st.none(), st.just('{"plan":"pro"}')),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_keys_match_the_frame_based_keys(rows: list[tuple[object, ...]]) -> None:
    names = ["account_id", "event", "at", "user_id", "quantity", "message_id", "properties"]
    events = pd.DataFrame(rows, columns=names)
    events["timestamp"] = pd.to_datetime("2020-01-01") + pd.to_timedelta(events.pop("at"), unit="us")
    assert event_keys(EventColumns.from_frame(events)).tolist() == reference_keys(events).tolist()
    # A file's validated text is Arrow strings: the same events get the same keys.
    as_read = events.astype({name: "string" for name in ["account_id", "event", "user_id", "message_id"]})
    assert event_keys(EventColumns.from_frame(as_read)).tolist() == reference_keys(events).tolist()
