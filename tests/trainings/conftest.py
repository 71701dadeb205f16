"""Trainings fixtures: a demo portfolio in the test database; API keys and the client are the shared API ones."""

from __future__ import annotations

import datetime as dt

import pytest

from cs_health.db.engine import Database
from tests.api.conftest import KeyMaker, bearer, client, make_key  # noqa: F401  (shared API fixtures)
from tests.conftest import CliInvoker

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def demo(cli: CliInvoker, database: Database) -> Database:
    """20 generated accounts over 12 months (catalogue included), imported and run through the pipeline."""
    result = cli("demo", "--accounts", "20", "--months", "12", "--seed", "5", "--no-serve")
    assert result.exit_code == 0, result.stderr
    return database
