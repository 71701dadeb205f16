"""Online backup of the SQLite database: a consistent copy taken while the service keeps running."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from cs_health.db.engine import Database
from cs_health.exceptions import InvalidInput


def backup(database: Database, target: Path) -> int:
    """Copies the live database page by page (SQLite's backup API); returns the copy's size in bytes."""
    if database.dialect != "sqlite":
        raise InvalidInput("backup: this database is PostgreSQL; back it up with pg_dump or your provider's snapshots")
    source = make_url(database.engine.url).database
    if not source or source == ":memory:":
        raise InvalidInput("backup: an in-memory database has no file to back up")
    target = target.expanduser()
    if target.resolve() == Path(source).resolve():
        raise InvalidInput(f"backup: {target} is the database itself; name another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(partial)) as copy:
        live.backup(copy)
    partial.replace(target)
    return target.stat().st_size
