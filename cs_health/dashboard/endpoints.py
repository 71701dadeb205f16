"""The dashboard pages: thin routes that check the login (and the CSRF token on every POST), call the service
and render a template. Every POST answers with a redirect (post/redirect/get), so a reload never re-submits."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from cs_health.audit.schemas import Actor
from cs_health.auth.dependencies import SessionDep
from cs_health.config import get_settings
from cs_health.dashboard import service
from cs_health.dashboard.auth import (
    CheckedForm,
    CurrentUser,
    LoginFailed,
    TooManyAttempts,
    clear_cookie,
    current_user,
    read_session,
    safe_next,
    set_cookie,
)
from cs_health.dashboard.schemas import (
    ALERT_STATUSES,
    BANDS,
    RENEWAL_WINDOWS,
    SORTS,
    TOUCHPOINT_KINDS,
    DashboardUserView,
    OverrideForm,
    PortfolioQuery,
    TouchpointForm,
)
from cs_health.exceptions import CSHealthError, InvalidInput, NotFound
from cs_health.qbr import service as reports
from cs_health.qbr.endpoints import report_response
from cs_health.trainings.service import training_effects
from cs_health.web.templates import render

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
SECURITY_HEADERS = {
    # Defence in depth behind autoescape: no inline or foreign script may run on a dashboard page.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NOTICES = {
    "acknowledged": "Alert acknowledged.",
    "snoozed": "Alert snoozed.",
    "resolved": "Alert resolved.",
    "touchpoint": "Touchpoint logged.",
    "override": "Override saved: the band in force is now yours until it expires.",
    "logged_out": "You are logged out.",
}
ERRORS = {
    "override": "The override was not saved: choose a band, give a reason (3+ characters) and a date after today.",
    "touchpoint": "The touchpoint was not logged: choose a kind from the list.",
    "snooze": "The alert was not snoozed: pick a date after today.",
    "alert": "That alert no longer takes this action (already resolved?).",
}
NAV = (
    ("portfolio", "/portfolio", "Portfolio"),
    ("quadrant", "/quadrant", "Value × risk"),
    ("renewals", "/renewals", "Renewals"),
    ("alerts", "/alerts", "Alerts"),
    ("model", "/model", "Model"),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def money(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.2f}M"
    return f"${value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def trend_arrow(value: float | None) -> tuple[str, str]:
    """An arrow and its words (screen readers and colour-blind readers get the words)."""
    if value is None:
        return "", "no trend yet"
    if value >= 3:
        return "▲", f"up {value:.0f} points in 7 days"
    if value <= -3:
        return "▼", f"down {abs(value):.0f} points in 7 days"
    return "▶", f"steady ({value:+.0f} in 7 days)"


def account_url(account_id: str) -> str:
    return f"/accounts/{quote(account_id, safe='')}"


def _page(
    request: Request, template: str, user: DashboardUserView | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    web_session = read_session(request)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    error = ERRORS.get(request.query_params.get("error", ""))
    html = render(
        f"dashboard/{template}",
        user=user,
        csrf_token=web_session.csrf,
        nav=NAV,
        notice=notice,
        error=error,
        money=money,
        pct=pct,
        trend_arrow=trend_arrow,
        account_url=account_url,
        urlencode=urlencode,
        request_path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if web_session.fresh:
        set_cookie(response, web_session)
    return response


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


@router.get("/static/dashboard.css")
def stylesheet() -> Response:
    return Response(
        (STATIC / "dashboard.css").read_text(), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep, next: str = "/portfolio") -> Response:
    """The login form (with the anonymous session's CSRF token); a logged-in user goes straight on."""
    try:
        current_user(request, session)
    except CSHealthError:
        return _page(request, "login.html", None, next=safe_next(next), email="", failure=None)
    return _redirect(safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    email, target = form.get("email", ""), safe_next(form.get("next"))
    try:
        web_session = service.log_in(session, email, form.get("password", ""), get_settings(), time.time())
    except (LoginFailed, TooManyAttempts) as error:
        return _page(
            request, "login.html", None, status_code=error.status_code, next=target, email=email, failure=error.message
        )
    response = _redirect(target)
    set_cookie(response, web_session)  # a new session and CSRF token on login: no session fixation
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request, user: CurrentUser) -> Response:
    """A confirmation with a CSRF-protected button, so a link on another site cannot log anyone out."""
    return _page(request, "logout.html", user, active="")


@router.post("/logout")
def logout(_form: CheckedForm) -> Response:
    response = _redirect("/login?notice=logged_out")
    clear_cookie(response)
    return response


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio(
    request: Request, session: SessionDep, user: CurrentUser, query: Annotated[PortfolioQuery, Query()]
) -> Response:
    page = service.portfolio(session, query, user, _now().date())
    return _page(
        request,
        "portfolio.html",
        user,
        active="portfolio",
        page=page,
        bands=BANDS,
        windows=RENEWAL_WINDOWS,
        sorts=SORTS,
        quadrant_labels=service.QUADRANT_LABELS,
    )


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def previous_quarter(today: dt.date) -> str:
    quarter = (today.month - 1) // 3  # the current quarter's index, 0-3
    year = today.year if quarter else today.year - 1
    return f"{year}-Q{quarter or 4}"


@router.get("/accounts/{account_id}/reports/{period}")
def account_report(
    account_id: str,
    period: str,
    session: SessionDep,
    user: CurrentUser,
    kind: Annotated[Literal["monthly", "qbr"] | None, Query()] = None,
    audience: Annotated[Literal["client", "internal"], Query()] = "client",
    format: Annotated[Literal["html", "pdf"], Query()] = "pdf",
) -> Response:
    """A monthly report or QBR for a logged-in CSM, generated and archived when missing (the API's twin)."""
    request = reports.parse_request(period, kind, audience, format)
    return report_response(session, account_id, request, Actor.user(user.email), _now())


@router.get("/quadrant", response_class=HTMLResponse)
def quadrant(request: Request, session: SessionDep, user: CurrentUser, scope: str | None = None) -> Response:
    page = service.quadrants(session, user, scope, _now().date())
    return _page(request, "quadrant.html", user, active="quadrant", page=page, chart=service.safe_svg(page.chart_svg))


@router.get("/renewals", response_class=HTMLResponse)
def renewals(request: Request, session: SessionDep, user: CurrentUser, scope: str | None = None) -> Response:
    page = service.renewals(session, user, scope, _now().date())
    return _page(request, "renewals.html", user, active="renewals", page=page)


@router.get("/alerts", response_class=HTMLResponse)
def alerts(
    request: Request, session: SessionDep, user: CurrentUser, scope: str | None = None, status: str = "open"
) -> Response:
    today = _now().date()
    page = service.alerts(session, user, scope, status, today)
    return _page(
        request,
        "alerts.html",
        user,
        active="alerts",
        page=page,
        statuses=ALERT_STATUSES,
        tomorrow=today + dt.timedelta(days=1),
        default_snooze=today + dt.timedelta(days=7),
    )


@router.post("/alerts/{alert_id}/{action}")
def alert_action(
    alert_id: int,
    action: Literal["ack", "snooze", "resolve"],
    session: SessionDep,
    user: CurrentUser,
    form: CheckedForm,
) -> Response:
    back = safe_next(form.get("next") or "/alerts")
    separator = "&" if "?" in back else "?"
    until = None
    if action == "snooze":
        try:
            until = dt.date.fromisoformat(form.get("until", ""))
        except ValueError:
            return _redirect(f"{back}{separator}error=snooze")
    try:
        service.act_on_alert(session, alert_id, action, user.email, _now(), until)
    except InvalidInput:
        return _redirect(f"{back}{separator}error=snooze")
    except NotFound:
        raise
    except CSHealthError:
        return _redirect(f"{back}{separator}error=alert")
    done = {"ack": "acknowledged", "snooze": "snoozed", "resolve": "resolved"}[action]
    return _redirect(f"{back}{separator}notice={done}")


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account(request: Request, account_id: str, session: SessionDep, user: CurrentUser) -> Response:
    today = _now().date()
    try:
        page = service.account_page(session, account_id, today)
    except NotFound:
        return _page(request, "not_found.html", user, status_code=404, active="portfolio", account_id=account_id)
    return _page(
        request,
        "account.html",
        user,
        active="portfolio",
        page=page,
        history_chart=service.safe_svg(page.history_svg),
        usage_chart=service.safe_svg(page.usage_svg),
        kinds=TOUCHPOINT_KINDS,
        tomorrow=today + dt.timedelta(days=1),
        default_expiry=today + dt.timedelta(days=30),
        quadrant_labels=service.QUADRANT_LABELS,
        last_month=previous_month(today),
        last_quarter=previous_quarter(today),
        reports_day=get_settings().REPORTS_DAY_OF_MONTH,
    )


@router.post("/accounts/{account_id}/override")
def account_override(account_id: str, session: SessionDep, user: CurrentUser, form: CheckedForm) -> Response:
    back = account_url(account_id)
    try:
        override = OverrideForm.model_validate(form)
        service.override(session, account_id, override, user.email, _now())
    except (ValidationError, InvalidInput):
        return _redirect(f"{back}?error=override#override")
    return _redirect(f"{back}?notice=override#health")


@router.post("/accounts/{account_id}/touchpoints")
def account_touchpoint(account_id: str, session: SessionDep, user: CurrentUser, form: CheckedForm) -> Response:
    back = account_url(account_id)
    try:
        touchpoint = TouchpointForm.model_validate(form)
        service.log_touchpoint(session, account_id, touchpoint, user.email, _now())
    except (ValidationError, InvalidInput):
        return _redirect(f"{back}?error=touchpoint#touchpoints")
    return _redirect(f"{back}?notice=touchpoint#touchpoints")


@router.get("/model", response_class=HTMLResponse)
def model(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    page = service.model_page(session)
    charts = {section.title: service.safe_svg(section.calibration_svg) for section in page.sections}
    effects = training_effects(session, dt.datetime.now(dt.UTC).date())
    return _page(request, "model.html", user, active="model", page=page, charts=charts, effects=effects)
