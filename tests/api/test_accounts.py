"""`GET /api/v1/accounts/{account_id}`: fields, current subscription, users, freshness; read scope; 404."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from cs_health.db.engine import Database
from cs_health.db.tables import Account, Contact, Subscription
from tests.conftest import KeyMaker, bearer

TODAY = dt.datetime.now(dt.UTC).date()


def test_the_account_view(client: TestClient, make_key: KeyMaker, database: Database) -> None:
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme", segment="smb", tags=["eu"], source="import"))
        session.flush()
        session.add_all(
            [
                Contact(user_id="u-1", account_id="acc-1"),
                Contact(user_id="u-2", account_id="acc-1"),
                Subscription(
                    subscription_id="old",
                    account_id="acc-1",
                    start_date=TODAY - dt.timedelta(days=400),
                    end_date=TODAY - dt.timedelta(days=35),
                    mrr=100,
                    arr=1200,
                ),
                Subscription(
                    subscription_id="now",
                    account_id="acc-1",
                    start_date=TODAY - dt.timedelta(days=35),
                    end_date=TODAY + dt.timedelta(days=330),
                    mrr=150,
                    arr=1800,
                    seats=12,
                    plan="growth",
                ),
            ]
        )
    ingest = make_key("ingest")
    sent = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None) - dt.timedelta(hours=3)
    event = {"account_id": "acc-1", "event": "login", "timestamp": sent.isoformat(), "message_id": "m"}
    assert client.post("/api/v1/events", json=[event], headers=bearer(ingest)).status_code == 200

    assert client.get("/api/v1/accounts/acc-1", headers=bearer(ingest)).status_code == 403
    response = client.get("/api/v1/accounts/acc-1", headers=bearer(make_key("read")))
    assert response.status_code == 200
    view = response.json()
    assert (view["name"], view["segment"], view["tags"], view["users"]) == ("Acme", "smb", ["eu"], 2)
    subscription = view["subscription"]
    assert (subscription["subscription_id"], subscription["arr"], subscription["seats"]) == ("now", 1800.0, 12)
    assert subscription["end_date"] == (TODAY + dt.timedelta(days=330)).isoformat()
    assert view["freshness"]["last_event_at"] == sent.isoformat() + "Z"  # naive UTC goes out marked as UTC
    assert view["freshness"]["last_received_at"] is not None


def test_unknown_accounts_are_404_in_the_error_shape(client: TestClient, make_key: KeyMaker) -> None:
    response = client.get("/api/v1/accounts/nope", headers=bearer(make_key("read")))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"type": "NotFound", "message": "no account 'nope'", "details": {"account_id": "nope"}}
    }
