"""SMTP delivery against a real server (aiosmtpd on a loopback port), .eml files and backoff."""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.smtp import OutgoingMail, SmtpConfig, SmtpSender, backoff_seconds, build_message, eml_name, write_eml
from tests.renewals.support import SmtpServer

MAIL = OutgoingMail(
    message_id="<outbox-1.abc@cs-health>",
    sender="cs-health <cs-health@localhost>",
    recipient="ana@cs.example",
    subject="[cs-health] HIGH: Renewal at risk: Acme",
    text="plain words",
    html="<p>html words</p>",
    created_at=dt.datetime(2026, 1, 5, 2, 0),
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def test_a_message_has_both_parts_a_stable_id_and_a_date():
    message = build_message(MAIL)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<outbox-1.abc@cs-health>"
    assert message["Date"] == "Mon, 05 Jan 2026 02:00:00 +0000"
    assert bytes(build_message(MAIL)) == bytes(message)  # a retry is the same message


def test_messages_reach_a_real_smtp_server(smtp: SmtpServer):
    with SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout=10)) as sender:
        sender.send(build_message(MAIL))
        sender.send(build_message(OutgoingMail(**{**MAIL.__dict__, "message_id": "<outbox-2.x@cs-health>"})))
    assert [message["Message-ID"] for message in smtp.messages] == [
        "<outbox-1.abc@cs-health>",
        "<outbox-2.x@cs-health>",
    ]
    body = smtp.messages[0].get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "plain words"


def test_a_refusing_server_raises_and_a_stopped_one_too(smtp: SmtpServer):
    smtp.handler.refuse = True
    config = SmtpConfig(host="127.0.0.1", port=smtp.port, timeout=10)
    with SmtpSender(config) as sender, pytest.raises(smtplib.SMTPRecipientsRefused):
        sender.send(build_message(MAIL))
    smtp.stop()
    with SmtpSender(config) as sender, pytest.raises(ConnectionRefusedError):
        sender.send(build_message(MAIL))
    assert smtp.messages == []


def test_eml_files_are_written_once_per_message(tmp_path: Path):
    first = write_eml(tmp_path, build_message(MAIL))
    again = write_eml(tmp_path, build_message(MAIL))
    assert first == again == tmp_path / eml_name(MAIL.message_id)
    assert [path.name for path in tmp_path.iterdir()] == [first.name]
    assert b"Message-ID: <outbox-1.abc@cs-health>" in first.read_bytes()


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_seconds(attempt, 60, 600) for attempt in range(1, 7)] == [60, 120, 240, 480, 600, 600]
