"""Every SQL statement of ingestion. Events take a bulk path: staged into a temporary table (executemany on
SQLite, COPY on PostgreSQL), then deduplicated, stored and rolled up by set-based SQL in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import DateTime, Table, TextClause, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cs_health.db.tables import Account, ImportRun

STAGED_COLUMNS = (
    "event_key",
    "message_id",
    "account_id",
    "user_id",
    "event",
    "timestamp",
    "day",
    "quantity",
    "properties",
)
_KEY_CHUNK = 10_000

_CREATE_STAGE = {
    "sqlite": """CREATE TEMP TABLE IF NOT EXISTS incoming_event (
        event_key INTEGER PRIMARY KEY, message_id TEXT, account_id TEXT NOT NULL, user_id TEXT,
        event TEXT NOT NULL, timestamp TEXT NOT NULL, day TEXT NOT NULL, quantity REAL NOT NULL, properties TEXT)""",
    "postgresql": """CREATE TEMP TABLE IF NOT EXISTS incoming_event (
        event_key BIGINT PRIMARY KEY, message_id TEXT, account_id TEXT NOT NULL, user_id TEXT,
        event TEXT NOT NULL, timestamp TIMESTAMP NOT NULL, day DATE NOT NULL, quantity DOUBLE PRECISION NOT NULL,
        properties JSONB) ON COMMIT DROP""",
}

_CREATE_MISSING_ACCOUNTS = {
    "sqlite": """INSERT OR IGNORE INTO account (account_id, tags, source)
        SELECT DISTINCT account_id, '[]', 'event' FROM incoming_event""",
    "postgresql": """INSERT INTO account (account_id, tags, source)
        SELECT DISTINCT account_id, CAST('[]' AS JSONB), 'event' FROM incoming_event
        ON CONFLICT (account_id) DO NOTHING""",
}

_EVENT_COLUMNS = "event_key, message_id, account_id, user_id, event, timestamp, quantity, properties"

# Keeps in the stage only the events this transaction really stores, so the rollups count each event once.
_STORE_NEW_EVENTS = {
    "sqlite": [
        """DELETE FROM incoming_event
           WHERE EXISTS (SELECT 1 FROM usage_event u WHERE u.event_key = incoming_event.event_key)""",
        f"""INSERT INTO usage_event ({_EVENT_COLUMNS}, received_at)
            SELECT {_EVENT_COLUMNS}, :received_at FROM incoming_event""",
    ],
    "postgresql": [
        f"""WITH stored AS (
              INSERT INTO usage_event ({_EVENT_COLUMNS}, received_at)
              SELECT {_EVENT_COLUMNS}, :received_at FROM incoming_event
              ON CONFLICT (event_key) DO NOTHING RETURNING event_key)
            DELETE FROM incoming_event i WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.event_key = i.event_key)"""
    ],
}

_ROLL_UP_USERS = """
    INSERT INTO user_daily_usage (account_id, day, event, user_id, events, quantity)
    SELECT account_id, day, event, COALESCE(user_id, ''), COUNT(*), SUM(quantity)
    FROM incoming_event WHERE true
    GROUP BY account_id, day, event, COALESCE(user_id, '')
    ON CONFLICT (account_id, day, event, user_id) DO UPDATE
    SET events = user_daily_usage.events + excluded.events, quantity = user_daily_usage.quantity + excluded.quantity
"""

# Distinct users cannot be added up, so each touched (account, day) is recomputed from the per-user rollup.
_ROLL_UP_ACCOUNTS = """
    INSERT INTO daily_usage (account_id, day, event, events, quantity, users)
    SELECT u.account_id, u.day, u.event, SUM(u.events), SUM(u.quantity),
           SUM(CASE WHEN u.user_id <> '' THEN 1 ELSE 0 END)
    FROM (SELECT DISTINCT account_id, day FROM incoming_event) touched
    JOIN user_daily_usage u ON u.account_id = touched.account_id AND u.day = touched.day
    WHERE true
    GROUP BY u.account_id, u.day, u.event
    ON CONFLICT (account_id, day, event) DO UPDATE
    SET events = excluded.events, quantity = excluded.quantity, users = excluded.users
"""

_UPDATE_FRESHNESS = """
    UPDATE account SET
        last_event_at = CASE WHEN account.last_event_at IS NULL OR account.last_event_at < latest.at
                             THEN latest.at ELSE account.last_event_at END,
        last_received_at = :received_at
    FROM (SELECT account_id, MAX(timestamp) AS at FROM incoming_event GROUP BY account_id) latest
    WHERE account.account_id = latest.account_id
"""


def _with_received_at(statement: str) -> TextClause:
    """Binds the receive time through SQLAlchemy's DateTime type, so each dialect stores it its own way."""
    clause = text(statement)
    return clause.bindparams(bindparam("received_at", type_=DateTime())) if ":received_at" in statement else clause


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def stage_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Loads validated, keyed event rows (STAGED_COLUMNS order) into this transaction's stage."""
    dialect = _dialect(session)
    session.execute(text(_CREATE_STAGE[dialect]))
    session.execute(text("DELETE FROM incoming_event"))
    raw = session.connection().connection.driver_connection
    placeholders = ", ".join("?" * len(STAGED_COLUMNS))
    columns = ", ".join(STAGED_COLUMNS)
    if dialect == "sqlite":
        raw.executemany(f"INSERT OR IGNORE INTO incoming_event ({columns}) VALUES ({placeholders})", rows)
        return
    with raw.cursor() as cursor, cursor.copy(f"COPY incoming_event ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def merge_staged_events(session: Session, received_at: dt.datetime) -> int:
    """Stores the staged events that are new, rolls them up, and returns how many were new."""
    dialect = _dialect(session)
    session.execute(text(_CREATE_MISSING_ACCOUNTS[dialect]))
    for statement in _STORE_NEW_EVENTS[dialect]:
        clause = _with_received_at(statement)
        session.execute(clause, {"received_at": received_at} if ":received_at" in statement else {})
    stored = session.execute(text("SELECT COUNT(*) FROM incoming_event")).scalar_one()
    if stored:
        session.execute(text(_ROLL_UP_USERS))
        session.execute(text(_ROLL_UP_ACCOUNTS))
        session.execute(_with_received_at(_UPDATE_FRESHNESS), {"received_at": received_at})
    return int(stored)


def known_account_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Account.account_id)))


def existing_keys(session: Session, table: Table, key: str, values: Iterable[Any]) -> set[Any]:
    """Which of `values` are already stored, looked up in chunks rather than one query per record."""
    column = table.c[key]
    wanted = list(values)
    found: set[Any] = set()
    for start in range(0, len(wanted), _KEY_CHUNK):
        found.update(session.scalars(select(column).where(column.in_(wanted[start : start + _KEY_CHUNK]))))
    return found


def upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], key: Sequence[str], update: Sequence[str]
) -> None:
    """Inserts rows or, where the key exists, replaces only the `update` columns (those the input carried)."""
    if not rows:
        return
    insert = sqlite_insert if _dialect(session) == "sqlite" else postgresql_insert
    statement = insert(table)
    updates = {name: statement.excluded[name] for name in update if name not in key}
    statement = (
        statement.on_conflict_do_update(index_elements=list(key), set_=updates)
        if updates
        else statement.on_conflict_do_nothing(index_elements=list(key))
    )
    session.execute(statement, rows)


def record_import(session: Session, run: ImportRun) -> None:
    session.add(run)
    session.flush()
