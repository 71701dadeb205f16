"""The audit log: who changed or took out what, and when. Rows are only ever added, never updated or deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cs_health.db.base import Base


class AuditEvent(Base):
    """One audited action. `details` never holds a secret (no key, password or hash), only what identifies it."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user, api_key, cli or system
    actor: Mapped[str] = mapped_column(String(320))  # the user's e-mail, the key's prefix, the OS user, the job
    actor_name: Mapped[str | None] = mapped_column(String(200))  # the key's name, when it has one
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(320))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
