"""`/api/v1/alerts`: list alerts (read scope) and acknowledge, snooze or resolve them (admin scope, until
dashboard users arrive)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from cs_health.api_types import WITHOUT_NUL, RowId
from cs_health.audit.schemas import Actor
from cs_health.auth.dependencies import AdminKey, ReadKey, SessionDep
from cs_health.db.tables import ApiKey
from cs_health.exceptions import BadRequest, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, error_responses
from cs_health.renewals import service
from cs_health.renewals.schemas import AlertFilters, AlertPage, AlertView, Severity, SnoozeIn, Status

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
AUTH = (Unauthorized, Forbidden)
ACTION_ERRORS = error_responses(*AUTH, NotFound, Conflict)
MAX_PAGE = 1_000_000  # keeps the row offset inside a 64-bit integer (a larger page was a 500 on PostgreSQL)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor(key: ApiKey) -> str:
    return Actor.api_key(key).label


@router.get("", responses=error_responses(*AUTH))
def list_alerts(
    session: SessionDep,
    _: ReadKey,
    status: Annotated[Status | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=64, pattern=WITHOUT_NUL)] = None,
    account_id: Annotated[str | None, Query(max_length=128, pattern=WITHOUT_NUL)] = None,
    csm: Annotated[str | None, Query(max_length=320, pattern=WITHOUT_NUL, description="the account's CSM")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    """Alerts, most recently fired first, filtered by status, severity, rule, account or CSM."""
    filters = AlertFilters(status=status, severity=severity, rule=rule, account_id=account_id, csm=csm)
    return service.list_alerts(session, filters, page, per_page)


@router.get("/{alert_id}", responses=error_responses(*AUTH, NotFound))
def get_alert(alert_id: RowId, session: SessionDep, _: ReadKey) -> AlertView:
    return service.get_alert(session, alert_id)


@router.post("/{alert_id}/ack", responses=ACTION_ERRORS)
def acknowledge(alert_id: RowId, session: SessionDep, key: AdminKey) -> AlertView:
    """Someone owns the alert: it is mailed again only if it escalates."""
    return service.acknowledge(session, alert_id, _actor(key), _now())


@router.post("/{alert_id}/snooze", responses=error_responses(*AUTH, NotFound, Conflict, BadRequest, InvalidInput))
def snooze(alert_id: RowId, body: SnoozeIn, session: SessionDep, key: AdminKey) -> AlertView:
    """No mail before `until`; if the rule still fires then, the alert is open and mailed again."""
    return service.snooze(session, alert_id, body.until, _actor(key), _now())


@router.post("/{alert_id}/resolve", responses=ACTION_ERRORS)
def resolve(alert_id: RowId, session: SessionDep, key: AdminKey) -> AlertView:
    """Done by hand; a rule that keeps firing reopens it on a later run."""
    return service.resolve(session, alert_id, _actor(key), _now())
