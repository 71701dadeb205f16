"""The per-key ingestion rate limit: a burst over it gets 429 + Retry-After, other keys go on, the bucket refills."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cs_health.auth.ratelimit import RateLimiter
from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import UsageEvent
from cs_health.exceptions import RateLimited
from tests.conftest import KeyMaker, bearer

EVENT = {"account_id": "acc-1", "event": "login", "timestamp": "2026-01-05T09:00:00Z"}


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Three requests at once per key, then one every two seconds (slow enough that a busy machine still sends
    a burst faster than it refills)."""
    monkeypatch.setenv("CS_HEALTH_INGEST_RATE_LIMIT", "0.5")
    monkeypatch.setenv("CS_HEALTH_INGEST_RATE_BURST", "3")
    get_settings.cache_clear()


def post(client: TestClient | httpx.Client, key: str, message_id: str) -> httpx.Response:
    return client.post("/api/v1/events", json=[{**EVENT, "message_id": message_id}], headers=bearer(key))


def stored(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


@pytest.mark.usefixtures("limit")
def test_a_burst_over_the_limit_gets_429_with_retry_after(server: str, make_key: KeyMaker, database: Database):
    key = make_key("ingest")
    with httpx.Client(base_url=server, timeout=30) as client:
        assert [post(client, key, f"m-{n}").status_code for n in range(3)] == [200, 200, 200]
        refused = post(client, key, "m-over")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["type"] == "RateLimited"
    assert error["details"]["retry_after"] == int(refused.headers["Retry-After"])
    assert stored(database) == 3  # the refused request's event was not taken


@pytest.mark.usefixtures("limit")
def test_other_keys_are_unaffected_and_the_bucket_refills(client: TestClient, make_key: KeyMaker):
    busy, quiet = make_key("ingest"), make_key("ingest")
    for n in range(3):
        assert post(client, busy, f"b-{n}").status_code == 200
    refused = post(client, busy, "b-over")
    assert refused.status_code == 429
    assert [post(client, quiet, f"q-{n}").status_code for n in range(3)] == [200, 200, 200]
    time.sleep(int(refused.headers["Retry-After"]))  # a whole token is back by then, and not two
    assert post(client, busy, "b-later").status_code == 200
    assert post(client, busy, "b-later-2").status_code == 429


@pytest.mark.usefixtures("limit")
def test_segment_calls_share_the_limit(client: TestClient, make_key: KeyMaker):
    key = make_key("ingest")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    track = {"userId": "u-1", "event": "login", "context": {"groupId": "acc-1"}, "timestamp": EVENT["timestamp"]}
    codes = [
        client.post("/v1/track", json={**track, "messageId": f"s-{n}"}, headers=auth).status_code for n in range(3)
    ]
    assert codes == [200, 200, 200]
    refused = client.post("/v1/batch", json={"batch": [{**track, "type": "track"}]}, headers=auth)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert post(client, key, "native").status_code == 429  # one bucket per key, whichever API it uses


def test_a_rate_of_zero_turns_the_limit_off(client: TestClient, make_key: KeyMaker, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CS_HEALTH_INGEST_RATE_LIMIT", "0")
    monkeypatch.setenv("CS_HEALTH_INGEST_RATE_BURST", "1")
    get_settings.cache_clear()
    key = make_key("ingest")
    assert {post(client, key, f"m-{n}").status_code for n in range(5)} == {200}


def test_the_defaults_leave_room_for_the_http_benchmark():
    """benchmarks/http_ingest.py: 8 clients posting back to back, tens of requests per second on one worker."""
    settings = get_settings()
    assert settings.INGEST_RATE_LIMIT >= 200
    assert settings.INGEST_RATE_BURST >= 8


def test_the_bucket_refills_at_the_rate_up_to_the_burst():
    moment = [0.0]
    limiter = RateLimiter(clock=lambda: moment[0])
    assert [limiter.wait_seconds("k", 2, 2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.wait_seconds("k", 2, 2) == pytest.approx(0.5)
    moment[0] = 0.25  # half a token back
    assert limiter.wait_seconds("k", 2, 2) == pytest.approx(0.25)
    moment[0] = 100.0  # a long pause fills the bucket to the burst, no further
    assert [limiter.wait_seconds("k", 2, 2) for _ in range(3)][-1] > 0
    with pytest.raises(RateLimited) as refused:
        limiter.take("k", 2, 2)
    assert refused.value.headers == {"Retry-After": "1"}


def test_openapi_lists_429_with_retry_after_on_the_ingestion_routes(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/events", "/v1/track", "/v1/identify", "/v1/group", "/v1/page", "/v1/screen", "/v1/batch"):
        response = paths[path]["post"]["responses"]["429"]
        assert "Retry-After" in response["headers"], path
        assert response["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "429" not in paths["/api/v1/accounts/{account_id}"]["get"]["responses"]
