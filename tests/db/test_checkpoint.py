"""Checkpoints in a thread: the writer's commits copy the log back only past a safety net, the log restarts while
frames keep coming, and once closed the database file alone holds every commit."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cs_health.db.checkpoint import SAFETY_NET_PAGES, checkpoint_in_background
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
    ordinary = autocheckpoint(database)
    database.engine.dispose()
    checkpointer = checkpoint_in_background(database)
    assert checkpointer is not None
    try:
        assert autocheckpoint(database) == SAFETY_NET_PAGES > 5 * ordinary
    finally:
        checkpointer.close()


def test_the_writer_copies_what_came_during_the_threads_pass_so_the_log_restarts(
    sqlite_file: tuple[Database, Path],
) -> None:
    """Under load, frames arrive during every pass of the thread, and SQLite restarts the log only when a write
    transaction begins with every frame copied back: the writer copies that remainder between its transactions."""
    database, path = sqlite_file
    checkpointer = checkpoint_in_background(database, interval=3_600.0)  # one pass, then the thread sleeps
    assert checkpointer is not None
    try:
        commit_rows(database, 1)
        checkpointer.committed()  # wakes the thread, which copies commit 1 back
        for _ in range(3_000):
            if checkpointer.remainder_due:
                break
            time.sleep(0.01)
        assert checkpointer.remainder_due
        commit_rows(database, 2)  # after the pass: the remainder
        before = log_restarts(path)
        checkpointer.committed()  # copies commit 2 back
        commit_rows(database, 3)  # begins with every frame copied: restarts the log
        assert log_restarts(path) == before + 1
    finally:
        checkpointer.close()


def test_a_failing_checkpoint_is_logged_and_costs_no_commit(
    sqlite_file: tuple[Database, Path], caplog: pytest.LogCaptureFixture
) -> None:
    database, _ = sqlite_file
    checkpointer = checkpoint_in_background(database, interval=3_600.0)
    assert checkpointer is not None
    commit_rows(database, 1)
    checkpointer.committed()
    for _ in range(3_000):  # the thread's pass, which leaves the remainder to the writer
        if checkpointer.remainder_due:
            break
        time.sleep(0.01)
    checkpointer._connection.close()  # a disk error from here on, at a boundary a test cannot provoke for real
    with caplog.at_level(logging.WARNING, logger="cs_health.db.checkpoint"):
        commit_rows(database, 2)
        checkpointer.committed()  # the remainder fails
        commit_rows(database, 3)
        checkpointer.close()
    assert caplog.text.count("a WAL checkpoint of") == 2  # the remainder's and the closing one's
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(DISTINCT serial) FROM payload")).scalar_one() == 3


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
