"""What the nightly run stores per account and as-of date: health, forecasts, churn predictions, trained models.

Every row names the scorecard or model version that produced it; (account_id, as_of) is the key, so re-running
a date replaces that date's results.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cs_health.db.base import Base


class HealthScore(Base):
    __tablename__ = "health_score"

    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)
    score: Mapped[float | None] = mapped_column(Float)  # None when no measure had data (band "unknown")
    band: Mapped[str] = mapped_column(String(8))
    trend_7d: Mapped[float | None] = mapped_column(Float)
    trend_30d: Mapped[float | None] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(16))
    quadrant: Mapped[str | None] = mapped_column(String(32))
    scorecard_version: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class HealthOverride(Base):
    """A CSM's band override with its reason; the model score stays beside it and it lapses at `expires_on`."""

    __tablename__ = "health_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), index=True)
    band: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class UsageForecast(Base):
    __tablename__ = "usage_forecast"

    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    horizon_end: Mapped[dt.date] = mapped_column(Date)
    current_level: Mapped[float | None] = mapped_column(Float)
    projected_level: Mapped[float | None] = mapped_column(Float)
    trend: Mapped[float | None] = mapped_column(Float)
    anomaly: Mapped[bool] = mapped_column(Boolean, default=False)
    series: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_version: Mapped[str] = mapped_column(String(64))


class ChurnPrediction(Base):
    __tablename__ = "churn_prediction"

    account_id: Mapped[str] = mapped_column(ForeignKey("account.account_id"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)
    probability_30d: Mapped[float] = mapped_column(Float)
    probability_90d: Mapped[float] = mapped_column(Float)
    probability_renewal: Mapped[float] = mapped_column(Float)
    renewal_date: Mapped[dt.date | None] = mapped_column(Date)
    arr: Mapped[float] = mapped_column(Float)
    arr_at_risk: Mapped[float] = mapped_column(Float)
    drivers: Mapped[list[Any]] = mapped_column(default=list)
    is_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(64))


class ChurnModelRecord(Base):
    """A trained churn model, serialised as versioned JSON (never pickled), with its backtest."""

    __tablename__ = "churn_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trained_as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    version: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backtest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    notes: Mapped[str | None] = mapped_column(Text)
