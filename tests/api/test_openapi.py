"""The OpenAPI document promises what the service does with a body that is not JSON at all."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import KeyMaker, bearer


def test_every_operation_with_a_body_documents_400(client: TestClient):
    """Found by schemathesis: FastAPI answers an unparseable body with 400, which these routes did not declare."""
    document = client.get("/openapi.json").json()
    with_body = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) > 5
    assert [
        operation
        for operation in with_body
        if "400" not in document["paths"][operation[1]][operation[0].lower()]["responses"]
    ] == []


def test_a_body_that_is_not_json_is_a_400_in_the_one_error_shape(client: TestClient, make_key: KeyMaker):
    headers = {**bearer(make_key("admin")), "Content-Type": "application/json"}
    answer = client.post("/api/v1/trainings", content=b"\xff\x1d{not json", headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "BadRequest"


def test_ids_and_bodies_with_a_nul_character_are_422(client: TestClient, make_key: KeyMaker):
    """PostgreSQL cannot compare or store text holding U+0000 (a 500 there); refused before the database on both."""
    admin = bearer(make_key("admin"))
    assert client.get("/api/v1/accounts/acc%00", headers=admin).status_code == 422
    assert client.get("/api/v1/trainings/t%00", headers=admin).status_code == 422
    entry = {"training_id": "tr-1", "title": "Re\x00ports", "features": ["report_exported"]}
    answer = client.post("/api/v1/trainings", json=entry, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["problems"][0]["field"] == "title"
