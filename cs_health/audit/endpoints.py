"""`GET /api/v1/audit`: the audit log, read-only, for admin keys."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from cs_health.audit import service
from cs_health.audit.schemas import AuditAction, AuditPage
from cs_health.auth.dependencies import AdminKey, SessionDep
from cs_health.exceptions import Forbidden, InvalidInput, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", responses=error_responses(Unauthorized, Forbidden, InvalidInput))
def list_audit_events(
    session: SessionDep,
    _: AdminKey,
    action: Annotated[AuditAction | None, Query(description="only this action")] = None,
    since: Annotated[
        dt.datetime | None, Query(description="only events at or after this time (ISO 8601; naive means UTC)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """Who created or revoked keys, created users, overrode health, changed the scorecard or alert rules in use,
    and exported scores or reports; newest first."""
    return service.page(session, action, since, page, per_page)
