"""The dashboard's logic: who sees what, one page of the portfolio, the quadrant and renewal summaries, the account
360, alert actions, touchpoints, overrides and the model page. Flushes, never commits; charts come from
reports.charts as inline SVG (escaped by matplotlib, checked in the tests)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from markupsafe import Markup
from sqlalchemy.orm import Session

from cs_health.accounts import service as accounts_service
from cs_health.audit import service as audit
from cs_health.audit.schemas import Actor, AuditAction
from cs_health.churn import repository as churn_repository
from cs_health.churn.service import forecast_columns
from cs_health.config import Settings
from cs_health.dashboard import repository
from cs_health.dashboard.auth import (
    MIN_PASSWORD_LENGTH,
    THROTTLE,
    LoginFailed,
    TooManyAttempts,
    WebSession,
    fingerprint,
    hash_password,
    verify_password,
)
from cs_health.dashboard.schemas import (
    ALERT_STATUSES,
    PAGE_SIZE,
    TOUCHPOINT_KINDS,
    AccountPage,
    AlertRow,
    AlertsPage,
    BacktestView,
    ChurnView,
    ContactRow,
    DashboardUserView,
    Driver,
    FilterOptions,
    Metric,
    ModelPage,
    OverrideForm,
    PortfolioPage,
    PortfolioQuery,
    PortfolioRow,
    QuadrantCell,
    QuadrantPage,
    RenewalMonth,
    RenewalRow,
    RenewalsPage,
    ReportRow,
    Scope,
    SuggestionRow,
    TouchpointForm,
    TouchpointRow,
)
from cs_health.db.tables import Alert, DashboardUser, Touchpoint
from cs_health.exceptions import Conflict, InvalidInput, NotFound
from cs_health.health import service as health_service
from cs_health.health.schemas import OverrideIn
from cs_health.ingestion.keys import record_id
from models.lifecycle import MOTIONS, QUADRANTS, STAGES
from reports import charts

ROLES = ("csm", "admin")
QUADRANT_LABELS = {
    "high_value_at_risk": "High value, at risk",
    "high_value_healthy": "High value, healthy",
    "low_value_at_risk": "Lower value, at risk",
    "low_value_healthy": "Lower value, healthy",
}
QUADRANT_TOP = 10
SCATTER_LIMIT = 1_000
RENEWAL_DAYS = 180
USAGE_DAYS = 180
HISTORY_DAYS = 365
AlertAction = Literal["ack", "snooze", "resolve"]


# ------------------------------------------------------------------------------------------------- users


def create_user(
    session: Session, email: str, role: str, password: str, now: dt.datetime, *, actor: Actor
) -> DashboardUserView:
    """A new CSM or admin, audited; the password is stored only as an argon2 hash."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidInput(f"email: {email!r} is not an e-mail address", field="email")
    if role not in ROLES:
        raise InvalidInput(f"role: must be csm or admin, not {role!r}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if repository.user_by_email(session, email) is not None:
        raise Conflict(f"a dashboard user {email} already exists", email=email)
    user = DashboardUser(
        email=email, role=role, password_hash=hash_password(password), created_at=now.replace(tzinfo=None)
    )
    repository.add(session, user)
    audit.record(session, actor, AuditAction.USER_CREATED, at=now, target=email, details={"role": role})
    return DashboardUserView(id=user.id, email=user.email, role=user.role)


def log_in(session: Session, email: str, password: str, settings: Settings, now: float) -> WebSession:
    """A fresh session (new CSRF token) for a right e-mail and password; repeated failures lock the address."""
    email = email.strip().lower()
    wait = THROTTLE.locked_for(email, now, settings.LOGIN_MAX_FAILURES, settings.LOGIN_LOCKOUT_SECONDS)
    if wait > 0:
        raise TooManyAttempts(f"too many failed logins: try again in {math.ceil(wait / 60)} minute(s)")
    user = repository.user_by_email(session, email) if email else None
    if not verify_password(password, user.password_hash if user else None) or user is None or user.disabled:
        THROTTLE.failed(email, now)
        raise LoginFailed("wrong e-mail or password")
    THROTTLE.succeeded(email)
    return WebSession(user_id=user.id, password=fingerprint(user), fresh=True)


def resolve_scope(user: DashboardUserView, requested: str | None) -> Scope:
    """A CSM starts on their own book, an admin on everything; either may switch."""
    if requested in ("mine", "all"):
        return requested  # type: ignore[return-value]
    return "all" if user.is_admin else "mine"


def _mine(user: DashboardUserView, scope: Scope) -> str | None:
    return user.email if scope == "mine" else None


# --------------------------------------------------------------------------------------------- portfolio


def _source(session: Session, today: dt.date) -> repository.PortfolioSource:
    return repository.PortfolioSource(
        today, repository.newest_score_day(session), repository.newest_prediction_day(session)
    )


def _dated(session: Session, today: dt.date) -> tuple[repository.PortfolioSource, dt.date | None, dt.date | None]:
    scored_on, predicted_on = repository.newest_score_day(session), repository.newest_prediction_day(session)
    return repository.PortfolioSource(today, scored_on, predicted_on), scored_on, predicted_on


def portfolio(session: Session, query: PortfolioQuery, user: DashboardUserView, today: dt.date) -> PortfolioPage:
    """One page (50 rows) of the filtered, sorted portfolio, read in one statement plus its count."""
    scope = resolve_scope(user, query.scope)
    source, scored_on, predicted_on = _dated(session, today)
    filters = {
        "mine": _mine(user, scope),
        "band": query.band,
        "stage": query.stage,
        "segment": query.segment,
        "csm": query.csm,
        "quadrant": query.quadrant,
        "renewal_days": query.renewal_days,
        "text": query.q,
    }
    descending = query.order == "desc"
    rows, total = repository.portfolio_page(
        session,
        source,
        filters,
        sort=query.sort,
        descending=descending,
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if query.page > pages and total:
        query = query.model_copy(update={"page": pages})
        rows, _ = repository.portfolio_page(
            session,
            source,
            filters,
            sort=query.sort,
            descending=descending,
            limit=PAGE_SIZE,
            offset=(pages - 1) * PAGE_SIZE,
        )
    options = repository.filter_options(session) | {"stages": list(STAGES), "quadrants": list(QUADRANTS)}
    return PortfolioPage(
        query=query,
        scope=scope,
        rows=[PortfolioRow(**row) for row in rows],
        total=total,
        pages=pages,
        scored_on=scored_on,
        predicted_on=predicted_on,
        accounts_in_database=total if not any(filters.values()) else repository.count_accounts(session),
        options=FilterOptions(**options),
    )


def quadrants(session: Session, user: DashboardUserView, requested: str | None, today: dt.date) -> QuadrantPage:
    """Accounts and ARR per value x risk quadrant, the largest accounts of each and the recommended motion."""
    scope = resolve_scope(user, requested)
    mine = _mine(user, scope)
    source = _source(session, today)
    totals = {name: (count, arr) for name, count, arr in repository.quadrant_totals(session, source, mine)}
    cells = []
    for name in QUADRANTS:
        count, arr = totals.get(name, (0, 0.0))
        top, _ = repository.portfolio_page(
            session, source, {"mine": mine, "quadrant": name}, sort="arr", descending=True, limit=QUADRANT_TOP, offset=0
        )
        cells.append(
            QuadrantCell(
                quadrant=name,
                label=QUADRANT_LABELS.get(name, name),
                motion=MOTIONS[name],
                accounts=count,
                arr=arr,
                top=[PortfolioRow(**row) for row in top],
            )
        )
    points = repository.quadrant_points(session, source, mine, SCATTER_LIMIT)
    chart = None
    if points:
        chart = charts.quadrant_svg(
            [point["arr"] for point in points],
            [point["score"] for point in points],
            [point["quadrant"] for point in points],
            names=[point["name"] or point["account_id"] for point in points],
            title="Accounts by health score and ARR",
        )
    return QuadrantPage(
        scope=scope,
        scored_on=source_day(session),
        cells=cells,
        chart_svg=chart,
        charted=len(points),
        unplaced=totals.get(None, (0, 0.0))[0],
    )


def source_day(session: Session) -> dt.date | None:
    return repository.newest_score_day(session)


def renewals(session: Session, user: DashboardUserView, requested: str | None, today: dt.date) -> RenewalsPage:
    """Renewals of the next 180 days by month, with ARR at risk (P(no renewal) x ARR) where churn is predicted."""
    scope = resolve_scope(user, requested)
    end = today + dt.timedelta(days=RENEWAL_DAYS)
    predicted_on = repository.newest_prediction_day(session)
    found = repository.renewals(session, today, end, _mine(user, scope), source_day(session), predicted_on)
    months: dict[str, RenewalMonth] = {}
    for row in found:
        probability = row["probability_renewal"]
        at_risk = probability * row["arr"] if probability is not None else None
        renewal = RenewalRow(**row, arr_at_risk=at_risk)
        key = renewal.renewal_date.strftime("%Y-%m")
        month = months.setdefault(
            key,
            RenewalMonth(
                month=key,
                label=renewal.renewal_date.strftime("%B %Y"),
                renewals=0,
                arr=0.0,
                arr_at_risk=None,
                rows=[],
            ),
        )
        month.renewals += 1
        month.arr += renewal.arr
        if at_risk is not None:
            month.arr_at_risk = (month.arr_at_risk or 0.0) + at_risk
        month.rows.append(renewal)
    risks = [month.arr_at_risk for month in months.values() if month.arr_at_risk is not None]
    return RenewalsPage(
        scope=scope,
        start=today,
        end=end,
        months=list(months.values()),
        arr=sum(month.arr for month in months.values()),
        arr_at_risk=sum(risks) if risks else None,
        predictions=predicted_on is not None,
    )


# ------------------------------------------------------------------------------------------------ alerts


def _alert_rows(rows: Iterable[Mapping[str, Any]], today: dt.date) -> list[AlertRow]:
    return [
        AlertRow(
            **row, due=row["status"] == "snoozed" and row["snoozed_until"] is not None and row["snoozed_until"] <= today
        )
        for row in rows
    ]


def alerts(session: Session, user: DashboardUserView, requested: str | None, status: str, today: dt.date) -> AlertsPage:
    """The inbox: alerts of one status (open by default), most severe first."""
    scope = resolve_scope(user, requested)
    status = status if status in ALERT_STATUSES else "open"
    mine = _mine(user, scope)
    counts = repository.alert_counts(session, mine)
    return AlertsPage(
        scope=scope,
        status=status,
        counts={name: counts.get(name, 0) for name in ALERT_STATUSES},
        alerts=_alert_rows(repository.alerts(session, [status], mine), today),
    )


def act_on_alert(
    session: Session, alert_id: int, action: AlertAction, by: str, now: dt.datetime, until: dt.date | None = None
) -> Alert:
    """open -> acknowledged / snoozed (until a later date) -> resolved; a resolved alert takes no more actions."""
    alert = repository.get_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", alert_id=alert_id)
    if alert.status == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved", alert_id=alert_id)
    moment = now.replace(tzinfo=None)
    if action == "ack":
        alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", moment, by
        alert.snoozed_until = None
    elif action == "snooze":
        if until is None or until <= now.date():
            raise InvalidInput("until: snooze until a date after today", field="until")
        alert.status, alert.snoozed_until = "snoozed", until
    else:
        alert.status, alert.resolved_at, alert.resolved_by = "resolved", moment, by
    session.flush()
    return alert


# ----------------------------------------------------------------------------------------- account 360


def _series(data: Any) -> dict[str, list[Any]]:
    """A stored forecast series as columns, whether it was kept as columns or as records."""
    if isinstance(data, Mapping) and isinstance(data.get("points"), list):
        data = data["points"]
    if isinstance(data, list):
        keys = {key for item in data if isinstance(item, Mapping) for key in item}
        return {key: [item.get(key) for item in data if isinstance(item, Mapping)] for key in keys}
    if isinstance(data, Mapping):
        return {str(key): list(value) for key, value in data.items() if isinstance(value, list)}
    return {}


def _pick(columns: Mapping[str, list[Any]], *names: str) -> list[Any]:
    for name in names:
        if name in columns:
            return columns[name]
    return []


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _usage_chart(session: Session, account_id: str, name: str, today: dt.date) -> tuple[str | None, bool]:
    observed = repository.daily_usage(session, account_id, today - dt.timedelta(days=USAGE_DAYS))
    forecast = churn_repository.newest_forecast(session, account_id)
    columns = forecast_columns(forecast.series) if forecast else {}
    days = [_day(value) for value in _pick(columns, "day", "ds", "date")]
    after = observed[-1][0] if observed else today
    keep = [i for i, day in enumerate(days) if day is not None and day > after]
    yhat, lower, upper = (
        _pick(columns, *names) for names in (("yhat",), ("lower", "yhat_lower"), ("upper", "yhat_upper"))
    )
    has_forecast = bool(keep and yhat)
    if not observed and not has_forecast:
        return None, False
    svg = charts.usage_svg(
        [day for day, _ in observed],
        [value for _, value in observed],
        forecast_days=[days[i] for i in keep] if has_forecast else (),  # type: ignore[misc]
        forecast=[yhat[i] for i in keep] if has_forecast else (),
        lower=[lower[i] for i in keep] if has_forecast and lower else (),
        upper=[upper[i] for i in keep] if has_forecast and upper else (),
        title=f"Usage of {name}" + (" with forecast to renewal" if has_forecast else ""),
        unit="events per day",
    )
    return svg, has_forecast


def _drivers(items: Any) -> list[Driver]:
    drivers = []
    for item in items or []:
        if isinstance(item, Mapping):
            label = next((str(item[key]) for key in ("text", "label", "feature", "input", "name") if item.get(key)), "")
            value = next((item[key] for key in ("contribution", "effect", "impact") if key in item), None)
            detail = f"{value:+.2f} log-odds" if isinstance(value, (int, float)) else None
            if label:
                drivers.append(Driver(label=label, detail=detail))
        elif item:
            drivers.append(Driver(label=str(item)))
    return drivers


def account_page(session: Session, account_id: str, today: dt.date) -> AccountPage:
    """Everything about one account on one page; sections the pipeline has not produced yet are left empty."""
    view = accounts_service.view(session, account_id, today=today)
    name = view.name or view.account_id
    term = repository.current_term(session, account_id, today) or {}
    history = health_service.health_history(session, account_id, today - dt.timedelta(days=HISTORY_DAYS))
    history_svg = None
    if history.points:
        history_svg = charts.health_history_svg(
            [point.as_of for point in history.points],
            [point.score for point in history.points],
            title=f"Health score of {name}, last 12 months",
        )
    usage_svg, has_forecast = _usage_chart(session, account_id, name, today)
    prediction = churn_repository.newest_prediction(session, account_id)
    churn = None
    if prediction is not None:
        churn = ChurnView(
            as_of=prediction.as_of,
            probability_30d=prediction.probability_30d,
            probability_90d=prediction.probability_90d,
            probability_renewal=prediction.probability_renewal,
            renewal_date=prediction.renewal_date,
            arr_at_risk=prediction.arr_at_risk,
            is_fallback=prediction.is_fallback,
            model_version=prediction.model_version,
            drivers=_drivers(prediction.drivers),
        )
    contacts, contacts_total = repository.contacts(session, account_id)
    return AccountPage(
        account_id=view.account_id,
        name=view.name,
        segment=view.segment,
        industry=view.industry,
        plan=view.plan,
        csm_email=view.csm_email,
        tags=view.tags,
        arr=term.get("arr"),
        seats=term.get("seats"),
        renewal_date=term.get("renewal_date"),
        users=view.users,
        health=view.health,
        history=history,
        history_svg=history_svg,
        usage_svg=usage_svg,
        has_forecast=has_forecast,
        churn=churn,
        alerts=_alert_rows(
            repository.alerts(session, ["open", "acknowledged", "snoozed"], None, account_id=account_id, limit=20),
            today,
        ),
        suggestions=[SuggestionRow(**row) for row in repository.suggestions(session, account_id)],
        touchpoints=[
            TouchpointRow(at=t.at, kind=t.kind, csm_email=t.csm_email, notes=t.notes)
            for t in repository.touchpoints(session, account_id)
        ],
        contacts=[ContactRow(name=c.name, email=c.email, role=c.role) for c in contacts],
        contacts_total=contacts_total,
        reports=[
            ReportRow(kind=r.kind, period=r.period, audience=r.audience, format=r.format, created_at=r.created_at)
            for r in repository.reports(session, account_id)
        ],
    )


def _require_account(session: Session, account_id: str) -> None:
    if repository.get_account(session, account_id) is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)


def log_touchpoint(
    session: Session, account_id: str, form: TouchpointForm, csm_email: str, now: dt.datetime
) -> Touchpoint:
    """A CSM's touch, counted by the relationship part of the score (same id scheme as imported touchpoints)."""
    _require_account(session, account_id)
    kind = form.kind.strip().lower()
    if kind not in TOUCHPOINT_KINDS:
        raise InvalidInput(f"kind: one of {', '.join(TOUCHPOINT_KINDS)}", field="kind")
    at = now.replace(tzinfo=None, microsecond=0)
    touchpoint = Touchpoint(
        touchpoint_id=record_id(account_id, at, kind),
        account_id=account_id,
        at=at,
        kind=kind,
        csm_email=csm_email,
        notes=form.notes.strip() or None,
    )
    repository.merge(session, touchpoint)
    return touchpoint


def override(session: Session, account_id: str, form: OverrideForm, by: str, now: dt.datetime) -> None:
    """The CSM's band over the model's, through the health domain (which keeps both and audits it)."""
    _require_account(session, account_id)
    wanted = OverrideIn(band=form.band, reason=form.reason, expires_on=form.expires_on)
    health_service.set_override(session, account_id, wanted, Actor.user(by), now)


# -------------------------------------------------------------------------------------------------- model

METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "auc": "ROC AUC",
    "top_decile_lift": "Top-decile lift",
    "lift": "Top-decile lift",
    "brier": "Brier score",
    "ece": "Expected calibration error",
    "n": "Observations",
    "positives": "Churn events",
    "rate": "Base rate",
}
SECTION_TITLES = {
    "churn_model": "Churn model",
    "health_score": "Health score alone",
    "days_to_renewal": "Days to renewal alone (baseline)",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _calibration(value: Any) -> list[dict[str, float | None]]:
    columns = _series(value)
    predicted = _pick(columns, "mean_predicted", "predicted", "p_mean", "mean_p")
    observed = _pick(columns, "observed", "observed_rate", "rate")
    counts = _pick(columns, "n", "count")
    if not predicted or len(predicted) != len(observed):
        return []
    return [
        {"predicted": _number(p), "observed": _number(o), "n": _number(counts[i]) if i < len(counts) else None}
        for i, (p, o) in enumerate(zip(predicted, observed, strict=True))
    ]


def _sections(backtest: Mapping[str, Any], title: str, depth: int = 0) -> list[BacktestView]:
    """Every dict of the backtest that holds metrics becomes a section (title from its key path)."""
    # JSONB keeps no key order, so figures and sections follow a fixed order (known names first)
    metrics = [Metric(name=METRIC_NAMES[key], value=_number(backtest[key])) for key in METRIC_NAMES if key in backtest]
    found: list[BacktestView] = []
    if metrics:
        calibration = _calibration(backtest.get("calibration"))
        svg = None
        if calibration:
            svg = charts.calibration_svg(
                [row["predicted"] for row in calibration],
                [row["observed"] for row in calibration],
                counts=[int(row["n"] or 0) for row in calibration],
                title=f"Calibration: {title}",
            )
        found.append(BacktestView(title=title, metrics=metrics, calibration_svg=svg, calibration=calibration))
    if depth < 3:
        known = list(SECTION_TITLES)
        for key, value in sorted(
            backtest.items(), key=lambda item: (known.index(item[0]) if item[0] in known else 99, item[0])
        ):
            if isinstance(value, Mapping):
                label = SECTION_TITLES.get(str(key), str(key).replace("_", " "))
                found += _sections(value, label if depth == 0 else f"{title}: {label}", depth + 1)
    return found


def model_page(session: Session) -> ModelPage:
    """The newest churn model's backtest (AUC, lift, calibration), read from whatever shape it was stored in."""
    record = repository.newest_model(session)
    if record is None:
        return ModelPage(version=None, trained_as_of=None, created_at=None, notes=None, sections=[], other={})
    backtest = record.backtest or {}
    sections = _sections(backtest, "Churn model")
    other = {
        key: value
        for key, value in backtest.items()
        if isinstance(value, (str, int, float)) and key not in METRIC_NAMES
    }
    return ModelPage(
        version=record.version,
        trained_as_of=record.trained_as_of,
        created_at=record.created_at,
        notes=record.notes,
        sections=sections,
        other=other,
    )


def safe_svg(svg: str | None) -> Markup | None:
    """Chart SVG for the templates: matplotlib escaped every label, so the markup itself is trusted."""
    return Markup(svg) if svg else None
