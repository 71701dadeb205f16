"""A run reads the portfolio once; each stage's window cut from it equals reading that window directly."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest

from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, UserDailyUsage
from cs_health.health.repository import load_portfolio
from cs_health.run_inputs import PortfolioInputs
from models.churn import in_day_order
from models.frames import PortfolioData
from tests.factories import as_text

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
        pd.testing.assert_frame_equal(as_text(getattr(left, name)), as_text(getattr(right, name)), check_dtype=False)


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


@pytest.mark.parametrize("beside", [False, True], ids=["prefetched-after-a-get", "prefetched-beside-the-first-get"])
def test_a_prefetched_older_history_joins_the_held_days_as_one_read_of_them_all(database: Database, beside: bool):
    with database.transaction() as session:
        session.add_all(Account(account_id=f"acc-{n}", name=f"Account {n}") for n in (1, 2, 3))
        session.flush()
        for back in range(1, 301):
            day = AS_OF - dt.timedelta(days=back)
            accounts = ("acc-1", "acc-2") if back <= 150 else ("acc-1", "acc-2", "acc-3")  # acc-3 only in older days
            for account, event, user in itertools.product(accounts, ("export", "report"), ("u-1", "u-2")):
                events = back % 7 + len(event)
                usage = {"account_id": account, "day": day, "event": event, "events": events, "quantity": 1.0}
                session.add(UserDailyUsage(**usage, user_id=user))
                if user == "u-1":
                    session.add(DailyUsage(**usage, users=2))
    inputs = PortfolioInputs(AS_OF)
    with database.sessions() as session:
        assert len(inputs.get(session, 100, 30, prefetch=(3_650, 200) if beside else None).daily_usage) == 100 * 4
        if not beside:
            inputs.prefetch(session, 3_650, 200)
        longer = inputs.get(session, 3_650, 200)
        assert len(longer.daily_usage) == 300 * 4 + 150 * 2
        assert len(longer.user_activity) == 150 * 4 + 50 * 6
        assert_same(in_day_order(longer), in_day_order(load_portfolio(session, AS_OF, 3_650, 200)))
        if isinstance(longer.daily_usage["account_id"].dtype, pd.CategoricalDtype):  # SQLite's columnar reads
            assert list(longer.daily_usage["account_id"].cat.categories) == ["acc-1", "acc-2", "acc-3"]
        assert_same(inputs.get(session, 100, 30), load_portfolio(session, AS_OF, 100, 30))
