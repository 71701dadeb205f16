"""The schema comes from Alembic migrations, and the migrations match the ORM tables exactly."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from alembic import command
from cs_health.db.engine import Database
from cs_health.db.migrate import alembic_config, current_revision, head_revision
from cs_health.db.tables import Base, UsageEvent
from tests.conftest import CliInvoker


def test_migrations_match_the_orm_tables(database: Database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_init_creates_then_reports_up_to_date(cli: CliInvoker, database: Database):
    result = cli("init")
    assert result.exit_code == 0
    assert "already up to date" in result.stdout
    assert current_revision(database.engine) == head_revision(database.engine)


def test_init_creates_a_fresh_sqlite_file_with_wal_and_foreign_keys(cli: CliInvoker, tmp_path, monkeypatch):
    from cs_health.config import get_settings
    from cs_health.db.engine import database_for

    path = tmp_path / "nested" / "fresh.db"
    monkeypatch.setenv("CS_HEALTH_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    result = cli("init")
    assert result.exit_code == 0
    assert "created" in result.stdout
    database = database_for(f"sqlite:///{path}")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert {"account", "usage_event", "daily_usage", "health_score", "outbox"} <= set(
        inspect(database.engine).get_table_names()
    )
    database.engine.dispose()


def test_events_stored_before_their_table_was_keyed_by_time_survive_the_upgrade(database: Database):
    """Revision 7c3f1a9e5d24 rebuilds usage_event (SQLite) or swaps its keys in place (PostgreSQL); the events
    already stored are kept, under the key that deduplicates them from then on."""
    config = alembic_config(database.engine)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "f0520cd02ed7")
        connection.execute(
            text(
                """INSERT INTO usage_event (event_key, message_id, account_id, event, timestamp, quantity, received_at)
                   VALUES (42, 'm-1', 'acc-1', 'login', '2026-11-01 10:00:00', 2, '2026-11-01 10:00:05')"""
            )
        )
        command.upgrade(config, "head")
    with database.sessions() as session:
        kept = session.execute(select(UsageEvent.timestamp, UsageEvent.event_key, UsageEvent.quantity)).all()
    assert kept == [(dt.datetime(2026, 11, 1, 10), 42, 2.0)]
    assert current_revision(database.engine) == head_revision(database.engine)
