"""The counting queries behind `cs-health status`: one aggregate per table, never a scan per account."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_health.db.tables import (
    Account,
    Alert,
    Contact,
    ImportRun,
    OutboxMessage,
    PipelineRun,
    Subscription,
    Ticket,
    UsageEvent,
)


def counts(session: Session) -> dict[str, int]:
    def count(statement: Any) -> int:
        return int(session.scalar(statement) or 0)

    return {
        "accounts": count(select(func.count()).select_from(Account)),
        "users": count(select(func.count()).select_from(Contact)),
        "subscriptions": count(select(func.count()).select_from(Subscription)),
        "events": count(select(func.count()).select_from(UsageEvent)),
        "tickets": count(select(func.count()).select_from(Ticket)),
        "alerts_open": count(select(func.count()).select_from(Alert).where(Alert.status == "open")),
        "outbox_pending": count(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        ),
    }


def freshness(session: Session, stale_before: dt.datetime) -> dict[str, Any]:
    latest_event, latest_received = session.execute(
        select(func.max(Account.last_event_at), func.max(Account.last_received_at))
    ).one()
    stale = session.scalar(
        select(func.count())
        .select_from(Account)
        .where((Account.last_event_at.is_(None)) | (Account.last_event_at < stale_before))
    )
    return {
        "latest_event_at": latest_event,
        "latest_received_at": latest_received,
        "accounts_without_recent_events": stale,
    }


def last_run(session: Session) -> PipelineRun | None:
    """The newest nightly run (demo bookkeeping rows are not runs)."""
    statement = select(PipelineRun).where(PipelineRun.kind == "run").order_by(PipelineRun.started_at.desc()).limit(1)
    return session.scalars(statement).first()


def last_import(session: Session) -> ImportRun | None:
    return session.scalars(select(ImportRun).order_by(ImportRun.finished_at.desc()).limit(1)).first()


def running_runs(session: Session) -> list[PipelineRun]:
    """Nightly runs still marked running (normally none, or the one in progress)."""
    statement = select(PipelineRun).where(PipelineRun.kind == "run", PipelineRun.status == "running")
    return list(session.scalars(statement))
