"""Test helpers shared by tests/renewals and tests/alerts: a real SMTP server and hand-made scored accounts."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.orm import Session

from cs_health.db.tables import Account, HealthScore

COMPUTED_AT = dt.datetime(2026, 1, 1, 3, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """An aiosmtpd handler keeping every received message; `refuse` answers 451 (try later) to each recipient."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


class PasswordCheck:
    """An aiosmtpd authenticator accepting one login (AUTH without TLS, as on a loopback test server)."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.logins: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.username.encode(),
            self.password.encode(),
        )
        if ok:
            self.logins.append(self.username)
        return AuthResult(success=ok)


class SmtpServer:
    """A real SMTP server on a loopback port that can be stopped and started again on the same port; with
    `auth`, it asks for that login."""

    def __init__(self, auth: PasswordCheck | None = None) -> None:
        self.port = free_port()
        self.handler = Recorder()
        self.controller: Controller | None = None
        self.auth = auth

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        options: dict[str, Any] = {"authenticator": self.auth, "auth_require_tls": False} if self.auth else {}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def make_scored_account(
    session: Session,
    account_id: str,
    as_of: dt.date,
    *,
    name: str | None = None,
    csm_email: str | None = "ana@cs.example",
    band: str = "green",
    score: float | None = 80.0,
    trend_30d: float | None = 0.0,
    lifecycle_stage: str = "active",
    create_account: bool = True,
    **features: Any,
) -> None:
    """One account (unless it exists) and its stored health row for `as_of`; features go into the components."""
    if create_account and session.get(Account, account_id) is None:
        session.add(Account(account_id=account_id, name=name or account_id, csm_email=csm_email, tags=[]))
        session.flush()
    defaults: dict[str, Any] = {
        "days_to_renewal": 300.0,
        "renewal_date": (as_of + dt.timedelta(days=int(features.get("days_to_renewal", 300)))).isoformat(),
        "arr": 50_000.0,
        "seats": 10.0,
        "seat_utilisation": 0.7,
        "active_users_28d": 7.0,
        "touches_90d": 8.0,
        "champion_active_30d": 1.0,
        "usage_trend": 0.0,
        "days_since_last_activity": 1.0,
    }
    session.add(
        HealthScore(
            account_id=account_id,
            as_of=as_of,
            score=score,
            band=band,
            trend_7d=None,
            trend_30d=trend_30d,
            components={"features": {**defaults, **features}, "explanation": {}},
            lifecycle_stage=lifecycle_stage,
            quadrant=None,
            scorecard_version="test",
            computed_at=COMPUTED_AT,
        )
    )
    session.flush()
