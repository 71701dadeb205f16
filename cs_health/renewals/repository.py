"""Every SQL statement of alerts, the outbox and the scheduler lease: set-based reads, compare-and-set writes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable
from typing import Any

import pandas as pd
from sqlalchemy import CursorResult, Select, String, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cs_health.db.frames import read_frame
from cs_health.db.tables import (
    Account,
    Alert,
    ChurnPrediction,
    DashboardUser,
    HealthScore,
    OutboxMessage,
    Training,
    TrainingSuggestion,
    UsageForecast,
)
from cs_health.db.tables.alerts import SchedulerLease
from cs_health.renewals.schemas import RESOLVED, AlertFilters

PENDING, SENDING, SENT, WRITTEN, FAILED = "pending", "sending", "sent", "written", "failed"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- the snapshot the rules read ---------------------------------------------------------------------------------


def scored_accounts(session: Session, as_of: dt.date) -> pd.DataFrame:
    """The stored health rows of `as_of` with their account fields and the features kept in the components."""
    # Only the features leave the database (not the whole components document); spelled per dialect because
    # read_frame skips SQLAlchemy's bind processing of JSON paths.
    if session.get_bind().dialect.name == "sqlite":
        features = func.json_extract(HealthScore.components, literal("$.features", String))
    else:
        features = HealthScore.components.op("->")(literal("features", String))
    frame = read_frame(
        session,
        select(
            HealthScore.account_id,
            HealthScore.score,
            HealthScore.band,
            HealthScore.trend_7d,
            HealthScore.trend_30d,
            HealthScore.lifecycle_stage,
            HealthScore.quadrant,
            features.label("features"),
            Account.name.label("account_name"),
            Account.csm_email,
            Account.segment,
            Account.plan,
            Account.tags,
        )
        .join(Account, Account.account_id == HealthScore.account_id)
        .where(HealthScore.as_of == as_of)
        .order_by(HealthScore.account_id),
    )
    frame["features"] = frame["features"].map(lambda value: _json(value) or {})
    frame["tags"] = frame["tags"].map(lambda value: _json(value) or [])
    return frame


def previous_stages(session: Session, as_of: dt.date) -> pd.DataFrame:
    """Each account's lifecycle stage on the newest scored date before `as_of` (empty before the second run)."""
    before = session.scalar(select(func.max(HealthScore.as_of)).where(HealthScore.as_of < as_of))
    statement = select(HealthScore.account_id, HealthScore.lifecycle_stage.label("previous_stage"))
    return read_frame(session, statement.where(HealthScore.as_of == (before or dt.date.min)))


def churn_probabilities(session: Session, as_of: dt.date) -> pd.DataFrame:
    """The churn forecast of `as_of` (empty until the churn stage has run)."""
    statement = select(
        ChurnPrediction.account_id,
        ChurnPrediction.probability_30d.label("churn_probability_30d"),
        ChurnPrediction.probability_90d.label("churn_probability_90d"),
        ChurnPrediction.probability_renewal.label("churn_probability_renewal"),
    ).where(ChurnPrediction.as_of == as_of)
    return read_frame(session, statement)


def usage_anomalies(session: Session, as_of: dt.date) -> pd.DataFrame:
    """Whether usage fell below the forecast band, from the forecast of `as_of` (empty until forecasts exist)."""
    statement = select(UsageForecast.account_id, UsageForecast.anomaly.label("usage_anomaly")).where(
        UsageForecast.as_of == as_of
    )
    return read_frame(session, statement)


# --- alerts ------------------------------------------------------------------------------------------------------


def alerts_to_reconcile(session: Session, rules: Collection[str], since: dt.date) -> list[Alert]:
    """Unresolved alerts of these rules, and resolved ones that last fired on or after `since` (cooldown)."""
    statement = (
        select(Alert)
        .where(Alert.rule.in_(list(rules)), or_(Alert.status != RESOLVED, Alert.as_of >= since))
        .order_by(Alert.id)
    )
    return list(session.scalars(statement))


def add_all(session: Session, rows: Iterable[Any]) -> None:
    session.add_all(list(rows))
    session.flush()


