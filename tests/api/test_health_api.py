"""The health API: an account's score with the why in plain words, its history, and CSM overrides."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cs_health.db.engine import Database
from cs_health.db.tables import HealthScore
from tests.conftest import CliInvoker, KeyMaker, bearer

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def account_id(cli: CliInvoker, database: Database) -> str:
    """A scored account of a small demo portfolio (the demo scores history up to today)."""
    assert cli("demo", "--accounts", "15", "--months", "12", "--seed", "4", "--no-serve").exit_code == 0
    with database.sessions() as session:
        return session.scalars(select(HealthScore.account_id).where(HealthScore.as_of == TODAY).limit(1)).one()


def test_account_view_answers_why_in_plain_words(client: TestClient, make_key: KeyMaker, account_id: str):
    response = client.get(f"/api/v1/accounts/{account_id}", headers=bearer(make_key("read")))
    assert response.status_code == 200
    health = response.json()["health"]
    assert health["as_of"] == TODAY.isoformat()
    assert health["band"] in {"green", "yellow", "red"}
    assert isinstance(health["why"], str)
    assert len(health["why"]) > 20
    assert health["components"]
    assert health["lifecycle_stage"] in {"active", "silent", "sleeping"}


def test_health_route_and_history(client: TestClient, make_key: KeyMaker, account_id: str):
    key = bearer(make_key("read"))
    assert client.get(f"/api/v1/accounts/{account_id}/health", headers=key).json()["model_band"]
    history = client.get(f"/api/v1/accounts/{account_id}/health/history", headers=key).json()
    dates = [point["as_of"] for point in history["points"]]
    assert dates == sorted(dates)
    assert dates[-1] == TODAY.isoformat()
    since = dates[-2]
    recent = client.get(f"/api/v1/accounts/{account_id}/health/history?since={since}", headers=key).json()
    assert [point["as_of"] for point in recent["points"]] == dates[-2:]


def test_unknown_account_is_404_in_the_error_shape(client: TestClient, make_key: KeyMaker):
    response = client.get("/api/v1/accounts/nope/health", headers=bearer(make_key("read")))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"


def test_override_needs_admin_and_shows_beside_the_model_band(client: TestClient, make_key: KeyMaker, account_id: str):
    body = {"band": "red", "reason": "Budget freeze announced", "expires_on": str(TODAY + dt.timedelta(days=30))}
    url = f"/api/v1/accounts/{account_id}/health/override"
    assert client.post(url, json=body, headers=bearer(make_key("read"))).status_code == 403
    created = client.post(url, json=body, headers=bearer(make_key("admin")))
    assert created.status_code == 201
    assert created.json()["created_by"].startswith("api-key:")
    health = client.get(f"/api/v1/accounts/{account_id}/health", headers=bearer(make_key("read"))).json()
    assert health["band"] == "red"
    assert health["override"]["reason"] == "Budget freeze announced"
    assert health["model_band"] in {"green", "yellow", "red"}


def test_override_payload_errors_name_the_field(client: TestClient, make_key: KeyMaker, account_id: str):
    url = f"/api/v1/accounts/{account_id}/health/override"
    bad_band = client.post(
        url, json={"band": "purple", "reason": "x y z", "expires_on": "2099-01-01"}, headers=bearer(make_key("admin"))
    )
    assert bad_band.status_code == 422
    assert bad_band.json()["error"]["details"]["problems"][0]["field"] == "band"
    past = client.post(
        url, json={"band": "red", "reason": "too late", "expires_on": "2000-01-01"}, headers=bearer(make_key("admin"))
    )
    assert past.status_code == 422
    assert "expires_on" in past.json()["error"]["message"]
