"""`/api/v1/alerts`: listing with filters and pages, acknowledge / snooze / resolve, and the auth errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cs_health.app import create_app
from cs_health.audit.schemas import Actor
from cs_health.auth import service as keys
from cs_health.auth.schemas import Scope
from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.renewals.service import run_alerts
from tests.renewals.conftest import AS_OF, NOW
from tests.renewals.support import make_scored_account


@pytest.fixture
def alerts(database: Database, settings: Settings) -> None:
    """acc-r (Ana's): renewal risk (high) and few touches (high); acc-y (Bo's): few touches (warning)."""
    with database.transaction() as session:
        make_scored_account(
            session, "acc-r", AS_OF, name="Acme", band="red", score=30.0, days_to_renewal=45.0, touches_90d=1.0
        )
        make_scored_account(
            session, "acc-y", AS_OF, name="Yellow", csm_email="bo@cs.example", band="yellow", touches_90d=2.0
        )
        run_alerts(session, AS_OF, settings=settings, now=NOW)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_key(database: Database, scope: str) -> dict[str, str]:
    with database.transaction() as session:
        created = keys.create(session, [Scope(scope)], now=dt.datetime.now(dt.UTC), actor=Actor.cli())
    return bearer(created.key)


@pytest.fixture
def reader(database: Database) -> dict[str, str]:
    return make_key(database, "read")


@pytest.fixture
def admin(database: Database) -> dict[str, str]:
    return make_key(database, "admin")


def ids(response: object) -> list[tuple[str, str]]:
    return sorted((item["account_id"], item["rule"]) for item in response.json()["items"])  # type: ignore[attr-defined]


@pytest.mark.usefixtures("alerts")
def test_alerts_are_listed_with_filters(client: TestClient, reader: dict[str, str]):
    everything = client.get("/api/v1/alerts", headers=reader)
    assert everything.status_code == 200
    assert everything.json()["total"] == 3
    assert ids(client.get("/api/v1/alerts?rule=few_touches", headers=reader)) == [
        ("acc-r", "few_touches"),
        ("acc-y", "few_touches"),
    ]
    assert ids(client.get("/api/v1/alerts?severity=warning", headers=reader)) == [("acc-y", "few_touches")]
    assert ids(client.get("/api/v1/alerts?csm=ANA@cs.example", headers=reader)) == [
        ("acc-r", "few_touches"),
        ("acc-r", "renewal_risk"),
    ]
    assert ids(client.get("/api/v1/alerts?account_id=acc-y", headers=reader)) == [("acc-y", "few_touches")]
    assert client.get("/api/v1/alerts?status=resolved", headers=reader).json()["total"] == 0
    page = client.get("/api/v1/alerts?per_page=2&page=2", headers=reader).json()
    assert (len(page["items"]), page["total"], page["page"]) == (1, 3, 2)
    assert client.get("/api/v1/alerts?status=bogus", headers=reader).status_code == 422


@pytest.mark.usefixtures("alerts")
def test_ack_snooze_and_resolve(client: TestClient, reader: dict[str, str], admin: dict[str, str]):
    [alert] = client.get("/api/v1/alerts?rule=renewal_risk", headers=reader).json()["items"]
    assert alert["title"] == "Renewal at risk: Acme renews in 45 days"
    url = f"/api/v1/alerts/{alert['id']}"

    acked = client.post(f"{url}/ack", headers=admin)
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"].startswith("api-key:")

    until = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)).isoformat()
    snoozed = client.post(f"{url}/snooze", json={"until": until}, headers=admin)
    assert (snoozed.json()["status"], snoozed.json()["snoozed_until"]) == ("snoozed", until)
    past = client.post(f"{url}/snooze", json={"until": "2020-01-01"}, headers=admin)
    assert past.status_code == 422
    assert client.post(f"{url}/snooze", json={}, headers=admin).status_code == 422

    resolved = client.post(f"{url}/resolve", headers=admin)
    assert resolved.json()["status"] == "resolved"
    assert client.post(f"{url}/ack", headers=admin).status_code == 409
    assert client.get(f"{url}", headers=reader).json()["status"] == "resolved"
    assert client.get("/api/v1/alerts?status=resolved", headers=reader).json()["total"] == 1


@pytest.mark.usefixtures("alerts")
def test_auth_and_missing_alerts(client: TestClient, reader: dict[str, str], admin: dict[str, str]):
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers=bearer("csh_nope_nope")).status_code == 401
    [alert, *_] = client.get("/api/v1/alerts", headers=reader).json()["items"]
    forbidden = client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=reader)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["type"] == "Forbidden"
    assert client.post(f"/api/v1/alerts/{alert['id']}/resolve").status_code == 401
    missing = client.post("/api/v1/alerts/999999/resolve", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"
    assert client.get("/api/v1/alerts/999999", headers=reader).status_code == 404


@pytest.mark.usefixtures("alerts")
def test_alert_ids_beyond_the_column_are_refused_not_a_server_error(client: TestClient, admin: dict[str, str]):
    """Found by schemathesis: an id past 64 bits overflowed SQLite's driver and answered 500."""
    for url in ("/api/v1/alerts/49043295719743102976", f"/api/v1/alerts/{2**31}/ack"):
        answer = client.request("POST" if url.endswith("ack") else "GET", url, headers=admin)
        assert answer.status_code == 422
        assert answer.json()["error"]["details"]["problems"][0]["field"] == "path.alert_id"
    assert client.get(f"/api/v1/alerts/{2**31 - 1}", headers=admin).status_code == 404


@pytest.mark.usefixtures("alerts")
def test_alert_timestamps_say_they_are_utc(client: TestClient, reader: dict[str, str]):
    """Found by schemathesis: naive UTC went out without an offset, which is not the date-time the schema promises."""
    [alert, *_] = client.get("/api/v1/alerts", headers=reader).json()["items"]
    fired = dt.datetime.fromisoformat(alert["first_fired_at"])
    assert fired.utcoffset() == dt.timedelta(0)
    assert alert["first_fired_at"].endswith("Z")


@pytest.mark.usefixtures("alerts")
def test_pages_and_filters_that_no_database_could_answer_are_422(client: TestClient, reader: dict[str, str]):
    """Found by schemathesis on PostgreSQL: a huge page overflowed the 64-bit row offset, a NUL in a filter is not
    storable text; both were 500s."""
    for query in ("page=183647745302430666372247915421761536", "account_id=acc%00", "csm=%00"):
        assert client.get(f"/api/v1/alerts?{query}", headers=reader).status_code == 422
