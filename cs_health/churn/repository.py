"""Every SQL statement of the forecast and churn domain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cs_health.db.tables import ChurnModelRecord, ChurnPrediction, DailyUsage, UsageForecast, UserDailyUsage

_CHUNK = 2_000


def model_for(session: Session, as_of: dt.date) -> ChurnModelRecord | None:
    """The newest model trained on or before `as_of` (a run never uses a model that saw its future)."""
    statement = (
        select(ChurnModelRecord)
        .where(ChurnModelRecord.trained_as_of <= as_of)
        .order_by(ChurnModelRecord.trained_as_of.desc(), ChurnModelRecord.id.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def newest_model(session: Session) -> ChurnModelRecord | None:
    statement = select(ChurnModelRecord).order_by(ChurnModelRecord.trained_as_of.desc(), ChurnModelRecord.id.desc())
    return session.scalars(statement.limit(1)).first()


def add_model(session: Session, record: ChurnModelRecord) -> None:
    session.add(record)
    session.flush()


def forecast_cache(session: Session, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Prophet results already computed for this date, by series fingerprint: a re-run refits nothing."""
    rows = session.execute(
        select(UsageForecast.fingerprint, UsageForecast.series).where(
            UsageForecast.as_of == as_of, UsageForecast.method == "prophet"
        )
    )
    return {fingerprint: series["prophet"] for fingerprint, series in rows if series.get("prophet")}


def _replace(session: Session, table: Any, as_of: dt.date, rows: list[dict[str, Any]]) -> None:
    session.execute(delete(table).where(table.as_of == as_of))
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(table), rows[start : start + _CHUNK])


def replace_forecasts(session: Session, as_of: dt.date, rows: list[dict[str, Any]]) -> None:
    _replace(session, UsageForecast, as_of, rows)


def replace_predictions(session: Session, as_of: dt.date, rows: list[dict[str, Any]]) -> None:
    _replace(session, ChurnPrediction, as_of, rows)


def predictions(session: Session, as_of: dt.date | None = None) -> list[ChurnPrediction]:
    """The predictions of `as_of`, or of the newest predicted date."""
    day = as_of or session.scalar(select(func.max(ChurnPrediction.as_of)))
    if day is None:
        return []
    return list(session.scalars(select(ChurnPrediction).where(ChurnPrediction.as_of == day)))


def newest_prediction(session: Session, account_id: str) -> ChurnPrediction | None:
    statement = (
        select(ChurnPrediction)
        .where(ChurnPrediction.account_id == account_id)
        .order_by(ChurnPrediction.as_of.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def newest_forecast(session: Session, account_id: str) -> UsageForecast | None:
    statement = select(UsageForecast).where(UsageForecast.account_id == account_id).order_by(UsageForecast.as_of.desc())
    return session.scalars(statement.limit(1)).first()


def daily_usage(session: Session, account_id: str, since: dt.date) -> list[tuple[dt.date, str, int]]:
    rows = session.execute(
        select(DailyUsage.day, DailyUsage.event, DailyUsage.events).where(
            DailyUsage.account_id == account_id, DailyUsage.day >= since
        )
    )
    return [(day, event, events) for day, event, events in rows]


def daily_active_users(session: Session, account_id: str, since: dt.date) -> dict[dt.date, int]:
    rows = session.execute(
        select(UserDailyUsage.day, func.count(func.distinct(UserDailyUsage.user_id)))
        .where(UserDailyUsage.account_id == account_id, UserDailyUsage.day >= since, UserDailyUsage.user_id != "")
        .group_by(UserDailyUsage.day)
    )
    return dict(rows.all())
