"""Report fixtures: small accounts made through the ORM, and an API client that serves the reports router."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cs_health.app import create_app
from cs_health.db.engine import Database
from cs_health.db.tables import Account, Contact, Subscription, Ticket


def make_account(
    database: Database,
    account_id: str = "acc-1",
    *,
    name: str | None = "Acme",
    csm_email: str | None = "csm@cs.example",
    start: dt.date = dt.date(2025, 1, 1),
    end: dt.date = dt.date(2027, 1, 1),
    seats: int = 10,
    champion: str | None = None,
) -> None:
    with database.transaction() as session:
        session.add(Account(account_id=account_id, name=name, segment="smb", csm_email=csm_email, plan="growth"))
        session.flush()
        session.add(
            Subscription(
                subscription_id=f"s-{account_id}",
                account_id=account_id,
                start_date=start,
                end_date=end,
                mrr=100.0,
                arr=1200.0,
                plan="growth",
                seats=seats,
                status="active",
            )
        )
        if champion:
            session.add(Contact(user_id=f"u-{account_id}", account_id=account_id, email=champion, role="champion"))
        session.add(
            Ticket(
                ticket_id=f"t-{account_id}",
                account_id=account_id,
                opened_at=dt.datetime(2026, 10, 5, 9),
                priority="high",
            )
        )


@pytest.fixture
def report_client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client
