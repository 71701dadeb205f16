"""`POST /api/v1/events`: auth, limits, mixed batches, deduplication (also across a file import) and rollups."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cs_health.audit.schemas import Actor
from cs_health.auth import service as keys
from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, ImportRun, UsageEvent
from cs_health.ingestion import service as ingestion_service
from cs_health.ingestion.contract import MAX_QUANTITY
from tests.conftest import CliInvoker, KeyMaker, bearer
from tests.factories import write_records

URL = "/api/v1/events"
TODAY = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": "acc-1",
        "event": "login",
        "timestamp": (TODAY - dt.timedelta(hours=1)).isoformat() + "Z",
        "user_id": f"u-{n % 3}",
        "message_id": f"msg-{n}",
        **fields,
    }


def stored(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


def daily(database: Database, day: dt.date, name: str = "login") -> tuple[int, float, int] | None:
    with database.sessions() as session:
        row = session.execute(
            select(DailyUsage.events, DailyUsage.quantity, DailyUsage.users).where(
                DailyUsage.account_id == "acc-1", DailyUsage.day == day, DailyUsage.event == name
            )
        ).first()
    return tuple(row) if row else None


def test_good_batch_is_stored_and_counted(client: TestClient, ingest_key: str, database: Database) -> None:
    response = client.post(URL, json=[event(n) for n in range(10)], headers=bearer(ingest_key))
    assert response.status_code == 200
    assert response.json() == {"accepted": 10, "duplicates": 0, "rejected": 0, "errors": []}
    assert stored(database) == 10
    assert daily(database, (TODAY - dt.timedelta(hours=1)).date()) == (10, 10.0, 3)
    with database.sessions() as session:
        account = session.get(Account, "acc-1")
        runs = session.scalars(select(ImportRun)).all()
    assert account is not None
    assert account.last_event_at == TODAY - dt.timedelta(hours=1)
    assert account.last_received_at is not None
    assert [(run.accepted, run.source.startswith("api:")) for run in runs] == [(10, True)]


def test_mixed_batch_keeps_the_good_and_reports_the_bad(
    client: TestClient, ingest_key: str, database: Database
) -> None:
    future = (TODAY + dt.timedelta(days=3)).isoformat()
    batch = [
        event(0),
        event(1, timestamp="yesterday-ish"),
        "not an object",
        event(3, account_id=""),
        event(4, timestamp=future),
        event(5, quantity=-2, browser="firefox"),
        event(6, browser="firefox", properties={"plan": "pro"}),
    ]
    response = client.post(URL, json=batch, headers=bearer(ingest_key))
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 5)
    problems = {(error["index"], error["field"]) for error in body["errors"]}
    assert problems == {(1, "timestamp"), (2, "event"), (3, "account_id"), (4, "timestamp"), (5, "quantity")}
    assert all(error["reason"] for error in body["errors"])
    assert "future" in next(error["reason"] for error in body["errors"] if error["index"] == 4)
    with database.sessions() as session:
        kept = dict(session.execute(select(UsageEvent.message_id, UsageEvent.properties)).all())
    assert set(kept) == {"msg-0", "msg-6"}
    assert kept["msg-6"] == {"browser": "firefox", "plan": "pro"}  # extra top-level fields kept as properties


def test_text_with_a_nul_character_is_rejected_per_event(client: TestClient, ingest_key: str, database: Database):
    """Found by schemathesis on PostgreSQL, which cannot store U+0000: the whole batch failed with a 500. Now the
    event is rejected (on SQLite too, so both databases accept the same data) and the others are kept."""
    batch = [
        event(0),
        event(1, event="log\x00in"),
        event(2, properties={"k\x00": "v"}),
        event(3, user_id="\x00"),
        event(4, browser=["fire\x00fox"]),  # an extra field, kept as a property
    ]
    body = client.post(URL, json=batch, headers=bearer(ingest_key)).json()
    assert (body["accepted"], body["rejected"]) == (1, 4)
    assert {(error["index"], error["field"]) for error in body["errors"]} == {
        (1, "event"),
        (2, "properties"),
        (3, "user_id"),
        (4, "properties"),
    }
    assert all("NUL" in error["reason"] for error in body["errors"])
    assert stored(database) == 1


def test_a_quantity_too_large_to_sum_is_rejected_and_the_largest_allowed_sums(
    client: TestClient, ingest_key: str, database: Database
):
    """Found by schemathesis on PostgreSQL: two events of quantity 1.8e308 on one day overflowed the rollup's sum
    and the request failed with a 500. Such a quantity is now rejected by index and field; the largest allowed
    ones still add up in the day's rollup."""
    largest = MAX_QUANTITY
    batch = [event(0, quantity=largest), event(1, quantity=1.7976931348623157e308), event(2, quantity=largest)]
    body = client.post(URL, json=batch, headers=bearer(ingest_key)).json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [(error["index"], error["field"]) for error in body["errors"]] == [(1, "quantity")]
    again = client.post(URL, json=[event(3, quantity=largest)], headers=bearer(ingest_key)).json()
    assert again["accepted"] == 1
    assert daily(database, (TODAY - dt.timedelta(hours=1)).date()) == (3, 3 * largest, 2)  # users u-0 and u-2


