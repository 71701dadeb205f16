"""Reports from the database: load one account's data for a period (a read per table), build the context in
reports/, render, archive under the reports folder and upsert the archive row. Flushes, never commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from cs_health.audit import service as audit
from cs_health.audit.schemas import Actor, AuditAction
from cs_health.churn.service import forecast_columns
from cs_health.db.base import naive_utc
from cs_health.db.tables import ChurnPrediction, HealthScore, UsageForecast
from cs_health.exceptions import InvalidInput, NotFound, ServiceUnavailable
from cs_health.qbr import repository
from cs_health.qbr.schemas import ReportInfo, ReportList
from reports.context import (
    AUDIENCES,
    FORMATS,
    AccountRecord,
    ChurnRecord,
    ForecastRecord,
    HealthRecord,
    Period,
    ReportContext,
    ReportData,
    ReportInputError,
    TrainingRecord,
    build_context,
    check_choice,
    check_kind,
    default_kind,
    parse_period,
)
from reports.render import MEDIA_TYPES, PdfUnavailable, ReportCharts, render, render_charts

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ReportRequest:
    """A validated request: the period parsed, kind, audience and format checked."""

    period: Period
    kind: str
    audience: str
    fmt: str


@dataclass(frozen=True)
class GeneratedReport:
    path: Path
    content: bytes
    media_type: str
    filename: str


def parse_request(period: str, kind: str | None, audience: str, fmt: str) -> ReportRequest:
    """Checks the four report parameters; a bad one is an InvalidInput naming it (CLI exit 2, API 422)."""
    try:
        parsed = parse_period(period)
        chosen = check_kind(kind or default_kind(parsed), parsed)
        check_choice("audience", audience, AUDIENCES)
        check_choice("format", fmt, FORMATS)
    except ReportInputError as error:
        raise InvalidInput(str(error), field=str(error).split(":", 1)[0]) from error
    return ReportRequest(parsed, chosen, audience, fmt)


def audit_export(session: Session, account_id: str, request: ReportRequest, actor: Actor, now: dt.datetime) -> None:
    """Notes in the audit log that `actor` took a report out (CLI, API or dashboard), in the request's transaction."""
    details = {
        "period": request.period.label,
        "kind": request.kind,
        "audience": request.audience,
        "format": request.fmt,
    }
    audit.record(session, actor, AuditAction.REPORT_EXPORTED, at=now, target=account_id, details=details)


def archive_path(reports_dir: Path, account_id: str, request: ReportRequest) -> Path:
    """`<reports_dir>/<account>/<period>-<kind>-<audience>.<format>`; an account id that is not a safe folder
    name is made one (with a hash, so two ids never share a folder)."""
    folder = _UNSAFE.sub("_", account_id)
    if folder != account_id or folder in {"", ".", ".."}:
        folder = f"{folder.strip('.') or 'account'}-{hashlib.sha256(account_id.encode()).hexdigest()[:10]}"
    name = f"{request.period.label}-{request.kind}-{request.audience}.{request.fmt}"
    return reports_dir / folder / name


def _text(item: Any, keys: Sequence[str]) -> str:
    if isinstance(item, Mapping):
        return next((str(item[key]) for key in keys if item.get(key)), "")
    return str(item) if item else ""


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _forecast(row: UsageForecast | None) -> ForecastRecord | None:
    if row is None:
        return None
    columns = forecast_columns(row.series)

    def pick(*names: str) -> list[Any]:
        return next((columns[name] for name in names if name in columns), [])

    days = [_day(value) for value in pick("day", "ds", "date")]
    expected, lower, upper = pick("yhat", "expected"), pick("lower", "yhat_lower"), pick("upper", "yhat_upper")
    keep = [i for i, day in enumerate(days) if day is not None and i < len(expected)]
    if not keep:
        return None

    def floats(values: list[Any]) -> tuple[float | None, ...]:
        if len(values) != len(days):
            return ()
        return tuple(float(values[i]) if isinstance(values[i], (int, float)) else None for i in keep)

    return ForecastRecord(
        as_of=row.as_of,
        days=tuple(days[i] for i in keep),  # type: ignore[misc]
        expected=floats(expected),
        lower=floats(lower),
        upper=floats(upper),
    )


def _churn(row: ChurnPrediction | None) -> ChurnRecord | None:
    if row is None:
        return None
    drivers = tuple(
        text for item in row.drivers or [] if (text := _text(item, ("text", "label", "feature", "input", "name")))
    )
    return ChurnRecord(
        as_of=row.as_of,
        probability_30d=row.probability_30d,
        probability_90d=row.probability_90d,
        probability_renewal=row.probability_renewal,
        renewal_date=row.renewal_date,
        arr=row.arr,
        arr_at_risk=row.arr_at_risk,
        drivers=drivers,
        is_fallback=row.is_fallback,
    )


def _health_now(row: HealthScore | None) -> HealthRecord | None:
    if row is None:
        return None
    explanation = (row.components or {}).get("explanation") or {}
    reasons = tuple(text for item in explanation.get("reasons") or [] if (text := _text(item, ("text", "label"))))
    return HealthRecord(
        as_of=row.as_of,
        score=row.score,
        band=row.band,
        trend_30d=row.trend_30d,
        summary=str(explanation.get("summary") or ""),
        reasons=reasons,
    )


