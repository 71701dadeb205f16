"""The relationship signals beside usage: support tickets, NPS answers and CSM touchpoints."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cs_health.db.base import Base
from cs_health.db.tables.accounts import ID


class Ticket(Base):
    __tablename__ = "ticket"

    ticket_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    csat: Mapped[int | None] = mapped_column(Integer)


class NpsResponse(Base):
    """An NPS answer; its id is a hash of (account, time, user), so re-imports replace instead of adding."""

    __tablename__ = "nps_response"

    response_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    responded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    score: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(ID)
    comment: Mapped[str | None] = mapped_column(Text)


class Touchpoint(Base):
    """A CSM touch (the six-touch rule counts these); id is a hash of (account, time, kind)."""

    __tablename__ = "touchpoint"

    touchpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))
    csm_email: Mapped[str | None] = mapped_column(String(320))
    notes: Mapped[str | None] = mapped_column(Text)
