"""`cs-health demo --no-serve`: a small portfolio goes through the real import path into the database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, HealthScore, PipelineRun, UsageEvent
from tests.conftest import CliInvoker


def counts(database: Database) -> tuple[int, int, int]:
    with database.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) for table in (Account, UsageEvent, DailyUsage)
        )


def test_demo_loads_a_portfolio_and_rerunning_rebuilds_it(cli: CliInvoker, database: Database):
    result = cli("demo", "--accounts", "12", "--months", "6", "--seed", "3", "--no-serve")
    assert result.exit_code == 0, result.stderr
    accounts, events, rollups = counts(database)
    assert accounts == 12
    assert events > 1_000
    assert 0 < rollups <= events
    status = json.loads(cli("status").stdout)
    assert status["last_run"]["kind"] == "run"
    assert status["last_run"]["status"] == "succeeded"

    again = cli("demo", "--accounts", "12", "--months", "6", "--seed", "3", "--no-serve")
    assert again.exit_code == 0, again.stderr
    assert counts(database) == (accounts, events, rollups)
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PipelineRun).where(PipelineRun.kind == "demo")) == 1
        assert session.scalar(select(func.count()).select_from(HealthScore)) > 0


@pytest.mark.usefixtures("database")
def test_demo_refuses_a_database_with_real_data(cli: CliInvoker, tmp_path):
    (tmp_path / "a.csv").write_text("account_id,name\nreal-1,Real Customer\n", encoding="utf-8")
    assert cli("import", "accounts", str(tmp_path / "a.csv")).exit_code == 0
    result = cli("demo", "--accounts", "5", "--months", "6", "--no-serve")
    assert result.exit_code == 1
    assert "not demo data" in result.stderr
