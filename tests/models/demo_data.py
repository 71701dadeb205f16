"""Turn the demo generator's portfolio into the frames the shell passes to the analytic core."""

from __future__ import annotations

import pandas as pd

from cs_health.demo.generator import Portfolio
from models.frames import (
    ACCOUNT_ID,
    DAY,
    EVENT,
    EVENTS,
    QUANTITY,
    TAGS,
    USER_ID,
    USERS,
    PortfolioData,
)


def _naive(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None)


def portfolio_data(portfolio: Portfolio) -> PortfolioData:
    """Daily rollups (account, day, feature) and (account, user, day) from the raw events, like the shell's."""
    events = portfolio.events
    day = _naive(events["timestamp"]).dt.floor("D")
    keys = {ACCOUNT_ID: events[ACCOUNT_ID], DAY: day, EVENT: events[EVENT]}
    frame = pd.DataFrame({**keys, USER_ID: events[USER_ID], QUANTITY: events[QUANTITY]})
    daily_usage = (
        frame.groupby([ACCOUNT_ID, DAY, EVENT], observed=True)
        .agg(**{EVENTS: (USER_ID, "size"), QUANTITY: (QUANTITY, "sum"), USERS: (USER_ID, "nunique")})
        .reset_index()
    )
    user_activity = frame.groupby([ACCOUNT_ID, USER_ID, DAY], observed=True).size().rename(EVENTS).reset_index()
    accounts = portfolio.accounts.assign(
        created_at=_naive(portfolio.accounts["created_at"]),
        **{TAGS: portfolio.accounts[TAGS].str.split(";")},
    )
    subscriptions = portfolio.subscriptions.assign(arr=portfolio.subscriptions["mrr"] * 12)
    return PortfolioData(
        daily_usage=daily_usage,
        user_activity=user_activity,
        accounts=accounts,
        subscriptions=subscriptions,
        contacts=portfolio.users[[USER_ID, ACCOUNT_ID, "role"]],
        tickets=portfolio.tickets.assign(
            opened_at=_naive(portfolio.tickets["opened_at"]), closed_at=_naive(portfolio.tickets["closed_at"])
        ),
        nps=portfolio.nps.assign(responded_at=_naive(portfolio.nps["responded_at"])),
        touchpoints=portfolio.touchpoints.assign(at=_naive(portfolio.touchpoints["at"])),
    )


def churned_within(portfolio: Portfolio, as_of: pd.Timestamp, days: int) -> pd.Series:
    """Per account: does it churn in [as_of, as_of + days)?"""
    truth = portfolio.ground_truth.set_index(ACCOUNT_ID)["churn_date"]
    return (truth >= as_of) & (truth < as_of + pd.Timedelta(days=days))
