"""Every SQL statement of ingestion. Events take a bulk path: executemany straight into the event table on
SQLite, COPY into a stage on PostgreSQL; duplicates fall on the unique event key, and the new rows are rolled up
by set-based SQL in the same transaction."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Sequence
from contextlib import closing
from typing import Any

from sqlalchemy import DateTime, Table, TextClause, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cs_health.db.tables import Account, ImportRun

EVENT_COLUMNS = ("event_key", "message_id", "account_id", "user_id", "event", "timestamp", "quantity", "properties")
_KEY_CHUNK = 10_000
_ROLLUP_LOCK = 7_301_001  # PostgreSQL advisory lock: rollup merges run one at a time, so they stay exact

_CREATE_ACCOUNTS = {
    "sqlite": "INSERT OR IGNORE INTO account (account_id, tags, source) VALUES (?, '[]', 'event')",
    "postgresql": """INSERT INTO account (account_id, tags, source) VALUES (%s, '[]'::jsonb, 'event')
        ON CONFLICT (account_id) DO NOTHING""",
}

_PG_STAGE = """CREATE TEMP TABLE IF NOT EXISTS incoming_event (
    event_key BIGINT, message_id TEXT, account_id TEXT, user_id TEXT, event TEXT, timestamp TIMESTAMP,
    quantity DOUBLE PRECISION, properties JSONB) ON COMMIT DROP"""
_PG_NEW_EVENTS = """CREATE TEMP TABLE IF NOT EXISTS new_event (
    account_id TEXT, user_id TEXT, event TEXT, timestamp TIMESTAMP, quantity DOUBLE PRECISION) ON COMMIT DROP"""
_PG_STORE = f"""
    WITH stored AS (
        INSERT INTO usage_event ({", ".join(EVENT_COLUMNS)}, received_at)
        SELECT {", ".join(EVENT_COLUMNS)}, :received_at FROM incoming_event
        ON CONFLICT (event_key) DO NOTHING
        RETURNING account_id, user_id, event, timestamp, quantity)
    INSERT INTO new_event SELECT * FROM stored"""

_DAY = {"sqlite": "substr(timestamp, 1, 10)", "postgresql": "CAST(timestamp AS DATE)"}

_BATCH_ROLLUP = """
    CREATE TEMP TABLE incoming_rollup AS
    SELECT account_id, {day} AS day, event, COALESCE(user_id, '') AS user_id,
           COUNT(*) AS events, SUM(quantity) AS quantity, MAX(timestamp) AS latest
    FROM {source} AS new_rows
    GROUP BY account_id, {day}, event, COALESCE(user_id, '')
"""

# Runs before the per-user upsert: a user is new for (account, day, event) when the per-user table lacks it.
_ROLL_UP_ACCOUNTS = """
    INSERT INTO daily_usage (account_id, day, event, events, quantity, users)
    SELECT r.account_id, r.day, r.event, SUM(r.events), SUM(r.quantity),
           SUM(CASE WHEN r.user_id <> '' AND NOT EXISTS (
                   SELECT 1 FROM user_daily_usage u
                   WHERE u.account_id = r.account_id AND u.day = r.day AND u.event = r.event AND u.user_id = r.user_id)
               THEN 1 ELSE 0 END)
    FROM incoming_rollup r WHERE true
    GROUP BY r.account_id, r.day, r.event
    ON CONFLICT (account_id, day, event) DO UPDATE
    SET events = daily_usage.events + excluded.events, quantity = daily_usage.quantity + excluded.quantity,
        users = daily_usage.users + excluded.users
"""

_ROLL_UP_USERS = """
    INSERT INTO user_daily_usage (account_id, day, event, user_id, events, quantity)
    SELECT account_id, day, event, user_id, events, quantity FROM incoming_rollup WHERE true
    ON CONFLICT (account_id, day, event, user_id) DO UPDATE
    SET events = user_daily_usage.events + excluded.events, quantity = user_daily_usage.quantity + excluded.quantity
