"""Engines and sessions: SQLite (WAL, foreign keys on) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    # Checkpoint every ~40 MB of WAL rather than 4 MB: telemetry rewrites the same index pages in every commit,
    # and a page is copied back to the database once per checkpoint however often it changed in between.
    "PRAGMA wal_autocheckpoint=10000",
    # A big import's transaction grows the WAL file to its size (440 MB after the demo); once checkpointed, it is
    # cut back to 64 MB instead of keeping that disk.
    "PRAGMA journal_size_limit=67108864",
)


SQLITE_POOL_SIZE = 40  # anyio's default worker threads: the most requests that can hold a connection at once


def normalise_url(url: str) -> str:
    """Selects psycopg 3 for plain `postgresql://` URLs, the driver this project ships."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and the WAL/foreign-key pragmas.

    Statement parameters are e-mail addresses, names, hashes and message bodies: `hide_parameters` keeps them out
    of SQLAlchemy's statement log and out of every database error's message (which reach logs and run records)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A connection is cheap to keep and dear to open (each new one reads the whole schema), so the pool
        # keeps as many as the server runs requests at once instead of opening and closing overflow ones.
        engine = create_engine(
            url, connect_args={"timeout": 30}, pool_size=SQLITE_POOL_SIZE, max_overflow=10, hide_parameters=True
        )
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@dataclass(frozen=True)
class Database:
    """One engine and its session factory; the shell's only way to the data."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, attach: Mapping[str, Path] | None = None) -> Iterator[Session]:
        """One unit of work: commits once on success, rolls back on any error. `attach` names SQLite database
        files the unit also reads (schema name → file): attached on its connection before it begins, since SQLite
        attaches nothing inside a transaction, and detached once it has ended."""
        if not attach:
            with self.sessions() as session, session.begin():
                yield session
            return
        with self.engine.connect() as connection:
            driver = connection.connection.driver_connection
            for schema, path in attach.items():
                driver.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
            try:
                with self.sessions(bind=connection) as session, session.begin():
                    yield session
            finally:
                connection.rollback()
                for schema in attach:
                    driver.execute(f"DETACH DATABASE {schema}")


def make_database(url: str) -> Database:
    engine = make_engine(url)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


@lru_cache(maxsize=4)
def database_for(url: str) -> Database:
    """The process-wide database for a URL (engines pool connections, so make one per URL)."""
    return make_database(url)
