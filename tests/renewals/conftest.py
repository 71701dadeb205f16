"""Fixtures of the alert tests: settings pointing at a real SMTP server, and a scored portfolio."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from cs_health.config import Settings
from tests.renewals.support import SmtpServer

AS_OF = dt.date(2026, 1, 5)
NOW = dt.datetime(2026, 1, 5, 2, 0)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_TIMEOUT_SECONDS=10,
        BASE_URL="https://cs.example",
        ALERT_TEAM_EMAIL=None,
        OUTBOX_BACKOFF_SECONDS=60,
    )
