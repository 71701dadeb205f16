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
