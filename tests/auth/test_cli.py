"""`cs-health apikey create|list|revoke`: the key is shown once, alone on the last line, and stored hashed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from cs_health.app import create_app
from cs_health.db.engine import Database
from cs_health.db.tables import ApiKey
from tests.conftest import CliInvoker


def create(cli: CliInvoker, *args: str) -> str:
    result = cli("apikey", "create", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_create_prints_the_key_alone_on_the_last_line_and_stores_only_a_hash(
    cli: CliInvoker, database: Database
) -> None:
    key = create(cli, "--scopes", "ingest,read", "--name", "pipeline")
    assert key.startswith("csh_")
    assert key == key.strip()
    assert " " not in key
    _, prefix, secret = key.split("_", 2)
    with database.sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
    assert (stored.prefix, stored.name, stored.scopes) == (prefix, "pipeline", ["ingest", "read"])
    assert secret not in stored.key_hash
    assert stored.expires_at is None
    with TestClient(create_app()) as client:
        response = client.get("/api/v1/accounts/none", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 404  # authenticated (read scope), the account just does not exist


def test_list_shows_keys_without_secrets(cli: CliInvoker) -> None:
    first = create(cli, "--scopes", "admin", "--name", "ops")
    second = create(cli, "--scopes", "ingest", "--expires-days", "30")
    listing = cli("apikey", "list")
    assert listing.exit_code == 0
    for key in (first, second):
        prefix, secret = key.split("_", 2)[1:]
        assert prefix in listing.stdout
        assert secret not in listing.stdout
    assert "ops" in listing.stdout
    assert listing.stdout.count("active") == 2


def test_revoke_stops_the_key_at_once(cli: CliInvoker, database: Database) -> None:
    key = create(cli, "--scopes", "read")
    prefix = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/accounts/x", headers=headers).status_code == 404
        result = cli("apikey", "revoke", prefix)
        assert result.exit_code == 0
        assert prefix in result.stdout
        response = client.get("/api/v1/accounts/x", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert "revoked" in cli("apikey", "list").stdout


def test_bad_scopes_and_unknown_prefixes_are_plain_errors(cli: CliInvoker, database: Database) -> None:
    bad = cli("apikey", "create", "--scopes", "ingest,write")
    assert bad.exit_code == 1
    assert "unknown scope(s) write" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli("apikey", "revoke", "deadbeef0000")
    assert missing.exit_code == 1
    assert "no API key with prefix" in missing.stderr
    with database.sessions() as session:
        assert session.scalars(select(ApiKey)).all() == []