def test_replayed_message_ids_are_not_double_counted(client: TestClient, ingest_key: str, database: Database) -> None:
    batch = [event(n, quantity=2) for n in range(6)]
    first = client.post(URL, json=batch, headers=bearer(ingest_key)).json()
    replay = client.post(URL, json=[*batch[3:], event(6, quantity=2), event(6, quantity=2)], headers=bearer(ingest_key))
    assert first["accepted"] == 6
    assert replay.json() == {"accepted": 1, "duplicates": 4, "rejected": 0, "errors": []}
    assert stored(database) == 7
    day = (TODAY - dt.timedelta(hours=1)).date()
    assert daily(database, day) == (7, 14.0, 3)


def test_a_replay_is_the_same_message_at_the_same_moment_in_any_notation(
    client: TestClient, ingest_key: str, database: Database
) -> None:
    """Events are keyed by their time and message id: a retry carries both, whichever UTC offset it writes the
    time in; a message id reused for another moment is another event (see UsageEvent)."""
    moment = (TODAY - dt.timedelta(days=1)).replace(hour=10, minute=0, tzinfo=dt.UTC)
    in_utc = event(1, timestamp=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    in_paris = event(1, timestamp=moment.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat())
    first = client.post(URL, json=[in_utc], headers=bearer(ingest_key)).json()
    retried = client.post(URL, json=[in_paris], headers=bearer(ingest_key)).json()
    later = client.post(
        URL, json=[event(1, timestamp=(moment + dt.timedelta(minutes=5)).isoformat())], headers=bearer(ingest_key)
    )
    assert (first["accepted"], retried["duplicates"], later.json()["accepted"]) == (1, 1, 1)
    assert stored(database) == 2
    assert daily(database, moment.date()) == (2, 2.0, 1)


def test_file_import_and_http_share_the_deduplication(
    client: TestClient, ingest_key: str, database: Database, cli: CliInvoker, tmp_path: Path
) -> None:
    batch = [event(n) for n in range(4)]
    write_records(tmp_path / "events.jsonl", batch[:3])
    assert cli("import", "events", str(tmp_path / "events.jsonl")).exit_code == 0
    response = client.post(URL, json=batch, headers=bearer(ingest_key))
    assert response.json()["accepted"] == 1
    assert response.json()["duplicates"] == 3
    result = cli("import", "events", str(tmp_path / "events.jsonl"))
    assert "0 accepted, 3 duplicates" in result.stdout
    assert stored(database) == 4


def test_late_events_correct_their_days_rollup(client: TestClient, ingest_key: str, database: Database) -> None:
    old_day = TODAY.date() - dt.timedelta(days=40)
    at = f"{old_day.isoformat()}T10:00:00Z"
    client.post(URL, json=[event(1, timestamp=at, quantity=1)], headers=bearer(ingest_key))
    client.post(
        URL, json=[event(2, timestamp=(TODAY - dt.timedelta(minutes=5)).isoformat())], headers=bearer(ingest_key)
    )
    assert daily(database, old_day) == (1, 1.0, 1)
    late = [event(3, timestamp=at, quantity=4), event(4, timestamp=at, user_id=None)]
    response = client.post(URL, json=late, headers=bearer(ingest_key))
    assert response.json()["accepted"] == 2
    assert daily(database, old_day) == (3, 6.0, 2)  # u-1 and u-0 (the anonymous event counts, not as a user)
    with database.sessions() as session:
        account = session.get(Account, "acc-1")
    assert account is not None
    assert account.last_event_at == TODAY - dt.timedelta(minutes=5)  # a late event never moves freshness back


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "required"),
        ({"Authorization": "Bearer nonsense"}, "invalid"),
        ({"Authorization": "Bearer csh_abcdef123456_wrongsecret"}, "invalid"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "required"),
    ],
)
def test_missing_or_bad_keys_get_401(
    client: TestClient, database: Database, headers: dict[str, str], message: str
) -> None:
    response = client.post(URL, json=[event(0)], headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert message in response.json()["error"]["message"]
    assert stored(database) == 0


def test_a_real_prefix_with_a_wrong_secret_gets_401(client: TestClient, ingest_key: str) -> None:
    prefix = ingest_key.split("_")[1]
    response = client.post(URL, json=[event(0)], headers=bearer(f"csh_{prefix}_{'x' * 43}"))
    assert response.status_code == 401


def test_revoked_and_expired_keys_get_401(client: TestClient, make_key: KeyMaker, database: Database) -> None:
    revoked = make_key("ingest")
    with database.transaction() as session:
        keys.revoke(session, revoked.split("_")[1], now=dt.datetime.now(dt.UTC), actor=Actor.cli())
    expired = make_key("ingest", expires_days=1, created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    for key, reason in ((revoked, "revoked"), (expired, "expired")):
        response = client.post(URL, json=[event(0)], headers=bearer(key))
        assert response.status_code == 401
        assert reason in response.json()["error"]["message"]
    assert stored(database) == 0


def test_a_key_without_the_ingest_scope_gets_403(client: TestClient, make_key: KeyMaker, database: Database) -> None:
    response = client.post(URL, json=[event(0)], headers=bearer(make_key("read")))
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "type": "Forbidden",
            "message": "this API key lacks the 'ingest' scope",
            "details": {"required": "ingest"},
        }
    }
    admin = client.post(URL, json=[event(0)], headers=bearer(make_key("admin")))
    assert admin.status_code == 200  # admin implies every scope
    assert stored(database) == 1


