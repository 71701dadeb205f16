"""Every SQL statement of ingestion. Events take a bulk path: one INSERT … SELECT from a JSON array on SQLite (or
from a file import's attached stage tables), COPY into a stage on PostgreSQL; duplicates fall on the event table's key
(timestamp, event_key), the count of rows stored says which events were new, and those are rolled up per user and
day in memory, staged, and added to the rollups by set-based SQL in the same transaction."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import DateTime, Table, TextClause, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cs_health.db.tables import Account, ImportRun, UsageEvent
from cs_health.ingestion.columns import Text, arrow_table, as_numpy, take_values
from cs_health.ingestion.rollup import SQLITE_ROLLUP_TABLE

EVENT_COLUMNS = ("event_key", "message_id", "account_id", "user_id", "event", "timestamp", "quantity", "properties")
_KEY_CHUNK = 10_000
_COPY_CHUNK = 100_000
_INGEST_LOCK = 7_301_001  # PostgreSQL advisory lock: event merges run one at a time, so rollups stay exact

# Accounts first seen in telemetry, created from the batch's rollup before the rollups that refer to them.
_CREATE_ACCOUNTS = {
    dialect: f"""INSERT INTO account (account_id, tags, source)
        SELECT DISTINCT account_id, {tags}, 'event' FROM {{source}} WHERE true
        ON CONFLICT (account_id) DO NOTHING"""
    for dialect, tags in (("sqlite", "'[]'"), ("postgresql", "'[]'::jsonb"))
}

# PostgreSQL's stage tables last as long as their connection and lose their rows at each commit: created and dropped
# in every transaction, they wrote the catalog twice a transaction (bloat at tens of HTTP groups a second), and the
# HTTP path ran 6 % slower (37,000-37,500 events/s against 39,500-40,000, interleaved).
_STAGES = {
    "sqlite": [
        f"CREATE TEMP TABLE IF NOT EXISTS incoming_rollup {SQLITE_ROLLUP_TABLE}",
    ],
    "postgresql": [
        """CREATE TEMP TABLE IF NOT EXISTS incoming_event (
            event_key BIGINT, message_id TEXT, account_id TEXT, user_id TEXT, event TEXT, timestamp TIMESTAMP,
            quantity DOUBLE PRECISION, properties JSONB) ON COMMIT DELETE ROWS""",
        """CREATE TEMP TABLE IF NOT EXISTS incoming_rollup (
            account_id TEXT, day DATE, event TEXT, user_id TEXT, events INTEGER, quantity DOUBLE PRECISION,
            latest TIMESTAMP) ON COMMIT DELETE ROWS""",
    ],
}

# Runs before the per-user upsert: a user is new for (account, day, event) when the per-user table lacks it.
_ROLL_UP_ACCOUNTS = """
    INSERT INTO daily_usage (account_id, day, event, events, quantity, users)
    SELECT r.account_id, r.day, r.event, SUM(r.events), SUM(r.quantity),
           SUM(CASE WHEN r.user_id <> '' AND NOT EXISTS (
                   SELECT 1 FROM user_daily_usage u
                   WHERE u.account_id = r.account_id AND u.day = r.day AND u.event = r.event AND u.user_id = r.user_id)
               THEN 1 ELSE 0 END)
    FROM {source} r WHERE true
    GROUP BY r.account_id, r.day, r.event
    ON CONFLICT (account_id, day, event) DO UPDATE
    SET events = daily_usage.events + excluded.events, quantity = daily_usage.quantity + excluded.quantity,
        users = daily_usage.users + excluded.users
"""

_ROLL_UP_USERS = """
    INSERT INTO user_daily_usage (account_id, day, event, user_id, events, quantity)
    SELECT account_id, day, event, user_id, events, quantity FROM {source} WHERE true
    ON CONFLICT (account_id, day, event, user_id) DO UPDATE
    SET events = user_daily_usage.events + excluded.events, quantity = user_daily_usage.quantity + excluded.quantity
"""

_UPDATE_FRESHNESS = """
    UPDATE account SET
        last_event_at = CASE WHEN account.last_event_at IS NULL OR account.last_event_at < latest.at
                             THEN latest.at ELSE account.last_event_at END,
        last_received_at = :received_at
    FROM (SELECT account_id, MAX(latest) AS at FROM {source} GROUP BY account_id) latest
    WHERE account.account_id = latest.account_id
