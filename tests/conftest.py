"""Shared fixtures: a real, migrated database per test (SQLite file by default, PostgreSQL when
CS_HEALTH_TEST_DATABASE_URL names one) and the CLI run in-process against it."""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from cs_health.app import create_app
from cs_health.audit.schemas import Actor
from cs_health.auth import service as keys
from cs_health.auth.schemas import Scope
from cs_health.cli import app
from cs_health.config import get_settings
from cs_health.db.engine import Database, database_for, make_database, normalise_url
from cs_health.db.migrate import upgrade
from cs_health.db.tables import Base

TEST_URL_VARIABLE = "CS_HEALTH_TEST_DATABASE_URL"
UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, what: str) -> None:
    """Skips a test whose service is missing on a laptop; under CI a missing service is a failure."""
    if available:
        return
    if UNDER_CI:
        pytest.fail(f"{what} is required under CI but is not available")
    pytest.skip(f"{what} not available")


def pdf_libraries_present() -> bool:
    """WeasyPrint loads Pango when imported; a machine without it can still run everything but PDFs."""
    try:
        import weasyprint  # noqa: F401
    except OSError:
        return False
    return True


@pytest.fixture
def needs_pdf() -> None:
    require_service(pdf_libraries_present(), "WeasyPrint's system libraries (Debian: libpango-1.0-0 libpangoft2-1.0-0)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    configured = os.environ.get(TEST_URL_VARIABLE)
    if not configured:
        yield None
        return
    url = make_url(normalise_url(configured))
    name = f"cs_health_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(make_database(test_url).engine)
    yield test_url
    database_for.cache_clear()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = make_database(f"sqlite:///{path}")
    upgrade(database.engine)
    database.engine.dispose()
    return path


def _truncate(database: Database) -> None:
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@contextmanager
def database_in(
    folder: Path, sqlite_template: Path, postgres_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated, empty database configured for the CLI and the app while the block runs (a copy of the SQLite
    template in `folder`, or the session's PostgreSQL database, emptied afterwards)."""
    if postgres_url:
        url = postgres_url
    else:
        path = folder / "cs_health.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    monkeypatch.setenv("CS_HEALTH_DATABASE_URL", url)
    monkeypatch.setenv("CS_HEALTH_DATA_DIR", str(folder / "data"))
    # Prophet fits are exercised by tests/models and tests/churn; elsewhere the vectorised forecast keeps runs quick.
    monkeypatch.setenv("CS_HEALTH_FORECAST_PROPHET", "false")
    # A writer process per test database would cost a spawn each; tests/api/test_writer_process.py covers it.
    monkeypatch.setenv("CS_HEALTH_INGEST_WRITER", "thread")
    monkeypatch.chdir(folder)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        get_settings.cache_clear()
        if postgres_url:
            _truncate(database_for(url))
        else:
            database_for(url).engine.dispose()
            database_for.cache_clear()


@pytest.fixture
def database_url(
    tmp_path: Path, sqlite_template: Path, postgres_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with database_in(tmp_path, sqlite_template, postgres_url, monkeypatch) as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Database:
    return database_for(database_url)


@pytest.fixture
def dialect(database: Database) -> str:
    return database.dialect


@pytest.fixture
def cli(database_url: str) -> CliInvoker:
    return CliInvoker()


KeyMaker = Callable[..., str]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def make_key(database: Database) -> KeyMaker:
    """`make_key("ingest", expires_days=1)` -> a usable API key string."""

    def make(*scopes: str, expires_days: int | None = None, created_at: dt.datetime = NOW) -> str:
        wanted = [Scope(scope) for scope in scopes]
        with database.transaction() as session:
            created = keys.create(session, wanted, now=created_at, actor=Actor.cli(), expires_days=expires_days)
        return created.key

    return make


@pytest.fixture
def ingest_key(make_key: KeyMaker) -> str:
    return make_key("ingest")


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The real app, in-process, against this test's database."""
    with TestClient(create_app()) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(key: str) -> dict[str, str]:
    """The Segment routes' credentials: the write key as the basic-auth user, an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served by a real uvicorn on a free loopback port, in a thread of this process; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uvicorn_server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    """cs-health served by a real uvicorn on a free loopback port, in a thread of this process."""
    with serving(create_app()) as base_url:
        yield base_url


class CliInvoker:
    """Runs `cs-health ...` in-process, with stdout and stderr kept apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
