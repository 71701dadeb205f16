"""Every SQL statement about the audit log (it is only ever appended to)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cs_health.db.tables import AuditEvent


def add(session: Session, event: AuditEvent) -> AuditEvent:
    session.add(event)
    session.flush()
    return event


def _filtered(statement: Select, action: str | None, since: dt.datetime | None) -> Select:
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    return statement


def events(
    session: Session, action: str | None, since: dt.datetime | None, offset: int, limit: int
) -> tuple[list[AuditEvent], int]:
    """One page of events, newest first, and how many match the filters."""
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEvent), action, since)) or 0
    statement = _filtered(select(AuditEvent), action, since).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return list(session.scalars(statement.offset(offset).limit(limit))), total


def latest(session: Session, action: str, target: str) -> AuditEvent | None:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.target == target)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    return session.scalar(statement)
