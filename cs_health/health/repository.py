"""Every SQL statement of the health domain: one set-based read per input table, one bulk upsert of results."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cs_health.accounts.repository import accounts_frame, subscriptions_frame
from cs_health.db.frames import PendingFrame, read_frame, start_frame, start_summed
from cs_health.db.tables import (
    Contact,
    DailyUsage,
    HealthOverride,
    HealthScore,
    NpsResponse,
    Ticket,
    Touchpoint,
    UserDailyUsage,
    rollup_days,
)
from cs_health.ingestion.repository import upsert
from models.frames import PortfolioData

USAGE_HISTORY_DAYS = 120  # the longest window any health feature reads (28 + 56 days) plus slack


def load_portfolio(
    session: Session, as_of: dt.date, history_days: int = USAGE_HISTORY_DAYS, user_history_days: int | None = None
) -> PortfolioData:
    """Everything the features need as of `as_of`, one query per table (never one per account): daily usage over
    `history_days`, per-user activity over `user_history_days` (default the same)."""
    since = as_of - dt.timedelta(days=history_days)
    user_since = as_of - dt.timedelta(days=history_days if user_history_days is None else user_history_days)
    daily_usage = start_daily_usage(session, since, as_of)  # both large reads run in reader processes
    users = start_user_activity(session, user_since, as_of)  # while this one reads the other tables
    rest = dict(
        accounts=accounts_frame(session),
        subscriptions=subscriptions_frame(session),
        contacts=read_frame(session, select(Contact.user_id, Contact.account_id, Contact.role)),
        tickets=read_frame(
            session,
            select(Ticket.account_id, Ticket.opened_at, Ticket.closed_at, Ticket.priority, Ticket.csat),
            datetimes=["opened_at", "closed_at"],
        ),
        nps=read_frame(
            session,
            select(NpsResponse.account_id, NpsResponse.responded_at, NpsResponse.score, NpsResponse.user_id),
            datetimes=["responded_at"],
        ),
        touchpoints=read_frame(
            session, select(Touchpoint.account_id, Touchpoint.at, Touchpoint.kind), datetimes=["at"]
        ),
    )
    return PortfolioData(daily_usage=daily_usage(), user_activity=users(), **rest)


def start_daily_usage(session: Session, since: dt.date, until: dt.date) -> PendingFrame:
    """The daily feature rollup over [since, until), read begun now (see cs_health.db.frames.start_frame)."""
    usage = DailyUsage
    columns = (usage.account_id, usage.day, usage.event, usage.events, usage.quantity, usage.users)
    statement = select(*columns).where(*rollup_days(usage, since, until))
    return start_frame(session, statement, datetimes=["day"], columnar=True)


def start_user_activity(session: Session, since: dt.date, until: dt.date) -> PendingFrame:
    """day, account_id, user_id, events: each identified user's events per day over [since, until), in day
    order, read begun now and finished by calling what this returns (see cs_health.db.frames.start_frame).
    Day order is what training slices by (models.churn.in_day_order): the reader sorts, so the run does not
    sort tens of millions of rows again."""
    usage = UserDailyUsage
    return start_summed(
        session,
        [usage.day, usage.account_id, usage.user_id],
        usage.events,
        [*rollup_days(usage, since, until), usage.user_id != ""],
        datetimes=["day"],
    )


def stored_components(session: Session, as_of: dt.date) -> pd.DataFrame:
    """The per-measure components stored for one date, as the long frame models.health works with."""
    rows = session.execute(select(HealthScore.account_id, HealthScore.components).where(HealthScore.as_of == as_of))
    records = [
        {"account_id": account_id, **component}
        for account_id, components in rows
        for component in components.get("measures", [])
    ]
    return pd.DataFrame.from_records(records)


def stored_scores(session: Session, as_of: dt.date) -> pd.Series:
    rows = session.execute(select(HealthScore.account_id, HealthScore.score).where(HealthScore.as_of == as_of))
    return pd.Series(dict(rows.all()), dtype="float64")


def replace_scores(session: Session, as_of: dt.date, rows: list[dict[str, Any]]) -> None:
    """Re-running a date replaces that date's scores: accounts no longer scored are removed, the rest upserted."""
    session.execute(delete(HealthScore).where(HealthScore.as_of == as_of))
    for start in range(0, len(rows), 2_000):
        upsert(session, HealthScore.__table__, rows[start : start + 2_000], ("account_id", "as_of"), list(rows[0]))


def active_overrides(session: Session, today: dt.date, account_id: str | None = None) -> dict[str, HealthOverride]:
    """The newest unexpired, unrevoked override per account (one account's, or everyone's)."""
    statement = (
        select(HealthOverride)
        .where(HealthOverride.expires_on > today, HealthOverride.revoked_at.is_(None))
        .order_by(HealthOverride.created_at, HealthOverride.id)
    )
    if account_id is not None:
        statement = statement.where(HealthOverride.account_id == account_id)
    return {override.account_id: override for override in session.scalars(statement)}


def add_override(session: Session, override: HealthOverride) -> None:
    session.add(override)
    session.flush()


def newest_score(session: Session, account_id: str) -> HealthScore | None:
    statement = (
        select(HealthScore).where(HealthScore.account_id == account_id).order_by(HealthScore.as_of.desc()).limit(1)
    )
    return session.scalars(statement).first()


def score_history(session: Session, account_id: str, since: dt.date | None = None) -> list[HealthScore]:
    statement = select(HealthScore).where(HealthScore.account_id == account_id).order_by(HealthScore.as_of)
    if since is not None:
        statement = statement.where(HealthScore.as_of >= since)
    return list(session.scalars(statement))


def latest_scores(session: Session, as_of: dt.date | None = None) -> list[HealthScore]:
    """The scores of the newest scored date (or of `as_of`)."""
    day = as_of or session.scalar(select(func.max(HealthScore.as_of)))
    if day is None:
        return []
    return list(session.scalars(select(HealthScore).where(HealthScore.as_of == day).order_by(HealthScore.account_id)))
