"""Group commit for `POST /api/v1/events`: the batches waiting at one moment are stored in one transaction.

Requests validate their own batch before they queue, so parsing and validating the next requests overlap the
current group's database time. Idle, a batch is written alone at once; busy, a transaction's fixed costs
(statements, rollup merge, commit) are paid once per group instead of once per request. A request is answered
only after its group committed. If a group fails, its batches are retried one by one, so a failing request fails
alone and leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from cs_health.auth.dependencies import write_transaction
from cs_health.db.engine import Database
from cs_health.ingestion import service
from cs_health.ingestion.items import EventBatch, validate_items
from cs_health.ingestion.schemas import BatchResult

log = logging.getLogger(__name__)

MAX_GROUP_EVENTS = 20_000
WARM_UP_ACCOUNT = "cs-health-warm-up"


@dataclass
class Job:
    """One request's batch and, once its group ran, its answer or its error."""

    batch: EventBatch
    source: str
    result: BatchResult | None = None
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


def take_group(pending: list[Job], max_events: int = MAX_GROUP_EVENTS) -> list[Job]:
    """Removes and returns the oldest waiting jobs, at least one, together at most `max_events` events."""
    taken, size = [], 0
    while pending and (not taken or size + pending[0].batch.size <= max_events):
        job = pending.pop(0)
        taken.append(job)
        size += job.batch.size
    return taken


def run_group(database: Database, jobs: list[Job]) -> None:
    """Stores the jobs' batches in one transaction and gives each job its answer; if that fails, each batch
    again in a transaction of its own, so only the failing ones get the error."""
    try:
        with write_transaction(database) as session:
            now = dt.datetime.now(dt.UTC)
            batches, sources = [job.batch for job in jobs], [job.source for job in jobs]
            results = service.ingest_event_batches(session, batches, now=now, sources=sources)
    except Exception as error:
        if len(jobs) == 1:
            jobs[0].error = error
            return
        for job in jobs:
            run_group(database, [job])
        return
    for job, result in zip(jobs, results, strict=True):
        job.result = result


class _WarmedUp(Exception):
    """Ends the warm-up's transaction by rolling it back."""


def warm_up(database: Database) -> None:
    """Stores a one-event batch and rolls it back. A writer's first group otherwise pays for its connection, its
    statements' compilation and code loaded on first use: 20 ms more, paid by the first requests of every start.
    A failure is only logged: the first real group will meet it and answer with it."""
    now = dt.datetime.now(dt.UTC)
    moment = (now - dt.timedelta(minutes=1)).isoformat()
    sample = {"account_id": WARM_UP_ACCOUNT, "event": "warm_up", "timestamp": moment}
    try:
        with write_transaction(database) as session:
            service.ingest_event_batches(session, [validate_items([sample], now)], now=now, sources=["warm-up"])
            raise _WarmedUp
    except _WarmedUp:
        pass
    except Exception:
        log.warning("the event writer's warm-up failed", exc_info=True)


class EventWriter:
    """Group commit inside the server process: whichever request thread gets the writer's lock stores every batch
    waiting at that moment, and each request gets its own answer. SQLite sees one writer per process instead of
    threads racing for its lock."""

    def __init__(self, max_group_events: int = MAX_GROUP_EVENTS) -> None:
        self.max_group_events = max_group_events
        self._writer = threading.Lock()
        self._queue = threading.Lock()
        self._pending: list[Job] = []

    def write(self, database: Database, batch: EventBatch, source: str) -> BatchResult:
        job = Job(batch, source)
        with self._queue:
            self._pending.append(job)
        while not job.done:
            with self._writer:
                if not job.done:
                    with self._queue:
                        group = take_group(self._pending, self.max_group_events)
                    run_group(database, group)
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result
