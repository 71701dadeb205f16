"""The trainings API on the real app: catalogue CRUD (admin to change), account suggestions, effects, scopes."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from cs_health.db.engine import Database
from cs_health.db.tables import TrainingSuggestion
from cs_health.trainings import service
from tests.trainings.conftest import TODAY, KeyMaker, bearer

ENTRY = {
    "training_id": "tr-x",
    "title": "Scheduling",
    "features": ["meeting_scheduled"],
    "url": "https://academy.example/x",
    "level": "intro",
    "format": "video",
}


def test_catalogue_crud_needs_admin_to_change(client: TestClient, make_key: KeyMaker):
    read, admin = bearer(make_key("read")), bearer(make_key("admin"))
    assert client.post("/api/v1/trainings", json=ENTRY).status_code == 401
    assert client.post("/api/v1/trainings", json=ENTRY, headers=read).status_code == 403
    created = client.post("/api/v1/trainings", json=ENTRY, headers=admin)
    assert created.status_code == 201
    assert created.json() == ENTRY
    assert client.post("/api/v1/trainings", json=ENTRY, headers=admin).json()["error"]["type"] == "Conflict"
    assert client.post("/api/v1/trainings", json={**ENTRY, "level": "expert"}, headers=admin).status_code == 422

    assert client.get("/api/v1/trainings", headers=read).json() == [ENTRY]
    assert client.get("/api/v1/trainings/tr-x", headers=read).json() == ENTRY
    changed = {**ENTRY, "title": "Meetings"}
    del changed["training_id"]
    assert client.put("/api/v1/trainings/tr-x", json=changed, headers=read).status_code == 403
    assert client.put("/api/v1/trainings/tr-x", json=changed, headers=admin).json()["title"] == "Meetings"
    assert client.put("/api/v1/trainings/nope", json=changed, headers=admin).status_code == 404

    assert client.delete("/api/v1/trainings/tr-x", headers=read).status_code == 403
    assert client.delete("/api/v1/trainings/tr-x", headers=admin).status_code == 204
    missing = client.get("/api/v1/trainings/tr-x", headers=read)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"


def test_account_trainings_and_effects(client: TestClient, make_key: KeyMaker, demo: Database):
    with demo.transaction() as session:
        summary = service.run_trainings(session, TODAY, dt.datetime.now(dt.UTC))
    with demo.sessions() as session:
        account = session.scalars(select(TrainingSuggestion.account_id).order_by(TrainingSuggestion.account_id)).first()
    read = bearer(make_key("read"))
    assert summary.suggestions > 0
    assert client.get(f"/api/v1/accounts/{account}/trainings", headers=bearer(make_key("ingest"))).status_code == 403
    response = client.get(f"/api/v1/accounts/{account}/trainings", headers=read)
    assert response.status_code == 200
    body = response.json()
    assert body["account_id"] == account
    assert body["as_of"] == TODAY.isoformat()
    first = body["suggestions"][0]
    assert first["reason"]
    assert first["status"] == "suggested"
    assert {"training_id", "title", "features", "url", "level", "format"} <= set(first["training"])
    assert client.get("/api/v1/accounts/nobody/trainings", headers=read).status_code == 404

    effects = client.get("/api/v1/trainings/effects", headers=read)
    assert effects.status_code == 200
    assert effects.json()["as_of"] == TODAY.isoformat()
    assert all(item["summary"].startswith("not enough data") for item in effects.json()["effects"])
    dated = client.get("/api/v1/trainings/effects", params={"as_of": "2020-01-01"}, headers=read).json()
    assert dated["as_of"] == "2020-01-01"


def test_the_openapi_document_declares_the_routes_and_their_errors(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/trainings/{training_id}"]) == {"get", "put", "delete"}
    assert {"401", "403", "404", "409"} <= set(paths["/api/v1/trainings/{training_id}"]["delete"]["responses"])
    assert "404" in paths["/api/v1/accounts/{account_id}/trainings"]["get"]["responses"]
    assert "get" in paths["/api/v1/trainings/effects"]
