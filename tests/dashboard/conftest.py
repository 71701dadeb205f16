"""Dashboard fixtures: the app with the dashboard router, logins, a demo portfolio, a real uvicorn server and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cs_health.app import create_app
from cs_health.audit.schemas import Actor
from cs_health.dashboard import service
from cs_health.db.engine import Database
from tests.conftest import CliInvoker, require_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
ADMIN, CSM = "admin@cs.example", "csm@cs.example"
NOW = dt.datetime.now(dt.UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app() -> FastAPI:
    return create_app()


def make_user(database: Database, email: str = ADMIN, role: str = "admin", password: str = PASSWORD) -> None:
    with database.transaction() as session:
        service.create_user(session, email, role, password, NOW, actor=Actor.cli())


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, email: str = ADMIN, password: str = PASSWORD) -> Any:
    token = csrf_token(client.get("/login").text)
    data = {"email": email, "password": password, "csrf_token": token, "next": "/portfolio"}
    return client.post("/login", data=data, follow_redirects=False)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def admin_client(client: TestClient, database: Database) -> TestClient:
    make_user(database)
    assert log_in(client).status_code == 303
    return client


@pytest.fixture
def demo(cli: CliInvoker) -> None:
    """A small synthetic portfolio with twelve months of history, scored up to today."""
    result = cli("demo", "--accounts", "20", "--months", "12", "--no-serve")
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; skipped where it is missing, a failure under CI."""
    require_service(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service(False, "the playwright package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


HOSTILE = "<img src=x onerror=alert(1)>"


def make_alert(database: Database, account_id: str, *, title: str = "Renewal at risk", severity: str = "high") -> int:
    """An open alert written straight through the ORM (the alert rules are another package's business)."""
    from cs_health.db.tables import Alert

    moment = NOW.replace(tzinfo=None)
    with database.transaction() as session:
        alert = Alert(
            account_id=account_id,
            rule="renewal_risk",
            dedup_key=f"renewal_risk:{account_id}:{title}",
            severity=severity,
            status="open",
            title=title,
            message=f"{title}: renewal within 60 days and the band is red.",
            details={},
            as_of=NOW.date(),
            first_fired_at=moment,
            last_fired_at=moment,
            fire_count=1,
        )
        session.add(alert)
        session.flush()
        return alert.id


def make_hostile_account(database: Database, account_id: str = "acc-evil") -> str:
    """An account whose name, notes, drivers and alert are all markup: every page must show them as text."""
    from cs_health.db.tables import Account, ChurnPrediction, Contact, HealthScore, Subscription, Touchpoint

    today, moment = NOW.date(), NOW.replace(tzinfo=None)
    with database.transaction() as session:
        session.add(Account(account_id=account_id, name=HOSTILE, segment=HOSTILE, csm_email=ADMIN, tags=[HOSTILE]))
        session.flush()
        session.add_all(
            [
                Subscription(
                    subscription_id=f"{account_id}-1",
                    account_id=account_id,
                    start_date=today - dt.timedelta(days=300),
                    end_date=today + dt.timedelta(days=40),
                    mrr=5_000,
                    arr=60_000,
                    seats=20,
                    plan="pro",
                ),
                HealthScore(
                    account_id=account_id,
                    as_of=today,
                    score=22.0,
                    band="red",
                    trend_7d=-6.0,
                    trend_30d=-15.0,
                    components={
                        "measures": [
                            {
                                "measure": "active_user_share",
                                "group": "adoption",
                                "raw": 0.1,
                                "points": 10.0,
                                "weight": 1.0,
                                "contribution": 10.0,
                                "missing": False,
                            }
                        ],
                        "explanation": {"summary": f"Red because {HOSTILE}", "path_to_target": [{"text": HOSTILE}]},
                        "motion": HOSTILE,
                    },
                    lifecycle_stage="silent",
                    quadrant="high_value_at_risk",
                    scorecard_version="test",
                    computed_at=moment,
                ),
                ChurnPrediction(
                    account_id=account_id,
                    as_of=today,
                    probability_30d=0.2,
                    probability_90d=0.5,
                    probability_renewal=0.6,
                    renewal_date=today + dt.timedelta(days=40),
                    arr=60_000,
                    arr_at_risk=36_000,
                    drivers=[HOSTILE, "Renewal in 40 days"],  # plain words, as the churn stage stores them
                    model_version="test",
                ),
                Touchpoint(
                    touchpoint_id=f"{account_id}-tp", account_id=account_id, at=moment, kind="call", notes=HOSTILE
                ),
                Contact(user_id=f"{account_id}-u1", account_id=account_id, name=HOSTILE, email="x@evil.example"),
            ]
        )
    make_alert(database, account_id, title=f"Renewal at risk: {HOSTILE}")
    return account_id
