"""Every SQL statement of the trainings domain: one set-based read per input table, one bulk upsert of results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cs_health.db.frames import PendingFrame, read_frame, start_summed
from cs_health.db.tables import (
    Account,
    Contact,
    DailyUsage,
    HealthScore,
    Training,
    TrainingSuggestion,
    UserDailyUsage,
    rollup_days,
)
from cs_health.ingestion.repository import upsert

SUGGESTED, DELIVERED = "suggested", "delivered"
_CHUNK = 2_000


def start_user_feature_usage(session: Session, since: dt.date, until: dt.date) -> PendingFrame:
    """account_id, event, user_id ('' for anonymous), events over [since, until): distinct users per feature and
    active users per account both come from this one read, begun now (see cs_health.db.frames.start_frame)."""
    usage = UserDailyUsage
    return start_summed(
        session, [usage.account_id, usage.event, usage.user_id], usage.events, rollup_days(usage, since, until)
    )


def daily_feature_usage(session: Session, since: dt.date, until: dt.date, events: Iterable[str]) -> pd.DataFrame:
    """account_id, day, event, users of the given features over [since, until)."""
    statement = select(DailyUsage.account_id, DailyUsage.day, DailyUsage.event, DailyUsage.users).where(
        *rollup_days(DailyUsage, since, until),
        DailyUsage.event.in_(sorted(set(events))),
    )
    return read_frame(session, statement, datetimes=["day"])


def bands(session: Session, as_of: dt.date) -> pd.Series:
    """The health band per account on the newest scored date up to `as_of` (empty before the first run)."""
    day = session.scalar(select(func.max(HealthScore.as_of)).where(HealthScore.as_of <= as_of))
    if day is None:
        return pd.Series(dtype="object")
    rows = session.execute(select(HealthScore.account_id, HealthScore.band).where(HealthScore.as_of == day))
    return pd.Series(dict(rows.all()), dtype="object")


def catalogue(session: Session) -> list[Training]:
    return list(session.scalars(select(Training).order_by(Training.training_id)))


def history(session: Session, since: dt.date | None, until: dt.date) -> pd.DataFrame:
    """account_id, training_id, as_of, delivered_at of the suggestions dated in [since, until] (or delivered
    then): the repeat window, the onboarding path already taken and the effect's sent and similar accounts."""
    statement = select(
        TrainingSuggestion.account_id,
        TrainingSuggestion.training_id,
        TrainingSuggestion.as_of,
        TrainingSuggestion.delivered_at,
    ).where(TrainingSuggestion.as_of <= until)
    if since is not None:
        statement = statement.where(
            (TrainingSuggestion.as_of >= since)
            | (TrainingSuggestion.delivered_at >= dt.datetime.combine(since, dt.time()))
        )
    return read_frame(session, statement, datetimes=["as_of", "delivered_at"])


def replace_suggestions(session: Session, as_of: dt.date, rows: Sequence[dict[str, Any]]) -> None:
    """Re-running a date replaces its pending suggestions; delivered ones are history and stay (their status and
    delivery time are never overwritten, only their reason and features)."""
    session.execute(
        delete(TrainingSuggestion).where(
            TrainingSuggestion.as_of == as_of,
            TrainingSuggestion.delivered_at.is_(None),
            TrainingSuggestion.status == SUGGESTED,
        )
    )
    key = ("account_id", "as_of", "training_id")
    for start in range(0, len(rows), _CHUNK):
        upsert(session, TrainingSuggestion.__table__, list(rows[start : start + _CHUNK]), key, ["features", "reason"])


def latest_suggestions(session: Session, account_id: str) -> list[tuple[TrainingSuggestion, Training]]:
    """The account's suggestions of its newest suggestion date, with their catalogue entries."""
    day = session.scalar(select(func.max(TrainingSuggestion.as_of)).where(TrainingSuggestion.account_id == account_id))
    if day is None:
        return []
    statement = (
        select(TrainingSuggestion, Training)
        .join(Training, Training.training_id == TrainingSuggestion.training_id)
        .where(TrainingSuggestion.account_id == account_id, TrainingSuggestion.as_of == day)
        .order_by(TrainingSuggestion.id)
    )
    return [(suggestion, training) for suggestion, training in session.execute(statement)]


def newest_suggestion(session: Session, account_id: str, training_id: str) -> TrainingSuggestion | None:
    statement = (
        select(TrainingSuggestion)
        .where(TrainingSuggestion.account_id == account_id, TrainingSuggestion.training_id == training_id)
        .order_by(TrainingSuggestion.as_of.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def account_exists(session: Session, account_id: str) -> bool:
    return session.get(Account, account_id) is not None


def get_training(session: Session, training_id: str) -> Training | None:
    return session.get(Training, training_id)


def add_training(session: Session, training: Training) -> None:
    session.add(training)
    session.flush()


def delivered_count(session: Session, training_id: str) -> int:
    statement = select(func.count()).where(
        TrainingSuggestion.training_id == training_id, TrainingSuggestion.delivered_at.is_not(None)
    )
    return int(session.scalar(statement) or 0)


def delete_training(session: Session, training: Training) -> None:
    """Removes the entry and its pending (never delivered) suggestions."""
    session.execute(delete(TrainingSuggestion).where(TrainingSuggestion.training_id == training.training_id))
    session.delete(training)
    session.flush()


def undelivered_suggestions(session: Session, as_of: dt.date) -> list[tuple[TrainingSuggestion, Training, Account]]:
    """The suggestions made on `as_of` that nobody has sent yet, with their training and account."""
    rows = session.execute(
        select(TrainingSuggestion, Training, Account)
        .join(Training, Training.training_id == TrainingSuggestion.training_id)
        .join(Account, Account.account_id == TrainingSuggestion.account_id)
        .where(TrainingSuggestion.as_of == as_of, TrainingSuggestion.delivered_at.is_(None))
        .order_by(TrainingSuggestion.account_id, TrainingSuggestion.training_id)
    )
    return [(suggestion, training, account) for suggestion, training, account in rows]


def contacts_with_roles(session: Session, account_ids: Iterable[str], roles: Iterable[str]) -> dict[str, list[Contact]]:
    """Each account's contacts with an e-mail address and one of `roles`."""
    found: dict[str, list[Contact]] = {}
    statement = (
        select(Contact)
        .where(Contact.account_id.in_(list(account_ids)), Contact.role.in_(list(roles)), Contact.email.is_not(None))
        .order_by(Contact.account_id, Contact.user_id)
    )
    for contact in session.scalars(statement):
        found.setdefault(contact.account_id, []).append(contact)
    return found