def test_more_than_5000_events_get_413(client: TestClient, ingest_key: str, database: Database) -> None:
    response = client.post(URL, json=[event(n) for n in range(5_001)], headers=bearer(ingest_key))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"
    assert stored(database) == 0
    assert client.post(URL, json=[event(n) for n in range(5_000)], headers=bearer(ingest_key)).status_code == 200


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[int]:
    monkeypatch.setenv("CS_HEALTH_MAX_REQUEST_BYTES", "2048")
    get_settings.cache_clear()
    yield 2048
    get_settings.cache_clear()


def test_a_body_over_the_byte_limit_gets_413_even_without_a_length(
    client: TestClient, ingest_key: str, database: Database, small_limit: int
) -> None:
    import orjson

    body = orjson.dumps([event(n) for n in range(40)])
    assert len(body) > small_limit
    declared = client.post(URL, content=body, headers={**bearer(ingest_key), "Content-Type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length, the limit holds while reading
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    streamed = client.post(URL, content=chunks(), headers={**bearer(ingest_key), "Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert "limit" in streamed.json()["error"]["message"]
    bomb = gzip.compress(body)
    assert len(bomb) < small_limit
    inflated = client.post(URL, content=bomb, headers={**bearer(ingest_key), "Content-Encoding": "gzip"})
    assert inflated.status_code == 413
    assert stored(database) == 0
    fits = client.post(URL, json=[event(1)], headers=bearer(ingest_key))
    assert fits.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'[{"account_id": "acc-1",', "malformed JSON"), (b'{"account_id": "acc-1"}', "JSON list"), (b"", "empty")],
)
def test_malformed_bodies_get_400_in_the_error_shape(
    client: TestClient, ingest_key: str, body: bytes, message: str
) -> None:
    response = client.post(URL, content=body, headers={**bearer(ingest_key), "Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"type", "message", "details"}
    assert error["type"] == "BadRequest"
    assert message in error["message"]


def test_a_failed_request_leaves_nothing_half_written(
    client: TestClient, ingest_key: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events are inserted, then the rollup fails: the whole request rolls back."""
    original = ingestion_service.repository.merge_rollup

    def failing_rollup(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingestion_service.repository, "merge_rollup", failing_rollup)
    with TestClient(client.app, raise_server_exceptions=False) as failing:
        response = failing.post(URL, json=[event(n) for n in range(5)], headers=bearer(ingest_key))
    assert response.status_code == 500
    assert stored(database) == 0
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DailyUsage)) == 0
        assert session.get(Account, "acc-1") is None
    monkeypatch.undo()
    assert client.post(URL, json=[event(n) for n in range(5)], headers=bearer(ingest_key)).json()["accepted"] == 5


def test_openapi_documents_the_error_responses(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/api/v1/events"]["post"]["responses"]
    assert {"200", "400", "401", "403", "413"} <= set(responses)
    for status in ("400", "401", "403", "413"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert (
        document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]["type"]
        == "array"
    )
    account = document["paths"]["/api/v1/accounts/{account_id}"]["get"]["responses"]
    assert {"401", "403", "404"} <= set(account)
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def test_unknown_routes_answer_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"
