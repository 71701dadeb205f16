"""A window of days read from a rollup touches only that window: on SQLite the read seeks each account's days in
the rollup's key instead of scanning its whole history (which grows every day the product is used)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from cs_health.db.engine import Database
from cs_health.db.tables import DailyUsage, UserDailyUsage, rollup_days
from cs_health.db.tables.usage import Rollup

SINCE, UNTIL = dt.date(2026, 8, 1), dt.date(2026, 12, 1)


@pytest.mark.parametrize("rollup", [DailyUsage, UserDailyUsage], ids=lambda rollup: rollup.__tablename__)
def test_a_window_of_days_is_sought_by_account_not_scanned(database: Database, dialect: str, rollup: Rollup):
    if dialect != "sqlite":
        pytest.skip("PostgreSQL chooses its plan from table statistics; the seek is SQLite's")
    statement = select(rollup.account_id, rollup.day, rollup.events).where(*rollup_days(rollup, SINCE, UNTIL))
    with database.sessions() as session:
        connection = session.connection()
        compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
    table = rollup.__tablename__
    assert f"SEARCH {table} USING PRIMARY KEY (account_id=? AND day>? AND day<?)" in plan, plan
    assert f"SCAN {table}" not in plan, plan
