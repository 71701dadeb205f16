"""Delivery of rendered e-mail: MIME building, SMTP (plain, STARTTLS or SSL, with auth) and .eml files.

Standard library only (email, smtplib). The caller (the outbox in cs_health.renewals) decides what to send and
records the outcome; this module neither reads settings nor the clock: the Date header is the message's own
creation time, so a retried message is byte-for-byte the same message with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import mimetypes
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 30.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes = field(repr=False)
    content_type: str | None = None


@dataclass(frozen=True)
class OutgoingMail:
    """One e-mail as the outbox stores it; `message_id` is stable across retries."""

    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str | None = None
    created_at: dt.datetime | None = None  # naive UTC; becomes the Date header
    attachments: tuple[Attachment, ...] = ()


def build_message(mail: OutgoingMail) -> EmailMessage:
    """A MIME message: text/plain, with a text/html alternative when there is one, then any attachments."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    if mail.created_at is not None:
        moment = mail.created_at if mail.created_at.tzinfo else mail.created_at.replace(tzinfo=dt.UTC)
        message["Date"] = format_datetime(moment)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders should not answer
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        kind = attachment.content_type or mimetypes.guess_type(attachment.filename)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    seed = hashlib.sha256(mail.message_id.encode()).hexdigest()[:24]
    for number, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"==cs-health-{seed}-{number}==")  # not random: a retry is byte-for-byte the same
    return message


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff after `attempts` failed tries: base, 2 x base, 4 x base ... at most `cap`."""
    return float(min(cap, base * 2 ** max(attempts - 1, 0)))


class SmtpSender:
    """One SMTP session for a batch of messages, opened on the first send and reopened after a failure."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        if config.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            client.ehlo()
            if config.starttls and not config.use_ssl:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if config.username:
                client.login(config.username, config.password or "")
        except BaseException:
            _quietly_close(client)
            raise
        return client

    def send(self, message: EmailMessage) -> None:
        """Sends one message; raises (and drops the connection) on any SMTP or network error."""
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.send_message(message)
        except BaseException:
            self.close()
            raise
        if refused:  # some recipients refused: each message has one recipient, so this is a refusal
            raise smtplib.SMTPRecipientsRefused(refused)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(client)


def _quietly_close(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        client.close()


def eml_name(message_id: str) -> str:
    """A file name from the Message-ID: the same message always lands in the same file."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", message_id.strip("<>")) + ".eml"


def write_eml(directory: Path, message: EmailMessage) -> Path:
    """Writes the message as an .eml file (atomically: a crash leaves no half file; a retry overwrites)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / eml_name(str(message["Message-ID"]))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(message.as_bytes())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
