"""Schemathesis fuzzes every operation of `/openapi.json` over real HTTP with an admin key, against a small demo
portfolio: no answer may be a server error, and every answer must match what the document declares (status code,
content type, body schema). Each operation gets a bounded number of examples so CI spends a minute or two here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from cs_health.app import create_app
from cs_health.audit.schemas import Actor
from cs_health.auth import service as keys
from cs_health.auth.schemas import Scope
from cs_health.config import get_settings
from cs_health.db.engine import database_for
from cs_health.db.tables import Account, Alert, Training
from tests.conftest import NOW, CliInvoker, basic, bearer, database_in, serving

EXAMPLES_PER_OPERATION = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Target:
    base_url: str
    key: str
    known: dict[str, list[object]]  # path parameter -> ids that exist in the seeded database


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, postgres_url: str | None
) -> Iterator[Target]:
    """One seeded database and server for every operation: seeding per operation would cost more than fuzzing.
    The operations fuzzed first may change the data the later ones see, which is part of what is being tested."""
    folder = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as monkeypatch, database_in(folder, sqlite_template, postgres_url, monkeypatch):
        result = CliInvoker()("demo", "--accounts", "12", "--months", "12", "--no-serve")
        assert result.exit_code == 0, result.output
        with database_for(get_settings().DATABASE_URL).transaction() as session:
            key = keys.create(session, [Scope.ADMIN], now=NOW, actor=Actor.cli()).key
            known = {
                "account_id": list(session.scalars(select(Account.account_id).limit(5))),
                "training_id": list(session.scalars(select(Training.training_id).limit(5))),
                "alert_id": list(session.scalars(select(Alert.id).limit(5))),
            }
        assert all(known.values()), known
        with serving(create_app()) as base_url:
            yield Target(base_url, key, known)


# Loaded from the app object rather than a served URL, so pytest collects one test per operation (the lazy
# `from_fixture` loader breaks on pytest 9). The requests themselves go over real HTTP to `target`.
schema = schemathesis.openapi.from_dict(create_app().openapi())


def credentials(path: str, key: str) -> dict[str, str]:
    """The Segment routes take the key as the basic-auth user, as Segment libraries send it; the rest a bearer."""
    return basic(key) if path.startswith("/v1/") else bearer(key)


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, data: st.DataObject, target: Target) -> None:
    # Random ids almost never exist, so most requests would stop at 404: point some at the seeded rows instead.
    for name, values in target.known.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = data.draw(st.sampled_from([case.path_parameters[name], *values]), label=name)
    case.call_and_validate(base_url=target.base_url, headers=credentials(case.path, target.key), checks=CHECKS)
