"""Alerts and the e-mail outbox, written in one transaction so a crash never loses or duplicates mail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cs_health.db.base import Base


class Alert(Base):
    """One alert per dedup key while unresolved; `notified_on`/`notified_severity` drive cooldown and escalation."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(300), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    as_of: Mapped[dt.date] = mapped_column(Date)
    first_fired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_fired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    fire_count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    notified_on: Mapped[dt.date | None] = mapped_column(Date)
    notified_severity: Mapped[str | None] = mapped_column(String(16))


class OutboxMessage(Base):
    """One e-mail to deliver; `message_id` is stable so a retried send is recognisable downstream."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))


class SchedulerLease(Base):
    """Who may run a scheduled job right now: two scheduler processes never run the same job at once."""

    __tablename__ = "scheduler_lease"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SchedulerJob(Base):
    """APScheduler's own job store table, declared here (same shape as its `SQLAlchemyJobStore` creates) so the
    migrations create it and the schema check knows it; only APScheduler reads and writes it."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
