"""The key service: hashing, parsing, scopes, expiry and the once-a-minute last_used_at."""

from __future__ import annotations

import datetime as dt

import pytest

from cs_health.audit.schemas import Actor
from cs_health.auth import service
from cs_health.auth.schemas import Scope
from cs_health.db.engine import Database
from cs_health.db.tables import ApiKey
from cs_health.exceptions import BadRequest, Forbidden, Unauthorized

NOW = dt.datetime(2026, 3, 1, 12, 0)


def test_hashes_are_salted_and_verify_only_the_right_secret() -> None:
    first, second = service.hash_secret("s3cret"), service.hash_secret("s3cret")
    assert first != second
    assert "s3cret" not in first
    assert service.secret_matches("s3cret", first)
    assert service.secret_matches("s3cret", second)
    assert not service.secret_matches("s3cret!", first)
    assert not service.secret_matches("s3cret", "md5$00$00")


def test_parse_scopes() -> None:
    assert service.parse_scopes(" read, ingest ,read") == [Scope.INGEST, Scope.READ]
    with pytest.raises(BadRequest, match="write"):
        service.parse_scopes("read,write")
    with pytest.raises(BadRequest):
        service.parse_scopes(" , ")


@pytest.mark.parametrize("text", ["", "csh_", "csh__x", "abc_def_ghi", "csh_prefixonly"])
def test_malformed_keys_do_not_split(text: str) -> None:
    assert service.split_key(text) is None


def test_authenticate_checks_scope_expiry_and_notes_use_once_a_minute(database: Database) -> None:
    with database.transaction() as session:
        reader = service.create(session, [Scope.READ], now=NOW, actor=Actor.cli(), expires_days=2)
        admin = service.create(session, [Scope.ADMIN], now=NOW, actor=Actor.cli())
    with database.transaction() as session:
        key = service.authenticate(session, reader.key, Scope.READ, now=NOW + dt.timedelta(hours=1))
        assert key.prefix == reader.info.prefix
        with pytest.raises(Forbidden):
            service.authenticate(session, reader.key, Scope.INGEST, now=NOW)
        assert service.authenticate(session, admin.key, Scope.INGEST, now=NOW).prefix == admin.info.prefix
        with pytest.raises(Unauthorized, match="expired"):
            service.authenticate(session, reader.key, Scope.READ, now=NOW + dt.timedelta(days=2))
        with pytest.raises(Unauthorized, match="required"):
            service.authenticate(session, None, Scope.READ, now=NOW)

    def last_used() -> dt.datetime | None:
        with database.sessions() as session:
            return session.get(ApiKey, key.id).last_used_at

    assert last_used() == NOW + dt.timedelta(hours=1)
    with database.transaction() as session:
        service.authenticate(session, reader.key, Scope.READ, now=NOW + dt.timedelta(hours=1, seconds=30))
    assert last_used() == NOW + dt.timedelta(hours=1)  # within the minute: no write
    with database.transaction() as session:
        service.authenticate(session, reader.key, Scope.READ, now=NOW + dt.timedelta(hours=1, minutes=2))
    assert last_used() == NOW + dt.timedelta(hours=1, minutes=2)