def mail_preferences(session: Session, emails: Collection[str]) -> dict[str, tuple[str, bool]]:
    """(preference, disabled) of the dashboard users among `emails`, keyed by lower-cased e-mail."""
    if not emails:
        return {}
    rows = session.execute(
        select(DashboardUser.email, DashboardUser.mail_preference, DashboardUser.disabled).where(
            func.lower(DashboardUser.email).in_([email.lower() for email in emails])
        )
    )
    return {email.lower(): (preference, disabled) for email, preference, disabled in rows}


def _filtered(statement: Select[Any], filters: AlertFilters) -> Select[Any]:
    if filters.status:
        statement = statement.where(Alert.status == filters.status)
    if filters.severity:
        statement = statement.where(Alert.severity == filters.severity)
    if filters.rule:
        statement = statement.where(Alert.rule == filters.rule)
    if filters.account_id:
        statement = statement.where(Alert.account_id == filters.account_id)
    if filters.csm:
        owned = select(Account.account_id).where(func.lower(Account.csm_email) == filters.csm.lower())
        statement = statement.where(Alert.account_id.in_(owned))
    return statement


def list_alerts(session: Session, filters: AlertFilters, offset: int, limit: int) -> tuple[list[Alert], int]:
    """One page of alerts, newest first, and the total matching the filters."""
    total = session.scalar(_filtered(select(func.count()).select_from(Alert), filters)) or 0
    statement = _filtered(select(Alert), filters).order_by(Alert.last_fired_at.desc(), Alert.id.desc())
    return list(session.scalars(statement.offset(offset).limit(limit))), total


def get_alert(session: Session, alert_id: int, for_update: bool = False) -> Alert | None:
    statement = select(Alert).where(Alert.id == alert_id)
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


# --- the outbox --------------------------------------------------------------------------------------------------


def due_messages(session: Session, now: dt.datetime, limit: int) -> list[tuple[int, int]]:
    """(id, attempts) of messages due now: pending ones, and claimed ones whose claim ran out (a crashed sender)."""
    statement = (
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(OutboxMessage.status.in_([PENDING, SENDING]), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    return [(row_id, attempts) for row_id, attempts in session.execute(statement)]


def claim(session: Session, message_id: int, seen_attempts: int, now: dt.datetime, until: dt.datetime) -> bool:
    """Compare-and-set: the message is ours only if nobody claimed it since we read it (attempts unchanged)."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.attempts == seen_attempts,
            OutboxMessage.status.in_([PENDING, SENDING]),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status=SENDING, attempts=seen_attempts + 1, next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def messages(session: Session, ids: Collection[int]) -> list[OutboxMessage]:
    if not ids:
        return []
    return list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(list(ids))).order_by(OutboxMessage.id))
    )


def mark(session: Session, message_id: int, **values: Any) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows}


# --- the scheduler lease -----------------------------------------------------------------------------------------


def acquire_lease(session: Session, job_id: str, holder: str, now: dt.datetime, until: dt.datetime) -> bool:
    """Takes or extends the lease of `job_id` (atomic: an UPDATE that only matches a free or own lease, else an
    INSERT that does nothing when another process inserted first)."""
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.job_id == job_id,
            or_(SchedulerLease.expires_at <= now, SchedulerLease.holder == holder),
        )
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        return True
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    statement = (
        insert(SchedulerLease)
        .values(job_id=job_id, holder=holder, expires_at=until)
        .on_conflict_do_nothing(index_elements=["job_id"])
        .returning(SchedulerLease.job_id)  # rowcount of INSERT ... ON CONFLICT is not reliable across drivers
    )
    return session.execute(statement).first() is not None


def release_lease(session: Session, job_id: str, holder: str, now: dt.datetime) -> None:
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.job_id == job_id, SchedulerLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )


def lease_holder(session: Session, job_id: str) -> tuple[str, dt.datetime] | None:
    row = session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.job_id == job_id)
    ).first()
    return (row[0], row[1]) if row else None


def suggestions_of(session: Session, as_of: dt.date) -> list[tuple[str, str, str, str | None]]:
    """(account_id, training title, reason, url) of the training suggestions made on `as_of`."""
    rows = session.execute(
        select(TrainingSuggestion.account_id, Training.title, TrainingSuggestion.reason, Training.url)
        .join(Training, Training.training_id == TrainingSuggestion.training_id)
        .where(TrainingSuggestion.as_of == as_of)
        .order_by(TrainingSuggestion.account_id, Training.title)
    )
    return [tuple(row) for row in rows]