"""


def _with_received_at(statement: str) -> TextClause:
    """Binds the receive time through SQLAlchemy's DateTime type, so each dialect stores it its own way."""
    return text(statement).bindparams(bindparam("received_at", type_=DateTime()))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _copy(session: Session, table: str, rows: pa.Table) -> None:
    """PostgreSQL's COPY of CSV that Arrow writes in C++: no Python object per value on the way (psycopg's
    write_row took 2.6 µs a row). Text is always quoted and NULL is an unquoted empty field, as COPY reads them."""
    driver = session.connection().connection.driver_connection
    options = pa_csv.WriteOptions(include_header=False)
    statement = f"COPY {table} ({', '.join(rows.column_names)}) FROM STDIN WITH (FORMAT csv)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, rows.num_rows, _COPY_CHUNK):
            buffer = pa.BufferOutputStream()
            pa_csv.write_csv(rows.slice(start, _COPY_CHUNK), buffer, options)
            copy.write(buffer.getvalue().to_pybytes())


_this_thread = threading.local()


@contextmanager
def alone_in_process() -> Iterator[None]:
    """Declares that while the block runs, the calling thread is the only one of its process running Python (the
    event writer process's loop), so inserts may step row by row (see _insert_rows)."""
    _this_thread.alone = True
    try:
        yield
    finally:
        _this_thread.alone = False


def _insert_rows(
    session: Session, table: str, columns: Mapping[str, Text], *, constants: Mapping[str, str] | None = None
) -> int:
    """The columns' rows into `table` on SQLite (plus `constants`, SQL literals, in every row; duplicates of a
    unique key ignored); returns how many rows were stored.

    sqlite3 releases the GIL around every step, and executemany takes a step per row: where other threads are
    busy in Python (request threads validating beside a writer thread), the writer had to win the GIL back after
    every row, up to the 5 ms switch interval each time, seconds per batch under load. There the rows go as one
    JSON array that SQLite unpacks itself (json_each), one step. Where this is the only thread (the event writer
    process, see alone_in_process), executemany, which costs SQLite half the CPU of unpacking JSON."""
    constants = constants or {}
    head = f"INSERT OR IGNORE INTO {table} ({', '.join([*columns, *constants])})"
    rows = list(zip(*(as_numpy(column).tolist() for column in columns.values()), strict=True))
    literals = "".join(f", {literal}" for literal in constants.values())
    connection = session.connection()
    if getattr(_this_thread, "alone", False):
        return _rowcount(connection.exec_driver_sql(f"{head} VALUES ({', '.join('?' * len(columns))}{literals})", rows))
    fields = ", ".join(f"json_extract(value, '$[{position}]')" for position in range(len(columns)))
    return _rowcount(
        connection.exec_driver_sql(f"{head} SELECT {fields}{literals} FROM json_each(?)", (orjson.dumps(rows),))
    )