"""

_UPDATE_FRESHNESS = """
    UPDATE account SET
        last_event_at = CASE WHEN account.last_event_at IS NULL OR account.last_event_at < latest.at
                             THEN latest.at ELSE account.last_event_at END,
        last_received_at = :received_at
    FROM (SELECT account_id, MAX(latest) AS at FROM incoming_rollup GROUP BY account_id) latest
    WHERE account.account_id = latest.account_id
"""


def _with_received_at(statement: str) -> TextClause:
    """Binds the receive time through SQLAlchemy's DateTime type, so each dialect stores it its own way."""
    return text(statement).bindparams(bindparam("received_at", type_=DateTime()))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def store_events(
    session: Session,
    columns: dict[str, list[Any]],
    account_ids: Sequence[str],
    received_at: dt.datetime,
) -> int:
    """Stores keyed event columns (EVENT_COLUMNS; timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text), skipping
    events already stored, and rolls the new ones up. Returns how many were new. One transaction, the caller's."""
    dialect = _dialect(session)
    driver = session.connection().connection.driver_connection
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _ROLLUP_LOCK})
    with closing(driver.cursor()) as cursor:
        cursor.executemany(_CREATE_ACCOUNTS[dialect], [(account_id,) for account_id in account_ids])
    names = [name for name in EVENT_COLUMNS if name != "properties" or any(columns["properties"])]
    rows = list(zip(*(columns[name] for name in names), strict=True))
    if dialect == "sqlite":
        stored, source = _insert_sqlite(session, driver, names, rows, received_at)
    else:
        stored, source = _insert_postgresql(session, driver, names, rows, received_at)
    if stored:
        session.execute(text("DROP TABLE IF EXISTS incoming_rollup"))
        session.execute(text(_BATCH_ROLLUP.format(day=_DAY[dialect], source=source)))
        session.execute(text(_ROLL_UP_ACCOUNTS))
        session.execute(text(_ROLL_UP_USERS))
        session.execute(_with_received_at(_UPDATE_FRESHNESS), {"received_at": received_at})
        session.execute(text("DROP TABLE incoming_rollup"))
    return stored


def _insert_sqlite(
    session: Session, driver: Any, names: list[str], rows: list[tuple[Any, ...]], received_at: dt.datetime
) -> tuple[int, str]:
    """executemany straight into the event table; the unique key drops duplicates and the new rows are the
    ids above the previous maximum (SQLite has one writer, so nothing interleaves)."""
    before = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM usage_event")).scalar_one()
    received = received_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    placeholders = ", ".join("?" * len(names))
    statement = (
        f"INSERT OR IGNORE INTO usage_event ({', '.join(names)}, received_at) VALUES ({placeholders}, '{received}')"
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # executemany over many fresh tuples otherwise triggers collections that find no cycles
    try:
        with closing(driver.cursor()) as cursor:
            cursor.executemany(statement, rows)
    finally:
        if gc_was_enabled:
            gc.enable()
    stored = session.execute(text("SELECT COUNT(*) FROM usage_event WHERE id > :before"), {"before": before})
    return int(stored.scalar_one()), f"(SELECT * FROM usage_event WHERE id > {int(before)})"


def _insert_postgresql(
    session: Session, driver: Any, names: list[str], rows: list[tuple[Any, ...]], received_at: dt.datetime
) -> tuple[int, str]:
    """COPY into a temporary stage, then one INSERT ... ON CONFLICT DO NOTHING RETURNING the new rows."""
    session.execute(text(_PG_STAGE))
    session.execute(text(_PG_NEW_EVENTS))
    session.execute(text("TRUNCATE incoming_event, new_event"))
    with driver.cursor() as cursor, cursor.copy(f"COPY incoming_event ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    session.execute(_with_received_at(_PG_STORE), {"received_at": received_at})
    return int(session.execute(text("SELECT COUNT(*) FROM new_event")).scalar_one()), "new_event"


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