def load_data(
    session: Session,
    account_id: str,
    period: Period,
    *,
    today: dt.date,
    key_features: Mapping[str, Sequence[str]] | None = None,
) -> tuple[ReportData, dt.date]:
    """One account's report inputs for `period` (one read per table) and the last day with data."""
    account = repository.get_account(session, account_id)
    if account is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    if period.start > today:
        raise InvalidInput(f"period: {period.label} has not started yet (today is {today})", field="period")
    until = min(period.last_day, today)
    previous = period.previous()
    chart_start = period.chart_start()
    subscriptions = repository.subscriptions(session, account_id)
    plan = account.plan
    if len(subscriptions):
        started = subscriptions[subscriptions["start_date"].dt.date <= period.last_day]
        term_plan = started.sort_values("start_date")["plan"].dropna()
        plan = str(term_plan.iloc[-1]) if len(term_plan) else plan
    data = ReportData(
        account=AccountRecord(
            account_id=account.account_id,
            name=account.name,
            segment=account.segment,
            csm_email=account.csm_email,
            plan=plan,
        ),
        health_now=_health_now(repository.newest_score(session, account_id, period.end)),
        daily_usage=repository.daily_usage(session, account_id, chart_start, until),
        user_usage=repository.user_usage(session, account_id, previous.start, period.start, until),
        health=repository.health_history(session, account_id, chart_start, period.end),
        tickets=repository.tickets(session, account_id, previous.start, period.end),
        nps=repository.nps(session, account_id, previous.start, period.end),
        touchpoints=repository.touchpoints(session, account_id, period.start, period.end),
        subscriptions=subscriptions,
        trainings=tuple(
            TrainingRecord(training.title, training.url, tuple(suggestion.features or ()), suggestion.reason)
            for suggestion, training in repository.suggestions(session, account_id, period.end)
        ),
        key_features=tuple((key_features or {}).get(plan or "", ())),
        forecast=_forecast(repository.newest_forecast(session, account_id, period.start, period.end)),
        churn=_churn(repository.newest_churn(session, account_id, period.end)),
    )
    return data, until


def build(
    session: Session,
    account_id: str,
    request: ReportRequest,
    *,
    today: dt.date,
    key_features: Mapping[str, Sequence[str]] | None = None,
) -> ReportContext:
    """The report context of one account for the request's period and audience."""
    data, until = load_data(session, account_id, request.period, today=today, key_features=key_features)
    return build_context(
        data, request.period, kind=request.kind, audience=request.audience, generated_on=today, data_until=until
    )


def archive(
    session: Session,
    reports_dir: Path,
    report: ReportContext,
    request: ReportRequest,
    *,
    now: dt.datetime,
    charts: ReportCharts | None = None,
) -> GeneratedReport:
    """Renders the report, replaces its archived file atomically and upserts its row."""
    try:
        content = render(report, request.fmt, charts)
    except PdfUnavailable as error:
        raise ServiceUnavailable(str(error)) from error
    path = archive_path(reports_dir, report.account.account_id, request)
    _write_atomically(path, content)
    repository.save_report(
        session,
        {
            "account_id": report.account.account_id,
            "kind": request.kind,
            "period": request.period.label,
            "audience": request.audience,
            "format": request.fmt,
            "path": str(path),
            "size_bytes": len(content),
            "created_at": naive_utc(now),
        },
    )
    session.flush()
    log.info("report %s archived for account %s (%s bytes)", path.name, report.account.account_id, len(content))
    return GeneratedReport(path, content, MEDIA_TYPES[request.fmt], path.name)


def generate(
    session: Session,
    account_id: str,
    request: ReportRequest,
    *,
    reports_dir: Path,
    today: dt.date,
    now: dt.datetime,
    key_features: Mapping[str, Sequence[str]] | None = None,
) -> GeneratedReport:
    """Builds, renders and archives one report."""
    report = build(session, account_id, request, today=today, key_features=key_features)
    return archive(session, reports_dir, report, request, now=now, charts=render_charts(report))


def fetch(
    session: Session,
    account_id: str,
    request: ReportRequest,
    *,
    reports_dir: Path,
    today: dt.date,
    now: dt.datetime,
    key_features: Mapping[str, Sequence[str]] | None = None,
) -> GeneratedReport:
    """The archived report; generated when missing, when its file has gone, or when it was made before its
    period ended (a running period's copy is refreshed)."""
    if repository.get_account(session, account_id) is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    row = repository.find_report(session, account_id, request.kind, request.period.label, request.audience, request.fmt)
    if row is not None and row.created_at.date() >= request.period.end:
        path = Path(row.path)
        try:
            return GeneratedReport(path, path.read_bytes(), MEDIA_TYPES[request.fmt], path.name)
        except OSError:
            log.warning("archived report %s is missing; generating it again", path.name)
    return generate(
        session, account_id, request, reports_dir=reports_dir, today=today, now=now, key_features=key_features
    )


def list_reports(session: Session, account_id: str) -> ReportList:
    if repository.get_account(session, account_id) is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    return ReportList(
        account_id=account_id,
        reports=[
            ReportInfo(
                kind=row.kind,
                period=row.period,
                audience=row.audience,
                format=row.format,
                size_bytes=row.size_bytes,
                created_at=row.created_at,
                url=f"/api/v1/accounts/{quote(account_id, safe='')}/reports/{row.period}"
                f"?kind={row.kind}&audience={row.audience}&format={row.format}",
            )
            for row in repository.list_reports(session, account_id)
        ],
    )


def _write_atomically(path: Path, content: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