def prepare_event_store(session: Session) -> None:
    """Begins the store: the transaction itself on SQLite, ingestion's advisory lock on PostgreSQL (so that event
    stores run one at a time there as they do on SQLite, with its one write lock, and each knows exactly which
    events it stored), and this connection's staging tables."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _INGEST_LOCK})
    else:  # sqlite3 begins only before a write; a savepoint outside a transaction would commit when released
        driver = session.connection().connection.driver_connection
        if not driver.in_transaction:
            session.connection().exec_driver_sql("BEGIN")
    for statement in _STAGES[dialect]:
        session.execute(text(statement))


def insert_events(session: Session, columns: Mapping[str, Text], order: np.ndarray, received_at: dt.datetime) -> int:
    """Stores events (EVENT_COLUMNS, one value per event), in `order`, whose (timestamp, event_key) is not stored
    yet (the primary key drops the others); returns how many it stored."""
    names = list(columns)
    if _dialect(session) == "sqlite":
        received = received_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        ordered = {name: take_values(values, order) for name, values in columns.items()}
        return _insert_rows(session, "usage_event", ordered, constants={"received_at": f"'{received}'"})
    session.execute(text("TRUNCATE incoming_event"))
    _copy(session, "incoming_event", arrow_table(columns).take(order))
    selected = ", ".join(names)
    return _rowcount(
        session.execute(
            _with_received_at(
                f"""INSERT INTO usage_event ({selected}, received_at)
                    SELECT {selected}, :received_at FROM incoming_event
                    ON CONFLICT (timestamp, event_key) DO NOTHING"""
            ),
            {"received_at": received_at},
        )
    )


def insert_staged_events(session: Session, names: Sequence[str], received_at: dt.datetime, source: str) -> int:
    """Stores the events of the attached stage table `source` (see ingestion.stage) that are not stored yet;
    returns how many."""
    columns = ", ".join(names)
    return _rowcount(
        session.execute(
            _with_received_at(
                f"""INSERT OR IGNORE INTO usage_event ({columns}, received_at)
                    SELECT {columns}, :received_at FROM {source}"""
            ),
            {"received_at": received_at},
        )
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def stored_among(session: Session, timestamps: Text, keys: np.ndarray) -> np.ndarray:
    """Which of these events (timestamp text, event_key) are stored already, as a mask."""
    stored = np.zeros(len(keys), dtype=bool)
    timestamps = as_numpy(timestamps)
    if _dialect(session) == "sqlite":
        pairs = orjson.dumps(list(zip(timestamps.tolist(), keys.tolist(), strict=True)))
        positions = session.connection().exec_driver_sql(
            """SELECT j.key FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM usage_event u
               WHERE u.timestamp = json_extract(j.value, '$[0]') AND u.event_key = json_extract(j.value, '$[1]'))""",
            (pairs,),
        )
    else:
        positions = session.execute(
            text(
                """SELECT i.n - 1 FROM unnest(CAST(:timestamps AS timestamp[]), CAST(:keys AS bigint[]))
                   WITH ORDINALITY AS i(at, event_key, n)
                   WHERE EXISTS (SELECT 1 FROM usage_event u WHERE u.timestamp = i.at AND u.event_key = i.event_key)"""
            ),
            {"timestamps": timestamps.tolist(), "keys": keys.tolist()},
        )
    stored[[int(position) for (position,) in positions]] = True
    return stored


def stage_rollup(session: Session, rollup: Mapping[str, Text]) -> str:
    """Puts a rollup (rollup.incoming_rollup's columns) into this connection's `incoming_rollup` table and
    returns its name, the source for merge_rollup."""
    session.execute(text("DELETE FROM incoming_rollup"))
    if _dialect(session) == "sqlite":
        _insert_rows(session, "incoming_rollup", rollup)
    else:
        _copy(session, "incoming_rollup", arrow_table(rollup))
    return "incoming_rollup"


def merge_rollup(session: Session, source: str, received_at: dt.datetime) -> None:
    """Adds the rollup of the events this transaction stored, held in the table `source` (ROLLUP_COLUMNS), to both
    rollup tables and to account freshness, after creating the accounts seen for the first time."""
    session.execute(text(_CREATE_ACCOUNTS[_dialect(session)].format(source=source)))
    session.execute(text(_ROLL_UP_ACCOUNTS.format(source=source)))
    session.execute(text(_ROLL_UP_USERS.format(source=source)))
    session.execute(_with_received_at(_UPDATE_FRESHNESS.format(source=source)), {"received_at": received_at})


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
    dialect_insert = sqlite_insert if _dialect(session) == "sqlite" else postgresql_insert
    statement = dialect_insert(table)
    updates = {name: statement.excluded[name] for name in update if name not in key}
    statement = (
        statement.on_conflict_do_update(index_elements=list(key), set_=updates)
        if updates
        else statement.on_conflict_do_nothing(index_elements=list(key))
    )
    session.execute(statement, rows)


def record_imports(session: Session, runs: Sequence[ImportRun]) -> None:
    """All of a group's runs in one Core INSERT: the rows only, no ORM unit of work (whose flush cost three times
    as much, once per group commit, and nothing reads the runs back in the same transaction)."""
    columns = [column.key for column in ImportRun.__table__.columns if column.key != "id"]
    rows = [{name: getattr(run, name) for name in columns} for run in runs]
    session.execute(insert(ImportRun.__table__), rows)


def delete_events_before(session: Session, cutoff: dt.datetime, dry_run: bool) -> int:
    """Raw events older than `cutoff`; the daily rollups are not touched."""
    condition = UsageEvent.timestamp < cutoff
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(UsageEvent).where(condition)) or 0)
    return int(session.execute(delete(UsageEvent).where(condition)).rowcount or 0)
