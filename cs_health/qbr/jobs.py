"""The monthly reports job: on REPORTS_DAY_OF_MONTH, last month's report of every active account, archived as a
client PDF and an internal PDF and e-mailed through the outbox.

Idempotent: files are replaced atomically, archive rows are upserted on (account, kind, period, audience,
format), and each e-mail has a Message-ID derived from (account, period, recipient), so a re-run (or a restart
of the scheduler) adds no rows and sends no mail twice. Each account is read in its own short transaction,
rendered outside any transaction, then written in one short write transaction, so the SQLite write lock is
never held while PDFs are printed and one account's failure does not lose the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from cs_health.auth.dependencies import write_transaction
from cs_health.config import Settings
from cs_health.db.base import naive_utc
from cs_health.db.engine import Database
from cs_health.db.tables import OutboxMessage
from cs_health.qbr import repository, service
from cs_health.qbr.service import GeneratedReport, ReportRequest
from cs_health.renewals.repository import PENDING
from reports.context import Period, ReportContext, build_context, parse_period
from reports.render import render_charts, render_email

log = logging.getLogger(__name__)

REPORTS_JOB_ID = "monthly-reports"
MAIL_KIND = "report"


@dataclass
class MonthlyReportSummary:
    day: dt.date
    ran: bool = False  # False: not the configured day of the month
    period: str | None = None
    accounts: int = 0
    reports: int = 0
    mails: int = 0  # new outbox messages (a re-run adds none)
    failed: list[str] = field(default_factory=list)  # account ids whose reports could not be made


def last_month(today: dt.date) -> Period:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return parse_period(f"{first:%Y-%m}")


def generate_monthly_reports(
    database: Database, settings: Settings, today: dt.date, *, now: dt.datetime | None = None
) -> MonthlyReportSummary:
    """On the configured day of the month: last month's client and internal PDF of every account with a term in
    force on the month's last day, archived and mailed to the CSM (both copies) and to the contacts whose role
    is in REPORT_RECIPIENT_ROLES (the client copy). Other days it does nothing."""
    summary = MonthlyReportSummary(day=today)
    if today.day != settings.REPORTS_DAY_OF_MONTH:
        return summary
    moment = now or dt.datetime.now(dt.UTC)
    period = last_month(today)
    summary.ran, summary.period = True, period.label
    with database.transaction() as session:
        accounts = repository.active_accounts(session, period.last_day)
    summary.accounts = len(accounts)
    for account_id in accounts:
        try:
            summary.reports += 2
            summary.mails += _one_account(database, settings, account_id, period, today, moment)
        except Exception:  # one account's failure is logged and counted; the others still get their reports
            summary.reports -= 2
            summary.failed.append(account_id)
            log.exception("monthly report of account %s for %s failed", account_id, period.label)
    log.info(
        "monthly reports for %s: %s accounts, %s reports, %s new mails, %s failed",
        period.label,
        summary.accounts,
        summary.reports,
        summary.mails,
        len(summary.failed),
    )
    return summary


def _one_account(
    database: Database, settings: Settings, account_id: str, period: Period, today: dt.date, now: dt.datetime
) -> int:
    client_request = ReportRequest(period, "monthly", "client", "pdf")
    internal_request = ReportRequest(period, "monthly", "internal", "pdf")
    with database.transaction() as session:
        data, until = service.load_data(session, account_id, period, today=today, key_features=settings.KEY_FEATURES)
        recipients = repository.contact_emails(session, account_id, settings.REPORT_RECIPIENT_ROLES)
    contexts = {
        audience: build_context(data, period, kind="monthly", audience=audience, generated_on=today, data_until=until)
        for audience in ("client", "internal")
    }
    charts = render_charts(contexts["client"])  # the charts hold no risk figures: both copies share them
    with write_transaction(database) as session:
        client = service.archive(
            session, settings.reports_dir, contexts["client"], client_request, now=now, charts=charts
        )
        internal = service.archive(
            session, settings.reports_dir, contexts["internal"], internal_request, now=now, charts=charts
        )
        messages = []
        csm = contexts["client"].account.csm_email
        if csm:
            messages.append(_message(contexts["internal"], csm, [client, internal], now, for_csm=True))
        else:
            log.warning("account %s has no CSM e-mail: its monthly report is archived, not mailed", account_id)
        messages += [_message(contexts["client"], email, [client], now, for_csm=False) for email in recipients]
        known = repository.existing_message_ids(session, [message.message_id for message in messages])
        new = [message for message in messages if message.message_id not in known]
        repository.add_messages(session, new)
    return len(new)


def _message(
    report: ReportContext, recipient: str, files: list[GeneratedReport], now: dt.datetime, *, for_csm: bool
) -> OutboxMessage:
    key = f"{report.account.account_id}\n{report.kind}\n{report.period.label}\n{recipient}\n{for_csm}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    subject, text, html = render_email(report, for_csm=for_csm)
    moment = naive_utc(now)
    return OutboxMessage(
        kind=MAIL_KIND,
        recipient=recipient,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=[
            {"path": str(item.path), "filename": item.filename, "content_type": item.media_type} for item in files
        ],
        message_id=f"<report-{digest}@cs-health>",
        status=PENDING,
        attempts=0,
        next_attempt_at=moment,
        created_at=moment,
    )
