"""The training catalogue and the suggestions made from it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cs_health.db.base import Base


class Training(Base):
    __tablename__ = "training"

    training_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    features: Mapped[list[str]] = mapped_column(default=list)
    url: Mapped[str | None] = mapped_column(String(2000))
    level: Mapped[str | None] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(16))


class TrainingSuggestion(Base):
    __tablename__ = "training_suggestion"
    __table_args__ = (UniqueConstraint("account_id", "as_of", "training_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    training_id: Mapped[str] = mapped_column(ForeignKey("training.training_id"))
    features: Mapped[list[str]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="suggested")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
