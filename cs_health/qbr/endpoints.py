"""`/api/v1/accounts/{account_id}/reports...`: the archive of an account's reports, and one report as a file."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from cs_health.api_types import PathKey
from cs_health.audit.schemas import Actor
from cs_health.auth.dependencies import ReadKey, SessionDep
from cs_health.config import get_settings
from cs_health.exceptions import (
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    error_responses,
)
from cs_health.qbr import service
from cs_health.qbr.schemas import Audience, ReportFormat, ReportKind, ReportList
from cs_health.qbr.service import ReportRequest

router = APIRouter(prefix="/api/v1/accounts", tags=["reports"])
READ_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)
FILE_RESPONSES = {
    200: {"description": "The report", "content": {"application/pdf": {}, "text/html": {}}},
    # 503: a PDF asked of an installation without WeasyPrint's system libraries
    **error_responses(Unauthorized, Forbidden, NotFound, InvalidInput, ServiceUnavailable),
}
# The syntax parse_period accepts; the month, quarter and year ranges are its to check (422 naming the field).
PERIOD = r"^[0-9]{4}-([0-9]{1,2}|[Qq][0-9])$"


@router.get("/{account_id}/reports", responses=READ_ERRORS)
def list_reports(account_id: PathKey, session: SessionDep, _: ReadKey) -> ReportList:
    """The account's archived reports, newest period first."""
    return service.list_reports(session, account_id)


@router.get("/{account_id}/reports/{period}", response_class=Response, responses=FILE_RESPONSES)
def get_report(
    account_id: PathKey,
    period: Annotated[str, Path(pattern=PERIOD, description="a month (2026-10) or a quarter (2026-Q3)")],
    session: SessionDep,
    key: ReadKey,
    kind: Annotated[ReportKind | None, Query(description="monthly or qbr; by default from the period")] = None,
    audience: Annotated[Audience, Query(description="client (no risk figures) or internal")] = "client",
    format: Annotated[ReportFormat, Query(description="html or pdf")] = "html",
) -> Response:
    """The report of `period` (`2026-10` or `2026-Q3`) as HTML or PDF, generated and archived if missing."""
    request = service.parse_request(period, kind, audience, format)
    return report_response(session, account_id, request, Actor.api_key(key), dt.datetime.now(dt.UTC))


def report_response(
    session: Session, account_id: str, request: ReportRequest, actor: Actor, now: dt.datetime
) -> Response:
    """The archived report (generated when missing) as a download, recorded as an export by `actor`; the API
    and the dashboard both serve reports through it."""
    settings = get_settings()
    report = service.fetch(
        session,
        account_id,
        request,
        reports_dir=settings.reports_dir,
        today=now.date(),
        now=now,
        key_features=settings.KEY_FEATURES,
    )
    service.audit_export(session, account_id, request, actor, now)
    disposition = "attachment" if request.fmt == "pdf" else "inline"
    return Response(
        report.content,
        media_type=report.media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{report.filename}"'},
    )
