"""Trainings fixtures: a demo portfolio in the test database; API keys and the client are the shared API ones."""

from __future__ import annotations

import datetime as dt

import pytest

from cs_health.db.engine import Database
from tests.conftest import CliInvoker, KeyMaker, bearer  # noqa: F401  (re-exported for the trainings tests)

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def demo(cli: CliInvoker, database: Database) -> Database:
    """20 generated accounts over 12 months (catalogue included), imported and run through the pipeline."""
    result = cli("demo", "--accounts", "20", "--months", "12", "--seed", "5", "--no-serve")
    assert result.exit_code == 0, result.stderr
    return database
