"""Every SQL statement of the reports domain: set-based reads for one account and one period, and the archive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cs_health.db.frames import read_frame
from cs_health.db.tables import (
    Account,
    ChurnPrediction,
    Contact,
    DailyUsage,
    HealthScore,
    NpsResponse,
    OutboxMessage,
    Report,
    Subscription,
    Ticket,
    Touchpoint,
    Training,
    TrainingSuggestion,
    UsageForecast,
    UserDailyUsage,
)
from cs_health.ingestion.repository import upsert

ANONYMOUS = ""


def get_account(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def subscriptions(session: Session, account_id: str) -> pd.DataFrame:
    statement = select(
        Subscription.start_date, Subscription.end_date, Subscription.arr, Subscription.seats, Subscription.plan
    ).where(Subscription.account_id == account_id)
    return read_frame(session, statement, datetimes=["start_date", "end_date"])


def daily_usage(session: Session, account_id: str, since: dt.date, until: dt.date) -> pd.DataFrame:
    """Events per day and feature, `since` <= day <= `until`."""
    statement = select(DailyUsage.day, DailyUsage.event, DailyUsage.events).where(
        DailyUsage.account_id == account_id, DailyUsage.day >= since, DailyUsage.day <= until
    )
    return read_frame(session, statement, datetimes=["day"])


def user_usage(
    session: Session, account_id: str, previous_start: dt.date, start: dt.date, until: dt.date
) -> pd.DataFrame:
    """Events per identified user and feature, summed per bucket: `current` (start..until) and `previous`."""
    bucket = case((UserDailyUsage.day >= start, "current"), else_="previous").label("bucket")
    statement = (
        select(bucket, UserDailyUsage.event, UserDailyUsage.user_id, func.sum(UserDailyUsage.events).label("events"))
        .where(
            UserDailyUsage.account_id == account_id,
            UserDailyUsage.day >= previous_start,
            UserDailyUsage.day <= until,
            UserDailyUsage.user_id != ANONYMOUS,
        )
        .group_by(bucket, UserDailyUsage.event, UserDailyUsage.user_id)
    )
    return read_frame(session, statement)


def health_history(session: Session, account_id: str, since: dt.date, until: dt.date) -> pd.DataFrame:
    statement = (
        select(HealthScore.as_of, HealthScore.score, HealthScore.band)
        .where(HealthScore.account_id == account_id, HealthScore.as_of >= since, HealthScore.as_of <= until)
        .order_by(HealthScore.as_of)
    )
    return read_frame(session, statement, datetimes=["as_of"])


def newest_score(session: Session, account_id: str, until: dt.date) -> HealthScore | None:
    statement = (
        select(HealthScore)
        .where(HealthScore.account_id == account_id, HealthScore.as_of <= until)
        .order_by(HealthScore.as_of.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def tickets(session: Session, account_id: str, since: dt.date, end: dt.date) -> pd.DataFrame:
    """Tickets open at any time in [since, end)."""
    start, stop = dt.datetime.combine(since, dt.time()), dt.datetime.combine(end, dt.time())
    statement = select(Ticket.opened_at, Ticket.closed_at, Ticket.priority, Ticket.csat).where(
        Ticket.account_id == account_id,
        Ticket.opened_at < stop,
        (Ticket.closed_at.is_(None)) | (Ticket.closed_at >= start),
    )
    return read_frame(session, statement, datetimes=["opened_at", "closed_at"])


def nps(session: Session, account_id: str, since: dt.date, end: dt.date) -> pd.DataFrame:
    start, stop = dt.datetime.combine(since, dt.time()), dt.datetime.combine(end, dt.time())
    statement = select(NpsResponse.responded_at, NpsResponse.score).where(
        NpsResponse.account_id == account_id, NpsResponse.responded_at >= start, NpsResponse.responded_at < stop
    )
    return read_frame(session, statement, datetimes=["responded_at"])


def touchpoints(session: Session, account_id: str, since: dt.date, end: dt.date) -> pd.DataFrame:
    start, stop = dt.datetime.combine(since, dt.time()), dt.datetime.combine(end, dt.time())
    statement = select(Touchpoint.at, Touchpoint.kind, Touchpoint.notes).where(
        Touchpoint.account_id == account_id, Touchpoint.at >= start, Touchpoint.at < stop
    )
    return read_frame(session, statement, datetimes=["at"])


def suggestions(session: Session, account_id: str, until: dt.date) -> list[tuple[TrainingSuggestion, Training]]:
    """The account's newest set of training suggestions made by `until`, with their catalogue entries."""
    newest = select(func.max(TrainingSuggestion.as_of)).where(
        TrainingSuggestion.account_id == account_id, TrainingSuggestion.as_of <= until
    )
    statement = (
        select(TrainingSuggestion, Training)
        .join(Training, Training.training_id == TrainingSuggestion.training_id)
        .where(TrainingSuggestion.account_id == account_id, TrainingSuggestion.as_of == newest.scalar_subquery())
        .order_by(TrainingSuggestion.id)
    )
    return [(suggestion, training) for suggestion, training in session.execute(statement)]


def newest_churn(session: Session, account_id: str, until: dt.date) -> ChurnPrediction | None:
    statement = (
        select(ChurnPrediction)
        .where(ChurnPrediction.account_id == account_id, ChurnPrediction.as_of <= until)
        .order_by(ChurnPrediction.as_of.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def newest_forecast(session: Session, account_id: str, since: dt.date, until: dt.date) -> UsageForecast | None:
    statement = (
        select(UsageForecast)
        .where(UsageForecast.account_id == account_id, UsageForecast.as_of >= since, UsageForecast.as_of <= until)
        .order_by(UsageForecast.as_of.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def active_accounts(session: Session, day: dt.date) -> list[str]:
    """Accounts with a subscription term in force on `day`."""
    statement = (
        select(Subscription.account_id)
        .where(Subscription.start_date <= day, Subscription.end_date >= day)
        .distinct()
        .order_by(Subscription.account_id)
    )
    return list(session.scalars(statement))


def contact_emails(session: Session, account_id: str, roles: Collection[str]) -> list[str]:
    if not roles:
        return []
    statement = (
        select(Contact.email)
        .where(Contact.account_id == account_id, Contact.role.in_(list(roles)), Contact.email.is_not(None))
        .order_by(Contact.email)
    )
    return [email for email in session.scalars(statement) if email]


def find_report(session: Session, account_id: str, kind: str, period: str, audience: str, fmt: str) -> Report | None:
    statement = select(Report).where(
        Report.account_id == account_id,
        Report.kind == kind,
        Report.period == period,
        Report.audience == audience,
        Report.format == fmt,
    )
    return session.scalars(statement).first()


def save_report(session: Session, values: dict[str, object]) -> None:
    """Upserts the archive row on (account, kind, period, audience, format): a re-run replaces, never adds."""
    keys = ("account_id", "kind", "period", "audience", "format")
    upsert(session, Report.__table__, [values], keys, list(values))


def list_reports(session: Session, account_id: str) -> list[Report]:
    statement = (
        select(Report)
        .where(Report.account_id == account_id)
        .order_by(Report.period.desc(), Report.kind, Report.audience, Report.format)
    )
    return list(session.scalars(statement))


def existing_message_ids(session: Session, message_ids: Iterable[str]) -> set[str]:
    wanted = list(message_ids)
    if not wanted:
        return set()
    return set(session.scalars(select(OutboxMessage.message_id).where(OutboxMessage.message_id.in_(wanted))))


def add_messages(session: Session, messages: Iterable[OutboxMessage]) -> None:
    session.add_all(list(messages))
    session.flush()
