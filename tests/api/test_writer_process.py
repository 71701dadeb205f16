"""The event writer in a process of its own: the same answers as in the server, and a writer that dies costs its
waiting requests a 503 (nothing half-written) and the next request a new writer, never a hang."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import DailyUsage, UsageEvent
from cs_health.exceptions import ServiceUnavailable
from cs_health.ingestion import writer_process
from cs_health.ingestion.items import EventBatch, validate_items
from cs_health.ingestion.writer_process import ProcessWriter

NOW = dt.datetime.now(dt.UTC)
AT = (NOW - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat()


def batch(*message_ids: str, account: str = "acc-1") -> EventBatch:
    items: list[Any] = [
        {"account_id": account, "event": "login", "timestamp": AT, "user_id": "u-1", "message_id": message_id}
        for message_id in message_ids
    ]
    return validate_items(items, NOW)


def totals(database: Database) -> tuple[int, int]:
    with database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(UsageEvent)) or 0
        rolled = session.scalar(select(func.sum(DailyUsage.events))) or 0
    return stored, rolled


@pytest.fixture
def writer(database_url: str) -> Iterator[ProcessWriter]:
    process_writer = ProcessWriter(database_url)
    yield process_writer
    process_writer.close()


def test_a_batch_is_stored_by_the_writer_process_and_answered_with_its_counts(
    writer: ProcessWriter, database: Database
) -> None:
    first = writer.write(None, batch("m1", "m2"), "api:test")
    again = writer.write(None, batch("m2", "m3"), "api:test")
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert writer.pid not in (None, os.getpid())
    assert totals(database) == (3, 3)


def test_concurrent_writers_threads_lose_nothing(writer: ProcessWriter, database: Database) -> None:
    def post(poster: int) -> int:
        return sum(
            writer.write(None, batch(*[f"p{poster}-{n}-{i}" for i in range(50)]), "t").accepted for n in range(5)
        )

    with ThreadPoolExecutor(6) as pool:
        accepted = sum(pool.map(post, range(6)))
    assert accepted == 6 * 5 * 50
    assert totals(database) == (accepted, accepted)


def test_a_killed_writer_process_is_replaced_by_the_next_request(writer: ProcessWriter, database: Database) -> None:
    writer.write(None, batch("before"), "t")
    killed = writer.pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    for _ in range(3_000):  # the kill lands at once; this waits for the process to be reaped
        if not writer.running:
            break
        time.sleep(0.01)
    result = writer.write(None, batch("after"), "t")
    assert result.accepted == 1
    assert writer.pid not in (None, killed)
    assert totals(database) == (2, 2)


def test_closing_the_writer_stores_what_it_was_sent_and_ends_it_cleanly(database_url: str, database: Database) -> None:
    writer = ProcessWriter(database_url)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: writer.write(None, batch(f"c{n}"), "t"), range(4)))
    assert writer.close() == 0
    assert [answer.accepted for answer in answers] == [1, 1, 1, 1]
    assert totals(database) == (4, 4)
    assert writer.close() is None  # nothing left to stop


def test_a_program_that_never_closes_its_writer_still_exits_with_its_batches_stored(
    database_url: str, database: Database
) -> None:
    program = f"""
from tests.api.test_writer_process import batch
from cs_health.db.engine import database_for
from cs_health.ingestion.writer_process import writer_for
print(writer_for(database_for({database_url!r})).write(None, batch("exit-1", "exit-2"), "t").accepted)
"""  # exits without close(): the exit handler must stop the writer (SIGTERM alone would be ignored, and hang)
    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600, cwd=root)
    assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr
    assert totals(database) == (2, 2)


def test_start_returns_once_the_writer_is_ready_to_store(writer: ProcessWriter, database: Database) -> None:
    assert writer.start() is True
    assert writer.running
    assert totals(database) == (0, 0)  # its warm-up stored nothing
    assert writer.write(None, batch("m1"), "t").accepted == 1


def ready_once_marked(connection: Connection, marker: str, _max_group_events: int) -> None:
    """A writer process that marks a file just before it says it is ready, then waits for the close."""
    Path(marker).write_text("warmed up")
    connection.send(writer_process.READY)
    connection.recv()


def test_start_waits_until_the_writer_says_it_is_ready(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    writer = ProcessWriter(str(marker), target=ready_once_marked)
    try:
        assert writer.start() is True
        assert marker.read_text() == "warmed up"  # spawning alone takes longer than starting did without waiting
    finally:
        assert writer.close() == 0


def exit_at_once(_connection: Connection, _url: str, _max_group_events: int) -> None:
    """A writer process that dies before it is ready (spawned by multiprocessing, so at module level)."""
    os._exit(4)


def test_start_reports_a_writer_that_died_before_it_was_ready(database_url: str) -> None:
    writer = ProcessWriter(database_url, target=exit_at_once)
    try:
        assert writer.start() is False
        assert not writer.running
    finally:
        writer.close()


def exit_on_first_batch(connection: Connection, _url: str, _max_group_events: int) -> None:
    """A writer process that dies with a batch in hand (spawned by multiprocessing, so at module level)."""
    connection.recv()
    os._exit(3)


def test_requests_waiting_on_a_writer_that_dies_get_a_503_not_a_hang(database_url: str, database: Database) -> None:
    writer = ProcessWriter(database_url, target=exit_on_first_batch)
    try:
        with pytest.raises(ServiceUnavailable, match="exit code 3") as raised:
            writer.write(None, batch("lost"), "t")
    finally:
        writer.close()
    assert raised.value.status_code == 503
    assert totals(database) == (0, 0)


class Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this")


def test_an_error_that_cannot_cross_the_pipe_arrives_as_its_type_and_message() -> None:
    kept = ServiceUnavailable("database is locked", retry=True)
    assert writer_process._portable(kept) is kept
    replaced = writer_process._portable(Unpicklable("disk I/O error"))
    assert isinstance(replaced, RuntimeError)
    assert str(replaced) == "Unpicklable: disk I/O error"


@pytest.fixture
def process_writer_server(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    """The app's default writer, a process, for the `server` fixture's requests."""
    monkeypatch.setenv("CS_HEALTH_INGEST_WRITER", "process")
    from cs_health.config import get_settings

    get_settings.cache_clear()
    yield
    writer_process.close_all()


def test_the_server_answers_over_http_through_its_writer_process(
    process_writer_server: None, server: str, ingest_key: str, database: Database
) -> None:
    items = [{"account_id": "acc-1", "event": "login", "timestamp": AT, "message_id": f"h{n}"} for n in range(20)] + [
        {"account_id": "acc-1", "event": "login", "timestamp": "yesterday"}
    ]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ingest_key}"}) as client:
        first = client.post("/api/v1/events", json=items).json()
        replay = client.post("/api/v1/events", json=items[:5]).json()
    assert (first["accepted"], first["rejected"], first["errors"][0]["index"]) == (20, 1, 20)
    assert (replay["accepted"], replay["duplicates"]) == (0, 5)
    assert totals(database) == (20, 20)
