"""The daily rollups always equal a plain groupby over the stored events, however the events arrive: replays
inside a batch and across batches, the same message id with other content, anonymous users, late events."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, UsageEvent, UserDailyUsage
from cs_health.ingestion.columns import DATETIME_FORMAT, EventColumns
from cs_health.ingestion.rollup import _group_codes
from cs_health.ingestion.service import import_file, store_events

START = dt.datetime(2026, 1, 1)
RECEIVED = dt.datetime(2026, 1, 9)

events = st.tuples(
    st.sampled_from(["acc-1", "acc-2", "acc-3"]),
    st.sampled_from(["login", "export"]),
    st.integers(0, 4 * 86_400 * 1_000_000),  # microseconds after START: four days, so some events are late
    st.sampled_from(["u1", "u2", "u3", None]),
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(0, 40).map(lambda n: f"m{n}")),  # small id space: replays
)


Event = tuple[str, str, int, str | None, int, str | None]


def as_columns(batch: list[Event]) -> EventColumns:
    return EventColumns.from_rows(
        [
            (account, name, (START + dt.timedelta(microseconds=at)).strftime(DATETIME_FORMAT), user, float(q), m, None)
            for account, name, at, user, q, m in batch
        ]
    )


def frame(database: Database, *columns: InstrumentedAttribute[Any]) -> pd.DataFrame:
    with database.sessions() as session:
        rows = session.execute(select(*columns)).all()
    return pd.DataFrame(rows, columns=[column.key for column in columns])


Rollups = tuple[list[tuple[object, ...]], list[tuple[object, ...]], dict[str, object]]


def expected(database: Database) -> Rollups:
    stored = frame(
        database, UsageEvent.account_id, UsageEvent.event, UsageEvent.timestamp, UsageEvent.user_id, UsageEvent.quantity
    )
    stored = stored.assign(day=pd.to_datetime(stored["timestamp"]).dt.date, user_id=stored["user_id"].fillna(""))
    per_user = stored.groupby(["account_id", "day", "event", "user_id"]).agg(
        events=("quantity", "size"), quantity=("quantity", "sum")
    )
    identified = stored.assign(user=stored["user_id"].where(stored["user_id"] != ""))
    per_account = identified.groupby(["account_id", "day", "event"]).agg(
        events=("quantity", "size"), quantity=("quantity", "sum"), users=("user", "nunique")
    )
    latest = stored.groupby("account_id")["timestamp"].max().to_dict()
    return (
        sorted(per_user.reset_index().itertuples(index=False, name=None)),
        sorted(per_account.reset_index().itertuples(index=False, name=None)),
        latest,
    )


def actual(database: Database) -> Rollups:
    per_user = frame(
        database,
        UserDailyUsage.account_id,
        UserDailyUsage.day,
        UserDailyUsage.event,
        UserDailyUsage.user_id,
        UserDailyUsage.events,
        UserDailyUsage.quantity,
    )
    per_account = frame(
        database,
        DailyUsage.account_id,
        DailyUsage.day,
        DailyUsage.event,
        DailyUsage.events,
        DailyUsage.quantity,
        DailyUsage.users,
    )
    with database.sessions() as session:
        latest = dict(session.execute(select(Account.account_id, Account.last_event_at)).all())
    return (
        sorted(per_user.itertuples(index=False, name=None)),
        sorted(per_account.itertuples(index=False, name=None)),
        latest,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events, min_size=1, max_size=60))
def test_rollups_equal_a_groupby_of_the_stored_events(database: Database, batch: list[Event]) -> None:
    """Each example adds a batch to the same database: the invariant must hold after every one of them."""
    with database.transaction() as session:
        new, duplicates = store_events(session, as_columns(batch), RECEIVED)
    assert new + duplicates == len(batch)
    assert actual(database) == expected(database)


def as_json_lines(batch: list[Event]) -> str:
    """The batch as an events file: absent user and message ids are left out."""
    records = [
        {
            "account_id": account,
            "event": name,
            "timestamp": (START + dt.timedelta(microseconds=at)).isoformat() + "Z",
            "quantity": q,
        }
        | ({"user_id": user} if user else {})
        | ({"message_id": m} if m else {})
        for account, name, at, user, q, m in batch
    ]
    return "".join(json.dumps(record) + "\n" for record in records)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events, min_size=1, max_size=60), part_rows=st.sampled_from([250_000, 5]))
def test_file_imports_keep_the_rollups_exact(
    database: Database, tmp_path: Path, batch: list[Event], part_rows: int
) -> None:
    """The file path stores through its own stages (attached scratch databases on SQLite, COPY on PostgreSQL), in
    one part or several, and must keep the same invariant, replays within and across parts and files included."""
    path = tmp_path / "events.jsonl"
    path.write_text(as_json_lines(batch))
    summary = import_file(database, "events", path, now=RECEIVED.replace(tzinfo=dt.UTC), chunk_rows=part_rows)
    assert (summary.rejected, summary.new + summary.duplicates) == (0, len(batch))
    assert actual(database) == expected(database)


# 100,000 rows of 100,000 possible values: about 63,000 distinct values a column, whose product overflows 2⁶²
@pytest.mark.parametrize(("rows", "distinct"), [(2_000, 7), (100_000, 100_000)])
@pytest.mark.parametrize("text", ["objects", "arrow"])
def test_rollup_groups_are_numbered_in_the_order_of_their_values(rows: int, distinct: int, text: str) -> None:
    """Groups numbered in sorted (account, day, event, user) order, whether the combined code fits 64 bits or
    the codes are re-densified column by column, and whether the text is Python strings (an HTTP request's) or
    Arrow's (a file's). Values past ASCII sort by code point, as the database's keys do."""
    rng = np.random.default_rng(rows)
    columns = [
        np.array([f"acc-{value}" for value in rng.integers(0, distinct, rows)], dtype=object),
        rng.integers(0, distinct, rows),
        np.array([f"évent {value}" if value % 3 else f"event {value}" for value in rng.integers(0, distinct, rows)]),
        np.array([f"user-{value}" for value in rng.integers(0, distinct, rows)], dtype=object),
    ]
    columns[2] = columns[2].astype(object)
    given = [pa.array(column) if text == "arrow" and column.dtype == object else column for column in columns]
    group, groups = _group_codes(given)
    table = pd.DataFrame({str(position): column for position, column in enumerate(columns)})
    expected = table.groupby(list(table.columns), sort=True).ngroup().to_numpy()
    assert groups == expected.max() + 1
    assert group.tolist() == expected.tolist()
