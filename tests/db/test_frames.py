"""read_frame gives the same frame whichever way it reads, and a session always sees its own writes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select

from cs_health.db.engine import Database, make_database
from cs_health.db.frames import _columnar_path, read_frame, start_frame
from cs_health.db.tables import Account, DailyUsage, UserDailyUsage
from cs_health.health.repository import start_user_activity
from tests.factories import as_text

DAY = dt.date(2026, 3, 2)


def usage_rows(account_id: str, days: int) -> list[dict[str, object]]:
    return [
        {"account_id": account_id, "day": DAY + dt.timedelta(days=i), "event": f"feature-{i % 3}", "events": i + 1}
        | {"quantity": 0.5 * i, "users": 1 + i % 4}
        for i in range(days)
    ]


def rollup_statement(since: dt.date):
    columns = (DailyUsage.account_id, DailyUsage.day, DailyUsage.event, DailyUsage.events, DailyUsage.quantity)
    return select(*columns, DailyUsage.users).where(DailyUsage.day >= since).order_by(DailyUsage.day)


def test_the_columnar_read_equals_the_row_read_including_an_empty_result(database: Database):
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        session.add_all(DailyUsage(**row) for row in usage_rows("acc-1", 40))
    with database.sessions() as session:
        assert (_columnar_path(session.connection()) is not None) == (database.dialect == "sqlite")
        for since in (DAY + dt.timedelta(days=10), DAY + dt.timedelta(days=400)):
            rows = read_frame(session, rollup_statement(since), datetimes=["day"])
            columns = read_frame(session, rollup_statement(since), datetimes=["day"], columnar=True)
            assert len(rows) == (30 if since < DAY + dt.timedelta(days=100) else 0)
            pd.testing.assert_frame_equal(as_text(columns), rows, check_dtype=False)
            assert columns["day"].dtype.kind == "M"
            text = {name for name in ("account_id", "event") if isinstance(columns[name].dtype, pd.CategoricalDtype)}
            assert text == ({"account_id", "event"} if database.dialect == "sqlite" and len(rows) else set())


def test_reads_started_together_each_get_their_own_rows_whatever_order_they_are_collected_in(database: Database):
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        session.add_all(DailyUsage(**row) for row in usage_rows("acc-1", 40))
    with database.sessions() as session:
        cuts = [DAY + dt.timedelta(days=days) for days in (0, 10, 25)]
        pending = [start_frame(session, rollup_statement(cut), datetimes=["day"], columnar=True) for cut in cuts]
        frames = [collect() for collect in reversed(pending)][::-1]
        for cut, frame in zip(cuts, frames, strict=True):
            rows = read_frame(session, rollup_statement(cut), datetimes=["day"])
            pd.testing.assert_frame_equal(as_text(frame), rows, check_dtype=False)
            assert frame["day"].min().date() == cut


def test_a_session_that_has_written_reads_its_own_uncommitted_rows(database: Database):
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        session.add_all(DailyUsage(**row) for row in usage_rows("acc-1", 5))
        session.flush()
        assert _columnar_path(session.connection()) is None
        frame = read_frame(session, rollup_statement(DAY), columnar=True)
        assert len(frame) == 5


def test_writes_made_after_columnar_reads_are_all_kept(database: Database):
    """The columnar reader's own copy of SQLite must never share this process: it would drop this connection's
    locks and delete the write-ahead log under it, losing the writes that follow."""
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        session.add_all(DailyUsage(**row) for row in usage_rows("acc-1", 5))
    for run in range(3):
        with database.transaction() as session:
            assert len(read_frame(session, rollup_statement(DAY), columnar=True)) == 5
            session.add(Account(account_id=f"acc-run-{run}", name="written after a read"))
    another_process = make_database(database.engine.url.render_as_string(hide_password=False))  # its own pool
    with another_process.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 4
    another_process.engine.dispose()


def test_user_activity_sums_each_users_features_per_day_and_leaves_out_anonymous_use(database: Database):
    per_feature = [
        ("u-1", DAY, "report", 1),
        ("u-1", DAY, "export", 1),
        ("u-2", DAY, "report", 1),
        ("u-1", DAY + dt.timedelta(days=1), "report", 1),
        ("", DAY + dt.timedelta(days=1), "report", 4),
        ("u-1", DAY + dt.timedelta(days=2), "report", 9),  # outside [DAY, DAY + 2)
    ]
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        session.add_all(
            UserDailyUsage(account_id="acc-1", user_id=user, day=day, event=event, events=events, quantity=0.0)
            for user, day, event, events in per_feature
        )
    with database.sessions() as session:
        frame = start_user_activity(session, DAY, DAY + dt.timedelta(days=2))()
        empty = start_user_activity(session, DAY + dt.timedelta(days=9), DAY + dt.timedelta(days=10))()
    assert empty.empty
    assert list(empty.columns) == ["day", "account_id", "user_id", "events"]
    assert frame[["account_id", "user_id", "events"]].to_dict("records") == [
        {"account_id": "acc-1", "user_id": "u-1", "events": 2},
        {"account_id": "acc-1", "user_id": "u-2", "events": 1},
        {"account_id": "acc-1", "user_id": "u-1", "events": 1},
    ]
    assert frame["day"].dt.date.tolist() == [DAY, DAY, DAY + dt.timedelta(days=1)]  # in day order
