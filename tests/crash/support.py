"""Real `cs-health` processes, killed with SIGKILL at a point observed in the database (never after a sleep),
and the tools to compare what they left behind with a clean run on a copy of the same database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cs_health.db.backup import backup
from cs_health.db.engine import database_for
from cs_health.db.tables import Base

SAFETY_SECONDS = 600  # only so a broken test cannot hang CI; nothing is asserted about time

# What a run stores (DESIGN section 3) and what a file import stores.
RUN_RESULTS = (
    "health_score",
    "usage_forecast",
    "churn_prediction",
    "churn_model",
    "training_suggestion",
    "alert",
    "outbox",
)
USAGE = ("usage_event", "daily_usage", "user_daily_usage")


def volatile(table: str, column: str) -> bool:
    """Row ids and wall-clock stamps (`..._at`) differ between any two runs, and so does an outbox Message-ID
    (it carries the row id, and PostgreSQL never hands out an id twice, even one a killed run drew); every other
    column must not."""
    return column in {"id", "alert_id"} or column.endswith("_at") or (table, column) == ("outbox", "message_id")


def cli_process(*args: str, url: str) -> subprocess.Popen[str]:
    """`cs-health ARGS` as its own OS process against `url` (the rest of the environment is the test's)."""
    environment = {**os.environ, "CS_HEALTH_DATABASE_URL": url}
    command = [sys.executable, "-m", "cs_health.cli", *args]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    process = cli_process(*args, url=url)
    stdout, stderr = process.communicate(timeout=SAFETY_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Polls `condition` while `process` runs; fails if the process ends first (the kill point was missed)."""
    deadline = time.monotonic() + SAFETY_SECONDS
    while not condition():
        if process.poll() is not None:
            raise AssertionError(
                f"the process ended (exit {process.returncode}) before {what}: {process.stderr.read()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=SAFETY_SECONDS)
    assert process.returncode == -signal.SIGKILL


def writing(url: str) -> bool:
    """Whether another connection holds an open write transaction: SQLite's write lock is taken (a
    `BEGIN IMMEDIATE` with no busy timeout fails), or a PostgreSQL backend has a transaction id (it wrote)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(make_url(url).database, timeout=0, isolation_level=None)) as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    return True
                raise
            connection.execute("ROLLBACK")
            return False
    statement = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )
    with database_for(url).engine.connect() as connection:
        return bool(connection.scalar(statement))


@contextmanager
def database_copy(url: str, folder: Path) -> Iterator[str]:
    """A copy of the database as it is now: SQLite's online backup, or PostgreSQL's CREATE DATABASE ... TEMPLATE
    (which needs the source idle, so this session's other connections to it are closed first). Dropped afterwards."""
    if url.startswith("sqlite"):
        target = folder / f"copy-{uuid.uuid4().hex[:6]}.db"
        backup(database_for(url), target)
        yield f"sqlite:///{target}"
        return
    source = make_url(url)
    name = f"{source.database}_copy_{uuid.uuid4().hex[:6]}"
    database_for(url).engine.dispose()
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # idle connections this test session left open elsewhere (the database is this session's own)
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": source.database},
        )
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def snapshot(url: str, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of `tables` without its volatile columns, sorted, so two databases compare with ==."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            result = {}
            for name in tables:
                table = Base.metadata.tables[name]
                columns = [column for column in table.c if not volatile(name, column.name)]
                rows = connection.execute(table.select().with_only_columns(*columns)).all()
                result[name] = sorted((tuple(_plain(value) for value in row) for row in rows), key=repr)
            return result
    finally:
        engine.dispose()
