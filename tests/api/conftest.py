"""API fixtures: keys issued straight through the key service, an in-process client and a real uvicorn server."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from cs_health.app import create_app
from cs_health.auth import service as keys
from cs_health.auth.schemas import Scope
from cs_health.db.engine import Database

KeyMaker = Callable[..., str]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def make_key(database: Database) -> KeyMaker:
    """`make_key("ingest", expires_days=1)` -> a usable key string."""

    def make(*scopes: str, expires_days: int | None = None, created_at: dt.datetime = NOW) -> str:
        wanted = [Scope(scope) for scope in scopes]
        with database.transaction() as session:
            created = keys.create(session, wanted, now=created_at, expires_days=expires_days)
        return created.key

    return make


@pytest.fixture
def ingest_key(make_key: KeyMaker) -> str:
    return make_key("ingest")


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    """cs-health served by a real uvicorn on a free loopback port, in a thread of this process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uvicorn_server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join()
    sock.close()
