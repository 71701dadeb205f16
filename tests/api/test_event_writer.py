"""Group commit of concurrent event batches: answers per request as if alone; a failing batch fails alone."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cs_health.auth.dependencies import write_transaction
from cs_health.db.engine import Database, make_database
from cs_health.db.tables import Account, DailyUsage, ImportRun, UsageEvent
from cs_health.ingestion import group_commit, service
from cs_health.ingestion.endpoints import start_event_writer
from cs_health.ingestion.group_commit import EventWriter, Job
from cs_health.ingestion.items import EventBatch, validate_items

NOW = dt.datetime.now(dt.UTC)
AT = (NOW - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat()


def event(message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": "acc-1",
        "event": "login",
        "timestamp": AT,
        "user_id": "u-1",
        "message_id": message_id,
        **fields,
    }


def totals(database: Database) -> tuple[int, int]:
    with database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(UsageEvent)) or 0
        rolled = session.scalar(select(func.sum(DailyUsage.events))) or 0
    return stored, rolled


def validated(items: list[Any]) -> EventBatch:
    return validate_items(items, NOW)


def run_group(database: Database, batches: list[list[Any]]) -> list[dict[str, Any]]:
    with write_transaction(database) as session:
        results = service.ingest_event_batches(
            session, [validated(items) for items in batches], now=NOW, sources=["a", "b", "c"][: len(batches)]
        )
    return [result.model_dump() for result in results]


def test_a_group_without_replays_is_answered_per_batch(database: Database) -> None:
    results = run_group(database, [[event("m1"), event("m2")], [event("m3"), {"event": "x"}], [event("m4")]])
    assert [(r["accepted"], r["duplicates"], r["rejected"]) for r in results] == [(2, 0, 0), (1, 0, 1), (1, 0, 0)]
    assert [(e["index"], e["field"]) for e in results[1]["errors"]] == [(1, "account_id"), (1, "timestamp")]
    assert totals(database) == (4, 4)


def test_replays_in_a_group_count_against_the_batch_that_repeats_them(database: Database) -> None:
    run_group(database, [[event("old")]])
    results = run_group(
        database,
        [[event("m1"), event("m2")], [event("m2"), event("old"), event("m3"), "junk"], [event("m3"), event("m4")]],
    )
    assert [(r["accepted"], r["duplicates"], r["rejected"]) for r in results] == [(2, 0, 0), (1, 2, 1), (1, 1, 0)]
    assert results[1]["errors"] == [{"index": 3, "field": "event", "reason": "not a JSON object"}]
    assert totals(database) == (5, 5)  # the savepoint was undone: nothing stored twice, nothing rolled up twice
    with database.sessions() as session:
        runs = session.execute(select(ImportRun.source, ImportRun.accepted, ImportRun.duplicates)).all()
    assert sorted(runs) == [("a", 1, 0), ("a", 2, 0), ("b", 1, 2), ("c", 1, 1)]


def test_a_failing_batch_fails_alone(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    original = service.ingest_event_batches

    def poisoned(session: Any, batches: list[EventBatch], **kwargs: Any) -> Any:
        results = original(session, batches, **kwargs)  # written, then the transaction must be undone
        if any(message_id.startswith("poison") for batch in batches for message_id in batch.events.message_id):
            raise RuntimeError("poisoned batch")
        return results

    monkeypatch.setattr(group_commit.service, "ingest_event_batches", poisoned)
    jobs = [Job(validated([event(name)]), source) for name, source in (("g1", "a"), ("poison", "b"), ("g2", "c"))]
    group_commit.run_group(database, jobs)
    assert [job.result.accepted if job.result else None for job in jobs] == [1, None, 1]
    assert isinstance(jobs[1].error, RuntimeError)
    assert totals(database) == (2, 2)
    with database.sessions() as session:
        assert set(session.scalars(select(UsageEvent.message_id))) == {"g1", "g2"}


def test_the_writer_answers_every_waiting_request(database: Database) -> None:
    writer = EventWriter(max_group_events=3)
    for number in range(4):  # queued as if four requests arrived while another was writing
        writer._pending.append(Job(validated([event(f"q{number}-{n}") for n in range(2)]), f"s{number}"))
    result = writer.write(database, validated([event("last")]), "s-last")
    assert result.accepted == 1
    assert writer._pending == []
    assert totals(database) == (9, 9)


def test_the_warm_up_stores_nothing(database: Database) -> None:
    group_commit.warm_up(database)
    with database.sessions() as session:
        left = [session.scalar(select(func.count()).select_from(table)) for table in (UsageEvent, ImportRun, Account)]
    assert left == [0, 0, 0]
    assert totals(database) == (0, 0)


def test_a_warm_up_that_fails_is_logged_and_leaves_the_writer_to_its_requests(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = make_database(f"sqlite:///{tmp_path / 'no-tables.db'}")
    with caplog.at_level(logging.WARNING, logger="cs_health.ingestion.group_commit"):
        group_commit.warm_up(unmigrated)
    unmigrated.engine.dispose()
    assert "warm-up failed" in caplog.text
    assert "no such table" in caplog.text


def test_a_server_with_its_writer_in_process_warms_it_up_at_start_and_stores_nothing(database: Database) -> None:
    start_event_writer()  # the tests' setting: CS_HEALTH_INGEST_WRITER=thread
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 0
    assert totals(database) == (0, 0)
