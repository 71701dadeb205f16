"""Outbox delivery, run every minute by the scheduler and on demand by `cs-health outbox send`.

Each message is delivered at most once per claim and, once SMTP is reachable, at least once:
1. claim: in one transaction, each due message is taken with a compare-and-set UPDATE (status -> sending,
   attempts + 1, next_attempt_at -> now + OUTBOX_CLAIM_SECONDS), so two senders never take the same row;
2. send it (SMTP, or an .eml file under DATA_DIR/mail when no SMTP host is set);
3. mark it sent (or pending with exponential backoff and last_error; failed after OUTBOX_MAX_ATTEMPTS), in
   its own short transaction right after that one message.
A crash between 2 and 3 leaves the row "sending"; when its claim runs out it is sent again with the same
Message-ID, so the worst case is one duplicate that mail clients and servers can recognise as such.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from alerts.smtp import Attachment, OutgoingMail, SmtpConfig, SmtpSender, backoff_seconds, build_message, write_eml
from cs_health.auth.dependencies import write_transaction
from cs_health.config import Settings
from cs_health.db.base import naive_utc
from cs_health.db.engine import Database
from cs_health.db.tables import OutboxMessage
from cs_health.renewals import repository

log = logging.getLogger(__name__)

OUTBOX_JOB_ID = "outbox-send"
OUTBOX_INTERVAL_SECONDS = 60
BATCH = 200
MAX_ERROR = 2_000


@dataclass
class DeliverySummary:
    sent: int = 0
    written: int = 0  # no SMTP host: written as .eml files to `directory`
    retrying: int = 0  # failed this time, waiting for the next attempt
    failed: int = 0  # gave up after OUTBOX_MAX_ATTEMPTS (kept in the outbox with the last error)
    directory: Path | None = None

    @property
    def attempted(self) -> int:
        return self.sent + self.written + self.retrying + self.failed


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP server from the settings, or None: then mail is written to files."""
    if not settings.SMTP_HOST:
        return None
    return SmtpConfig(
        host=settings.SMTP_HOST,
        port=settings.SMTP_PORT,
        username=settings.SMTP_USERNAME,
        password=settings.SMTP_PASSWORD,
        starttls=settings.SMTP_STARTTLS,
        use_ssl=settings.SMTP_SSL,
        timeout=settings.SMTP_TIMEOUT_SECONDS,
    )


def mail_directory(settings: Settings) -> Path:
    return settings.DATA_DIR / "mail"


def _outgoing(row: OutboxMessage, sender: str) -> OutgoingMail:
    attachments = tuple(
        Attachment(
            filename=item.get("filename") or Path(item["path"]).name,
            content=Path(item["path"]).read_bytes(),
            content_type=item.get("content_type"),
        )
        for item in row.attachments or []
    )
    return OutgoingMail(
        message_id=row.message_id,
        sender=sender,
        recipient=row.recipient,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        created_at=row.created_at,
        attachments=attachments,
    )


def claim_due(database: Database, now: dt.datetime, claim_seconds: int, limit: int = BATCH) -> list[OutboxMessage]:
    """Takes the due messages for this sender (none that another sender holds)."""
    moment = naive_utc(now)
    until = moment + dt.timedelta(seconds=claim_seconds)
    with write_transaction(database) as session:
        due = repository.due_messages(session, moment, limit)
        claimed = [row_id for row_id, attempts in due if repository.claim(session, row_id, attempts, moment, until)]
        rows = repository.messages(session, claimed)
        session.expunge_all()
    return rows


def deliver_outbox(database: Database, settings: Settings, *, now: dt.datetime, limit: int = BATCH) -> DeliverySummary:
    """Delivers the due messages once each (see the module docstring for the guarantees)."""
    moment = naive_utc(now)
    config = smtp_config(settings)
    summary = DeliverySummary(directory=None if config else mail_directory(settings))
    rows = claim_due(database, moment, settings.OUTBOX_CLAIM_SECONDS, limit)
    if not rows:
        return summary
    with SmtpSender(config) if config else _NoSender() as sender:
        for row in rows:
            try:
                message = build_message(_outgoing(row, settings.MAIL_FROM))
                if sender is None:
                    assert summary.directory is not None
                    write_eml(summary.directory, message)
                else:
                    sender.send(message)
            except Exception as error:  # any failure leaves the message for a later attempt, never lost
                _failed(database, settings, row, moment, error, summary)
                continue
            status = repository.SENT if config else repository.WRITTEN
            with write_transaction(database) as session:
                repository.mark(session, row.id, status=status, sent_at=moment, last_error=None)
            if config:
                summary.sent += 1
            else:
                summary.written += 1
            log.info("outbox message %s %s (kind %s, attempt %s)", row.id, status, row.kind, row.attempts)
    return summary


def _failed(
    database: Database,
    settings: Settings,
    row: OutboxMessage,
    now: dt.datetime,
    error: Exception,
    summary: DeliverySummary,
) -> None:
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    gave_up = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    delay = backoff_seconds(row.attempts, settings.OUTBOX_BACKOFF_SECONDS, settings.OUTBOX_BACKOFF_MAX_SECONDS)
    with write_transaction(database) as session:
        repository.mark(
            session,
            row.id,
            status=repository.FAILED if gave_up else repository.PENDING,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            last_error=text,
        )
    if gave_up:
        summary.failed += 1
    else:
        summary.retrying += 1
    log.warning(
        "outbox message %s not delivered (attempt %s%s): %s",
        row.id,
        row.attempts,
        ", giving up" if gave_up else f", retry in {delay:.0f} s",
        type(error).__name__,
    )


class _NoSender:
    """Stands in for the SMTP session when mail goes to files."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None
