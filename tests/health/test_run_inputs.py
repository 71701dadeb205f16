"""A run reads the portfolio once; each stage's window cut from it equals reading that window directly."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, UserDailyUsage
from cs_health.health.repository import load_portfolio
from cs_health.run_inputs import PortfolioInputs
from models.frames import PortfolioData

AS_OF = dt.date(2026, 6, 1)


def seed_usage(database: Database, days: int) -> None:
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme"))
        session.flush()
        for back in range(1, days + 1):
            day = AS_OF - dt.timedelta(days=back)
            session.add(DailyUsage(account_id="acc-1", day=day, event="report", events=back, quantity=0.0, users=1))
            session.add(
                UserDailyUsage(account_id="acc-1", day=day, event="report", user_id="u-1", events=back, quantity=0.0)
            )


def assert_same(left: PortfolioData, right: PortfolioData) -> None:
    for name in ("daily_usage", "user_activity", "accounts", "subscriptions"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_dtype=False)


def test_each_window_equals_a_direct_read_of_it(database: Database):
    seed_usage(database, 500)
    inputs = PortfolioInputs(AS_OF)
    with database.sessions() as session:
        wide = inputs.get(session, 400, 120)
        assert len(wide.daily_usage) == 400
        assert len(wide.user_activity) == 120
        assert_same(wide, load_portfolio(session, AS_OF, 400, 120))
        assert_same(inputs.get(session, 120), load_portfolio(session, AS_OF, 120))
        assert_same(inputs.get(session, 30, 7), load_portfolio(session, AS_OF, 30, 7))


def test_asking_for_more_history_than_held_reads_it(database: Database):
    seed_usage(database, 500)
    inputs = PortfolioInputs(AS_OF)
    with database.sessions() as session:
        assert len(inputs.get(session, 120).daily_usage) == 120
        longer = inputs.get(session, 3_650)
        assert len(longer.daily_usage) == 500
        assert len(longer.user_activity) == 500
        assert len(inputs.get(session, 120).user_activity) == 120
