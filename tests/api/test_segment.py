"""The Segment HTTP Tracking API, driven by the official `segment-analytics-python` client and by raw payloads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from segment.analytics.client import Client
from sqlalchemy import select

from cs_health.db.engine import Database
from cs_health.db.tables import Account, Contact, UsageEvent
from tests.conftest import KeyMaker, basic

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def events(database: Database) -> list[tuple[Any, ...]]:
    with database.sessions() as session:
        rows = session.execute(
            select(UsageEvent.message_id, UsageEvent.account_id, UsageEvent.user_id, UsageEvent.event)
        ).all()
    return sorted(tuple(row) for row in rows)


def test_the_official_client_lands_in_the_tables(server: str, ingest_key: str, database: Database) -> None:
    failures: list[Exception] = []
    client = Client(write_key=ingest_key, host=server, sync_mode=True, on_error=lambda error, _: failures.append(error))
    client.group(
        user_id="u-1",
        group_id="acc-seg",
        traits={"name": "Segmented Ltd", "industry": "retail", "plan": "growth", "csm_email": "cs@example.com"},
    )
    client.identify(
        "u-1", {"email": "jo@seg.example", "name": "Jo", "role": "champion"}, context={"groupId": "acc-seg"}
    )
    client.track("u-1", "report_exported", {"format": "pdf"}, message_id="seg-1", timestamp=NOW)
    client.track("u-1", "report_exported", {"format": "pdf"}, message_id="seg-1", timestamp=NOW)  # a retry
    client.page("u-1", "docs", "Getting started", {"path": "/docs"}, message_id="seg-2", timestamp=NOW)
    client.flush()
    assert failures == []
    with database.sessions() as session:
        account = session.get(Account, "acc-seg")
        contact = session.get(Contact, "u-1")
        properties = dict(session.execute(select(UsageEvent.message_id, UsageEvent.properties)).all())
    assert account is not None
    assert (account.name, account.industry, account.plan, account.csm_email, account.source) == (
        "Segmented Ltd",
        "retail",
        "growth",
        "cs@example.com",
        "segment",
    )
    assert contact is not None
    assert (contact.account_id, contact.email, contact.name, contact.role) == (
        "acc-seg",
        "jo@seg.example",
        "Jo",
        "champion",
    )
    assert events(database) == [
        ("seg-1", "acc-seg", "u-1", "report_exported"),
        ("seg-2", "acc-seg", "u-1", "page_viewed"),
    ]
    assert properties["seg-2"] == {"path": "/docs", "name": "Getting started", "category": "docs"}


def test_a_bad_message_does_not_fail_the_good_ones(client: TestClient, ingest_key: str, database: Database) -> None:
    batch = {
        "batch": [
            {"type": "group", "groupId": "acc-9", "userId": "u-9", "traits": {"name": "Nine", "tags": ["eu", "smb"]}},
            {"type": "identify", "userId": "u-9", "traits": {"email": "nine@example.com", "account_id": "acc-9"}},
            {"type": "identify", "userId": "u-lost", "context": {"groupId": "acc-unknown"}},
            {"type": "identify", "userId": "u-nowhere", "traits": {"email": "x@example.com"}},
            {"type": "track", "userId": "u-9", "event": "login", "messageId": "b-1", "timestamp": NOW.isoformat()},
            {"type": "track", "userId": "u-stranger", "event": "login", "messageId": "b-2"},
            {"type": "track", "userId": "u-9", "event": "", "messageId": "b-3"},
            {"type": "group", "traits": {"name": "no id"}},
            {"type": "teleport", "userId": "u-9"},
            {"type": "alias", "userId": "u-9", "previousId": "anon"},
            {"type": "track", "userId": "u-\x00", "event": "login", "messageId": "b-4"},  # PostgreSQL can't hold it
        ],
        "context": {"library": {"name": "raw"}},
        "sentAt": NOW.isoformat(),
    }
    response = client.post("/v1/batch", json=batch, headers=basic(ingest_key))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert {(error["index"], error["field"]) for error in body["errors"]} == {
        (2, "account_id"),
        (3, "account_id"),
        (5, "account_id"),
        (6, "event"),
        (7, "groupId"),
        (8, "type"),
        (10, "userId"),
    }
    assert "acc-unknown" in next(error["reason"] for error in body["errors"] if error["index"] == 2)
    assert (body["accepted"], body["rejected"]) == (4, 7)  # group, identify, track, alias
    with database.sessions() as session:
        assert session.get(Account, "acc-9").tags == ["eu", "smb"]
        assert session.get(Contact, "u-9").account_id == "acc-9"
        assert session.get(Contact, "u-lost") is None
        assert session.get(Account, "acc-unknown") is None
    assert events(database) == [("b-1", "acc-9", "u-9", "login")]


def test_events_find_the_account_of_a_known_user_and_share_dedup_with_the_native_api(
    client: TestClient, ingest_key: str, database: Database
) -> None:
    client.post(
        "/v1/group", json={"groupId": "acc-2", "userId": "u-2", "traits": {"name": "Two"}}, headers=basic(ingest_key)
    )
    client.post("/v1/identify", json={"userId": "u-2", "context": {"groupId": "acc-2"}}, headers=basic(ingest_key))
    track = {"userId": "u-2", "event": "search", "messageId": "shared-1", "timestamp": NOW.isoformat()}
    assert client.post("/v1/track", json=track, headers=basic(ingest_key)).json()["accepted"] == 1
    native = [{"account_id": "acc-2", "event": "search", "timestamp": NOW.isoformat(), "message_id": "shared-1"}]
    answer = client.post("/api/v1/events", json=native, headers={"Authorization": f"Bearer {ingest_key}"}).json()
    assert (answer["accepted"], answer["duplicates"]) == (0, 1)
    second_group = {"groupId": "acc-2", "traits": {"industry": "media"}}
    client.post("/v1/group", json=second_group, headers=basic(ingest_key))
    with database.sessions() as session:
        account = session.get(Account, "acc-2")
    assert (account.name, account.industry) == ("Two", "media")  # a trait left out is kept
    assert events(database) == [("shared-1", "acc-2", "u-2", "search")]


def test_segment_routes_need_an_ingest_write_key(client: TestClient, make_key: KeyMaker, database: Database) -> None:
    track = {"userId": "u-1", "event": "login", "context": {"groupId": "acc-1"}}
    anonymous = client.post("/v1/track", json=track)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert client.post("/v1/track", json=track, headers=basic("csh_nope_nope")).status_code == 401
    assert client.post("/v1/track", json=track, headers=basic(make_key("read"))).status_code == 403
    malformed = client.post("/v1/batch", content=b"{nope", headers=basic(make_key("ingest")))
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "BadRequest"
    assert events(database) == []
