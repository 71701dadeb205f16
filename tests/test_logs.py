"""No secret and no personal data in what the service logs: every logger at DEBUG (SQLAlchemy's statements too),
uvicorn's error and access logs, and whatever reaches stdout and stderr, captured while a realistic portfolio is
imported and run, mail goes out through an SMTP server that wants a password, telemetry arrives over HTTP with an
API key (a Segment identify carrying a new person), and a CSM logs in (once wrongly) and filters by a CSM's e-mail
and a person's name in the query string."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cs_health.config import get_settings
from cs_health.dashboard.auth import COOKIE
from cs_health.db.engine import Database
from cs_health.demo.generator import generate_portfolio, write_portfolio
from cs_health.logs import without_query_values
from tests.conftest import CliInvoker, bearer
from tests.dashboard.conftest import PASSWORD, csrf_token, make_user
from tests.renewals.support import PasswordCheck, SmtpServer

SMTP_USER, SMTP_PASSWORD = "cs-health-mailer", "smtp-Pa55word-7d1f0c"
LOGIN = "zelda.okonkwo@cs-team.example"
WRONG_PASSWORD = "guessed-Pa55word-41ab"
NEWCOMER = {"email": "ottoline.vanderpump@client.example", "name": "Ottoline Vanderpump"}
SERVER_LOGGERS = ("uvicorn", "uvicorn.access")
# Not the service: aiosmtpd stands in for the mail provider (which must see its recipients), and httpx/httpcore
# are the test's own HTTP client (a sender's or a browser's side, which knows what it asked for).
OTHER_PARTIES = ("mail.log", "httpx", "httpcore")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(auth=PasswordCheck(SMTP_USER, SMTP_PASSWORD))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG into caplog: the root, SQLAlchemy's statements, and uvicorn's own loggers (which do
    not propagate)."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    before = {name: logging.getLogger(name).level for name in SERVER_LOGGERS}
    for name in SERVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(caplog.handler)
    yield caplog
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).removeHandler(caplog.handler)


def personal_data(folder: Path) -> set[str]:
    """Every contact's and CSM's e-mail address and every person's name in the imported files."""
    users = pd.read_csv(folder / "users.csv", dtype=str)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    values = {*users["email"].dropna(), *users["name"].dropna(), *accounts["csm_email"].dropna()}
    return {value for value in values if len(value) >= 6}


def test_no_secrets_or_personal_data_in_logs(
    cli: CliInvoker,
    database: Database,
    server: str,
    smtp: SmtpServer,
    everything_logged: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_USERNAME": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SECRET_KEY": "session-signing-Secret-5e2a",
        "TRAININGS_EMAIL_CONTACTS": "true",
    }.items():
        monkeypatch.setenv(f"CS_HEALTH_{name}", value)
    get_settings.cache_clear()
    today = dt.datetime.now(dt.UTC).date()
    folder = tmp_path / "portfolio"
    files = write_portfolio(generate_portfolio(accounts=12, months=6, seed=3, end=today), folder)
    outputs = []

    for kind, path in files.items():
        imported = cli("import", kind, str(path))
        assert imported.exit_code == 0, imported.output
        outputs.append(imported.output)
    run = cli("run", "--as-of", str(today))
    assert run.exit_code == 0, run.output
    sent = cli("outbox", "send")
    assert sent.exit_code == 0, sent.output
    outputs += [run.output, sent.output]
    assert smtp.messages, "the run should have mailed someone"
    assert smtp.auth is not None
    assert smtp.auth.logins  # the password was used

    key = cli("apikey", "create", "--scopes", "ingest").stdout.strip().splitlines()[-1]
    account, contact = pd.read_csv(folder / "users.csv", dtype=str).iloc[0][["account_id", "user_id"]]
    event = {"account_id": account, "event": "login", "timestamp": f"{today}T09:00:00Z", "user_id": contact}
    make_user(database, email=LOGIN)
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.post("/api/v1/events", json=[event], headers=bearer(key)).json()["accepted"] == 1
        segment = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        identify = {"userId": "u-new", "traits": NEWCOMER, "context": {"groupId": account}}
        assert client.post("/v1/identify", json=identify, headers=segment).status_code == 200
        token = csrf_token(client.get("/login").text)
        wrong = {"email": LOGIN, "password": WRONG_PASSWORD, "csrf_token": token}
        assert client.post("/login", data=wrong).status_code == 401
        right = {"email": LOGIN, "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=right, follow_redirects=False).status_code == 303
        cookie = client.cookies[COOKIE]
        csm = pd.read_csv(folder / "accounts.csv", dtype=str)["csm_email"].iloc[0]
        assert client.get("/portfolio", params={"csm": csm, "q": NEWCOMER["name"]}).status_code == 200
        assert client.get("/api/v1/alerts", params={"csm": csm}, headers=bearer(key)).status_code == 403

    captured = capfd.readouterr()
    records = [record for record in everything_logged.records if not record.name.startswith(OTHER_PARTIES)]
    assert any(record.name.startswith("cs_health") for record in records)  # the capture does see the service
    assert any(record.name == "uvicorn.access" for record in records)
    assert any(record.name.startswith("sqlalchemy.engine") for record in records)
    formatter = everything_logged.handler.formatter or logging.Formatter()
    logged = "\n".join([*map(formatter.format, records), captured.out, captured.err, *outputs])
    secrets = {
        key,
        key.split("_", 2)[2],
        PASSWORD,
        WRONG_PASSWORD,
        cookie,
        SMTP_PASSWORD,
        "session-signing-Secret-5e2a",
    }
    people = personal_data(folder) | {LOGIN, *NEWCOMER.values()}
    assert len(people) > 100
    assert leaks(secrets, logged) == {}
    assert leaks(people, logged) == {}


def leaks(values: set[str], logged: str) -> dict[str, str]:
    """Each value found as is or URL-encoded, with the first line it is on (so a failure shows where it leaked)."""
    found = {}
    for value in sorted(values):
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            line = next((line for line in logged.splitlines() if form in line), None)
            if line is not None:
                found[value] = line[:300]
    return found


def test_sql_errors_do_not_carry_their_parameters(database: Database):
    """A failed statement's message reaches logs and run records; it names the statement, never the values."""
    with pytest.raises(IntegrityError) as failed, database.transaction() as session:
        session.execute(
            text("INSERT INTO contact (user_id, account_id, email, name) VALUES (:user, :account, :email, :name)"),
            {"user": "u-x", "account": "no-such-account", "email": NEWCOMER["email"], "name": NEWCOMER["name"]},
        )
    assert "contact" in str(failed.value)
    assert NEWCOMER["email"] not in str(failed.value)
    assert NEWCOMER["name"] not in str(failed.value)


def test_access_log_paths_keep_parameter_names_not_values():
    assert without_query_values("/portfolio") == "/portfolio"
    assert without_query_values("/portfolio?csm=a%40b.c&q=Jo+Doe&page=2") == "/portfolio?csm=***&q=***&page=***"
    assert without_query_values("/api/v1/alerts?flag") == "/api/v1/alerts?flag=***"
