"""Checkpoints in a thread: the writer's commits never copy the log back themselves, the log still restarts while
the writer never pauses, and once closed the database file alone holds every commit."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cs_health.db.checkpoint import checkpoint_in_background
from cs_health.db.engine import Database, make_database

ROWS_PER_COMMIT = 50
ROW = os.urandom(2_000)  # ~25 pages a commit, so the log grows as under ingestion


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    path = tmp_path / "writes.db"
    database = make_database(f"sqlite:///{path}")
    yield database, path
    database.engine.dispose()


def commit_rows(database: Database, serial: int) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS payload (serial INTEGER, body BLOB)"))
        rows = [{"serial": serial, "body": ROW} for _ in range(ROWS_PER_COMMIT)]
        connection.execute(text("INSERT INTO payload VALUES (:serial, :body)"), rows)


def log_restarts(path: Path) -> int:
    """The log header's checkpoint sequence number: SQLite adds one each time the log restarts from its start."""
    with open(f"{path}-wal", "rb") as log:
        return int.from_bytes(log.read(16)[12:16], "big")


def autocheckpoint(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def test_the_writers_connections_leave_checkpoints_to_the_thread(sqlite_file: tuple[Database, Path]) -> None:
    database, _ = sqlite_file
    assert autocheckpoint(database) > 0
    database.engine.dispose()
    checkpointer = checkpoint_in_background(database)
    assert checkpointer is not None
    try:
        assert autocheckpoint(database) == 0
    finally:
        checkpointer.close()


def test_the_log_restarts_while_the_writer_never_pauses(sqlite_file: tuple[Database, Path]) -> None:
    """Frames arrive during every copy, so only the remainder the writer copies between its transactions lets
    the log restart; without it the log would grow for as long as the writes went on."""
    database, path = sqlite_file
    checkpointer = checkpoint_in_background(database, interval=0.0)
    assert checkpointer is not None
    try:
        commit_rows(database, 0)
        first = log_restarts(path)
        restarts = 0
        for serial in range(1, 3_000):
            commit_rows(database, serial)
            checkpointer.committed()
            restarts = log_restarts(path) - first
            if restarts >= 3:
                break
    finally:
        checkpointer.close()
    assert restarts >= 3


def test_once_closed_the_database_file_alone_holds_every_commit(
    sqlite_file: tuple[Database, Path], tmp_path: Path
) -> None:
    database, path = sqlite_file
    checkpointer = checkpoint_in_background(database)
    assert checkpointer is not None
    for serial in range(40):
        commit_rows(database, serial)
        checkpointer.committed()
    checkpointer.close()
    alone = tmp_path / "alone.db"
    shutil.copy(path, alone)  # without its -wal file
    with sqlite3.connect(alone) as copy:
        assert copy.execute("SELECT COUNT(*), COUNT(DISTINCT serial) FROM payload").fetchone() == (
            40 * ROWS_PER_COMMIT,
            40,
        )


def test_postgresql_keeps_its_own_checkpoints() -> None:
    assert checkpoint_in_background(make_database("postgresql://nobody@127.0.0.1:1/none")) is None
