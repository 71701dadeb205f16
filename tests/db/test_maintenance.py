"""`cs-health backup` and `cs-health prune`: a consistent copy of the database, and old raw events dropped while
the rollups every score reads stay as they were."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, UsageEvent
from tests.conftest import CliInvoker
from tests.factories import EVENTS, SAMPLES, write_records


def test_prune_drops_old_raw_events_and_keeps_the_rollups(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "events", str(write_records(tmp_path / "old.csv", EVENTS)))  # all from January 2026
    with database.sessions() as session:
        rollups = session.execute(select(DailyUsage.account_id, DailyUsage.day, DailyUsage.events)).all()
    dry = cli("prune", "--older-than", "30", "--dry-run")
    assert f"would delete {len(EVENTS)} raw events" in dry.stdout
    assert cli("prune", "--older-than", "30").exit_code == 0
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 0
        assert session.execute(select(DailyUsage.account_id, DailyUsage.day, DailyUsage.events)).all() == rollups


def test_backup_writes_a_readable_copy(cli: CliInvoker, database: Database, dialect: str, tmp_path: Path):
    cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])))
    target = tmp_path / "backups" / "copy.db"
    result = cli("backup", str(target))
    if dialect != "sqlite":
        assert result.exit_code == 2
        assert "pg_dump" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT COUNT(*) FROM account").fetchone()[0] == len(SAMPLES["accounts"])


@pytest.mark.usefixtures("database")
def test_backup_refuses_to_overwrite_the_database_itself(cli: CliInvoker, database_url: str, dialect: str):
    if dialect != "sqlite":
        pytest.skip("only an SQLite file can be named as its own backup")
    result = cli("backup", database_url.removeprefix("sqlite:///"))
    assert result.exit_code == 2
    assert "the database itself" in result.stderr


def test_accounts_are_untouched_by_prune(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])))
    cli("prune", "--older-than", "1")
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == len(SAMPLES["accounts"])
