"""Request dependencies: the request's one transaction (`SessionDep`) and the API key behind it.

The key is checked in its own short transaction, so a write request takes SQLite's write lock only when it
first touches the database (after reading and validating its body), not while a client is still uploading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from cs_health.auth import ratelimit, repository, service
from cs_health.auth.schemas import Scope
from cs_health.config import get_settings
from cs_health.db.engine import Database, database_for
from cs_health.db.tables import ApiKey

IMMEDIATE = "sqlite_begin_immediate"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer csh_<prefix>_<secret>`")
segment_basic = HTTPBasic(auto_error=False, description="Segment write key as the basic-auth user, empty password")


@event.listens_for(Session, "after_begin")
def _begin_immediate(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    """SQLite: a write request takes the write lock up front. A deferred transaction that reads first and writes
    later fails at once with `database is locked` when another writer got in between; an immediate one waits
    for the busy timeout instead, so concurrent posters queue rather than lose their batch."""
    if session.info.get(IMMEDIATE) and connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:  # not for a savepoint inside the transaction
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_database() -> Database:
    return database_for(get_settings().DATABASE_URL)


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commits once when the route returns, rolls back if it raises."""
    database = get_database()
    with database.sessions() as session:
        session.info[IMMEDIATE] = request.method not in READ_METHODS
        with session.begin():
            yield session


@contextmanager
def write_transaction(database: Database) -> Iterator[Session]:
    """A transaction that will write: on SQLite it takes the write lock at its first statement."""
    with database.sessions() as session:
        session.info[IMMEDIATE] = True
        with session.begin():
            yield session


# scope="function": commit before the response is sent, so a 2xx means the data is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _authenticate(presented: str | None, scope: Scope, scheme: str) -> ApiKey:
    with get_database().transaction() as session:
        return service.authenticate(session, presented, scope, now=_now(), scheme=scheme)


def warm_up_key_lookup() -> None:
    """Looks up a key that cannot exist, before the server answers its first request, which would otherwise pay
    ~12 ms for the ORM's mapper configuration and ~12 ms more for a connection and the lookup's compilation."""
    with get_database().transaction() as session:
        repository.by_prefix(session, "")


def require_scope(scope: str) -> Callable[..., ApiKey]:
    """A dependency for `/api/v1`: the bearer key, which must grant `scope` (admin grants every scope)."""
    wanted = Scope(scope)

    def dependency(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> ApiKey:
        presented = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
        return _authenticate(presented, wanted, "Bearer")

    return dependency


def require_write_key(scope: str) -> Callable[..., ApiKey]:
    """A dependency for the Segment routes: the write key is the basic-auth user, as Segment libraries send it."""
    wanted = Scope(scope)

    def dependency(credentials: Annotated[HTTPBasicCredentials | None, Security(segment_basic)]) -> ApiKey:
        return _authenticate(credentials.username if credentials else None, wanted, "Basic")

    return dependency


def _charge(key: ApiKey) -> ApiKey:
    """One request off the key's ingestion bucket (see cs_health.auth.ratelimit): 429 with Retry-After when the
    key is over INGEST_RATE_LIMIT, before the request's body is read."""
    settings = get_settings()
    ratelimit.INGESTION.take(key.prefix, settings.INGEST_RATE_LIMIT, settings.INGEST_RATE_BURST)
    return key


_ingest_bearer = require_scope("ingest")
_ingest_write_key = require_write_key("ingest")


# async: a charge is arithmetic under a lock held for microseconds, and FastAPI runs a plain `def` dependency in
# the threadpool, a hop per request that cost the ingestion route more than the charge itself.
async def rate_limited_ingest_key(key: Annotated[ApiKey, Security(_ingest_bearer)]) -> ApiKey:
    return _charge(key)


async def rate_limited_write_key(key: Annotated[ApiKey, Security(_ingest_write_key)]) -> ApiKey:
    return _charge(key)


IngestKey = Annotated[ApiKey, Security(rate_limited_ingest_key)]  # rate limited: the ingestion routes only
ReadKey = Annotated[ApiKey, Security(require_scope("read"))]
AdminKey = Annotated[ApiKey, Security(require_scope("admin"))]
SegmentWriteKey = Annotated[ApiKey, Security(rate_limited_write_key)]
