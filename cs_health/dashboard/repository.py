"""Every SQL statement of the dashboard. Pages read set-based: one statement for a page of accounts (scores,
terms, overrides and churn joined in), never one query per account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import KeyedColumnElement

from cs_health.db.tables import (
    Account,
    Alert,
    ChurnModelRecord,
    ChurnPrediction,
    Contact,
    DailyUsage,
    DashboardUser,
    HealthOverride,
    HealthScore,
    Report,
    Subscription,
    Touchpoint,
    Training,
    TrainingSuggestion,
)

BAND_ORDER = {"red": 0, "yellow": 1, "green": 2, "unknown": 3}
SEVERITY_ORDER = {"critical": 0, "high": 1, "warning": 2, "medium": 2, "low": 3, "info": 4}


# ------------------------------------------------------------------------------------------------- users


def user_by_email(session: Session, email: str) -> DashboardUser | None:
    return session.scalar(select(DashboardUser).where(func.lower(DashboardUser.email) == email.lower()))


def user_by_id(session: Session, user_id: int) -> DashboardUser | None:
    return session.get(DashboardUser, user_id)


def add(session: Session, record: object) -> None:
    session.add(record)
    session.flush()


def merge(session: Session, record: object) -> None:
    session.merge(record)
    session.flush()


# --------------------------------------------------------------------------------------------- portfolio


def newest_score_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(HealthScore.as_of)))


def newest_prediction_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(ChurnPrediction.as_of)))


def count_accounts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Account)) or 0


def _terms(today: dt.date) -> Subquery:
    """Per account, the terms covering today: their ARR and seats summed, the earliest end as the renewal date."""
    return (
        select(
            Subscription.account_id,
            func.sum(Subscription.arr).label("arr"),
            func.sum(Subscription.seats).label("seats"),
            func.min(Subscription.end_date).label("renewal_date"),
        )
        .where(Subscription.start_date <= today, Subscription.end_date >= today)
        .group_by(Subscription.account_id)
        .subquery("term")
    )


def _override_band(today: dt.date, account_id: Any) -> ColumnElement[Any]:
    """The band of the newest live override of the row's account (correlated: one index lookup per row)."""
    return (
        select(HealthOverride.band)
        .where(
            HealthOverride.account_id == account_id,
            HealthOverride.expires_on > today,
            HealthOverride.revoked_at.is_(None),
        )
        .order_by(HealthOverride.created_at.desc(), HealthOverride.id.desc())
        .limit(1)
        .scalar_subquery()
    )


class PortfolioSource:
    """The joined portfolio (account, current terms, score of `scored_on`, live override, churn of `predicted_on`)
    with its columns by name, so sorting and filtering stay one statement."""

    def __init__(self, today: dt.date, scored_on: dt.date | None, predicted_on: dt.date | None) -> None:
        self.today = today
        term, override = _terms(today), _override_band(today, Account.account_id)
        self.term = term
        self.band = func.coalesce(override, HealthScore.band, literal("unknown"))
        self.joins: dict[str, tuple[Any, ColumnElement[bool]]] = {
            "term": (term, term.c.account_id == Account.account_id),
            "score": (HealthScore, and_(HealthScore.account_id == Account.account_id, HealthScore.as_of == scored_on)),
            "churn": (
                ChurnPrediction,
                and_(ChurnPrediction.account_id == Account.account_id, ChurnPrediction.as_of == predicted_on),
            ),
        }
        self.source = self.joined(*self.joins)
        self.columns: dict[str, KeyedColumnElement[Any] | ColumnElement[Any]] = {
            "account_id": Account.account_id,
            "name": Account.name,
            "segment": Account.segment,
            "csm_email": Account.csm_email,
            "arr": term.c.arr,
            "renewal_date": term.c.renewal_date,
            "score": HealthScore.score,
            "trend_7d": HealthScore.trend_7d,
            "band": self.band,
            "model_band": HealthScore.band,
            "overridden": override.is_not(None),
            "lifecycle_stage": HealthScore.lifecycle_stage,
            "quadrant": HealthScore.quadrant,
            "churn_90d": ChurnPrediction.probability_90d,
            "churn_renewal": ChurnPrediction.probability_renewal,
            "arr_at_risk": ChurnPrediction.arr_at_risk,
        }
        self.sort_keys: dict[str, ColumnElement[Any]] = {
            "name": func.lower(func.coalesce(Account.name, Account.account_id)),
            "arr": term.c.arr,
            "score": HealthScore.score,
            "trend": HealthScore.trend_7d,
            "band": case(BAND_ORDER, value=self.band, else_=len(BAND_ORDER)),
            "churn": ChurnPrediction.probability_90d,
            "renewal": term.c.renewal_date,
            "stage": HealthScore.lifecycle_stage,
            "csm": func.lower(Account.csm_email),
            "segment": Account.segment,
        }

    def joined(self, *names: str) -> Any:
        """Account left-joined to the named parts only (a count needs just what its filters read)."""
        source: Any = Account.__table__
        for name in names:
            target, condition = self.joins[name]
            source = source.outerjoin(target, condition)
        return source

    @staticmethod
    def needs(filters: dict[str, Any]) -> list[str]:
        wanted = []
        if filters.get("renewal_days") is not None:
            wanted.append("term")
        if filters.get("band") or filters.get("stage") or filters.get("quadrant"):
            wanted.append("score")
        return wanted

    def select(self, *columns: str) -> Select[Any]:
        chosen = columns or tuple(self.columns)
        return select(*(self.columns[name].label(name) for name in chosen)).select_from(self.source)

    def where(
        self,
        statement: Select[Any],
        *,
        mine: str | None = None,
        band: str = "",
        stage: str = "",
        segment: str = "",
        csm: str = "",
        quadrant: str = "",
        renewal_days: int | None = None,
        text: str = "",
    ) -> Select[Any]:
        if mine is not None:
            statement = statement.where(func.lower(Account.csm_email) == mine.lower())
        if band:
            statement = statement.where(self.band == band)
        if stage:
            statement = statement.where(HealthScore.lifecycle_stage == stage)
        if segment:
            statement = statement.where(Account.segment == segment)
        if csm:
            statement = statement.where(Account.csm_email == csm)
        if quadrant:
            statement = statement.where(HealthScore.quadrant == quadrant)
        if renewal_days is not None:
            statement = statement.where(
                self.term.c.renewal_date.between(self.today, self.today + dt.timedelta(days=renewal_days))
            )
        if text:
            needle = text.lower()
            statement = statement.where(
                or_(
                    func.lower(Account.name).contains(needle, autoescape=True),
                    func.lower(Account.account_id).contains(needle, autoescape=True),
                )
            )
        return statement


def portfolio_page(
    session: Session,
    source: PortfolioSource,
    filters: dict[str, Any],
    *,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the filtered, sorted portfolio and the number of accounts that match."""
    key = source.sort_keys[sort]
    ordered = (key.desc() if descending else key.asc()).nulls_last()
    statement = source.where(source.select(), **filters).order_by(ordered, Account.account_id)
    rows = [dict(row) for row in session.execute(statement.limit(limit).offset(offset)).mappings()]
    counted = source.where(select(func.count()).select_from(source.joined(*source.needs(filters))), **filters)
    return rows, session.scalar(counted) or 0


def filter_options(session: Session) -> dict[str, list[str]]:
    """The values the segment and CSM filters offer (stages and quadrants are fixed names)."""

    def distinct(column: Any) -> list[str]:
        statement = select(column).where(column.is_not(None)).distinct().order_by(column)
        return [value for value in session.scalars(statement) if value]

    return {"segments": distinct(Account.segment), "csms": distinct(Account.csm_email)}


def quadrant_totals(session: Session, source: PortfolioSource, mine: str | None) -> list[tuple[str | None, int, float]]:
    """Accounts and ARR per quadrant, in one grouped statement."""
    quadrant = source.columns["quadrant"]
    statement = source.where(
        select(quadrant, func.count(), func.coalesce(func.sum(source.term.c.arr), 0.0)).select_from(source.source),
        mine=mine,
    ).group_by(quadrant)
    return [(name, int(count), float(arr)) for name, count, arr in session.execute(statement)]


def quadrant_points(session: Session, source: PortfolioSource, mine: str | None, limit: int) -> list[dict[str, Any]]:
    """The largest accounts by ARR with a score and a quadrant, for the scatter."""
    statement = source.where(source.select("name", "account_id", "arr", "score", "quadrant"), mine=mine)
    statement = statement.where(HealthScore.quadrant.is_not(None), source.term.c.arr > 0)
    statement = statement.order_by(source.term.c.arr.desc(), Account.account_id).limit(limit)
    return [dict(row) for row in session.execute(statement).mappings()]


# ---------------------------------------------------------------------------------------------- renewals


def renewals(
    session: Session,
    start: dt.date,
    end: dt.date,
    mine: str | None,
    scored_on: dt.date | None,
    predicted_on: dt.date | None,
) -> list[dict[str, Any]]:
    """Terms ending between `start` and `end` (cancelled ones are churn, not renewals) with band and P(no renewal)."""
    override = _override_band(start, Subscription.account_id)
    statement = (
        select(
            Subscription.account_id,
            Account.name,
            Account.csm_email,
            Subscription.end_date.label("renewal_date"),
            Subscription.arr,
            func.coalesce(override, HealthScore.band).label("band"),
            ChurnPrediction.probability_renewal,
        )
        .join(Account, Account.account_id == Subscription.account_id)
        .outerjoin(HealthScore, and_(HealthScore.account_id == Subscription.account_id, HealthScore.as_of == scored_on))
        .outerjoin(
            ChurnPrediction,
            and_(ChurnPrediction.account_id == Subscription.account_id, ChurnPrediction.as_of == predicted_on),
        )
        .where(Subscription.end_date.between(start, end), Subscription.status != "cancelled")
        .order_by(Subscription.end_date, Subscription.arr.desc(), Subscription.account_id)
    )
    if mine is not None:
        statement = statement.where(func.lower(Account.csm_email) == mine.lower())
    return [dict(row) for row in session.execute(statement).mappings()]


# ------------------------------------------------------------------------------------------------ alerts


def _alert_columns() -> tuple[Any, ...]:
    return (
        Alert.id,
        Alert.account_id,
        Account.name.label("account_name"),
        Account.csm_email,
        Alert.rule,
        Alert.severity,
        Alert.status,
        Alert.title,
        Alert.message,
        Alert.as_of,
        Alert.last_fired_at,
        Alert.fire_count,
        Alert.snoozed_until,
        Alert.acknowledged_by,
    )


def alerts(
    session: Session, statuses: Sequence[str], mine: str | None, account_id: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts in `statuses`, most severe and most recent first."""
    severity = case(SEVERITY_ORDER, value=func.lower(Alert.severity), else_=len(SEVERITY_ORDER))
    statement = (
        select(*_alert_columns())
        .join(Account, Account.account_id == Alert.account_id)
        .where(Alert.status.in_(list(statuses)))
        .order_by(severity, Alert.last_fired_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    if mine is not None:
        statement = statement.where(func.lower(Account.csm_email) == mine.lower())
    if account_id is not None:
        statement = statement.where(Alert.account_id == account_id)
    return [dict(row) for row in session.execute(statement).mappings()]


def alert_counts(session: Session, mine: str | None) -> dict[str, int]:
    statement = (
        select(Alert.status, func.count()).join(Account, Account.account_id == Alert.account_id).group_by(Alert.status)
    )
    if mine is not None:
        statement = statement.where(func.lower(Account.csm_email) == mine.lower())
    return {status: int(count) for status, count in session.execute(statement)}


def get_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


# ----------------------------------------------------------------------------------------- account 360


def get_account(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def current_term(session: Session, account_id: str, today: dt.date) -> dict[str, Any] | None:
    term = _terms(today)
    row = session.execute(select(term).where(term.c.account_id == account_id)).mappings().first()
    return dict(row) if row else None


def daily_usage(session: Session, account_id: str, since: dt.date) -> list[tuple[dt.date, float]]:
    """Events per day of one account since `since` (summed over features)."""
    statement = (
        select(DailyUsage.day, func.sum(DailyUsage.events))
        .where(DailyUsage.account_id == account_id, DailyUsage.day >= since)
        .group_by(DailyUsage.day)
        .order_by(DailyUsage.day)
    )
    return [(day, float(events or 0)) for day, events in session.execute(statement)]


def suggestions(session: Session, account_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The training suggestions of the account's newest suggestion date, with the catalogue entry."""
    newest = (
        select(func.max(TrainingSuggestion.as_of)).where(TrainingSuggestion.account_id == account_id).scalar_subquery()
    )
    statement = (
        select(
            Training.title,
            Training.url,
            Training.level,
            Training.format,
            TrainingSuggestion.reason,
            TrainingSuggestion.status,
            TrainingSuggestion.as_of,
        )
        .join(Training, Training.training_id == TrainingSuggestion.training_id)
        .where(TrainingSuggestion.account_id == account_id, TrainingSuggestion.as_of == newest)
        .order_by(TrainingSuggestion.id)
        .limit(limit)
    )
    return [dict(row) for row in session.execute(statement).mappings()]


def touchpoints(session: Session, account_id: str, limit: int = 20) -> list[Touchpoint]:
    statement = (
        select(Touchpoint).where(Touchpoint.account_id == account_id).order_by(Touchpoint.at.desc()).limit(limit)
    )
    return list(session.scalars(statement))


def contacts(session: Session, account_id: str, limit: int = 25) -> tuple[list[Contact], int]:
    statement = select(Contact).where(Contact.account_id == account_id).order_by(Contact.role, Contact.name)
    total = session.scalar(select(func.count()).select_from(Contact).where(Contact.account_id == account_id)) or 0
    return list(session.scalars(statement.limit(limit))), total


def reports(session: Session, account_id: str, limit: int = 12) -> list[Report]:
    statement = select(Report).where(Report.account_id == account_id).order_by(Report.created_at.desc()).limit(limit)
    return list(session.scalars(statement))


# -------------------------------------------------------------------------------------------------- model


def newest_model(session: Session) -> ChurnModelRecord | None:
    statement = select(ChurnModelRecord).order_by(
        ChurnModelRecord.trained_as_of.desc(), ChurnModelRecord.created_at.desc(), ChurnModelRecord.id.desc()
    )
    return session.scalars(statement.limit(1)).first()
