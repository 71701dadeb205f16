"""Importing a file (read, validate, write the good records in one transaction, report the bad ones) and the
event store every path shares (files, the native API, Segment).

Re-importing a file changes nothing: records upsert by their id and events deduplicate by their key.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table
from sqlalchemy.orm import Session

from cs_health.db.engine import Database
from cs_health.db.tables import (
    Account,
    Contact,
    ImportRun,
    NpsResponse,
    Subscription,
    Ticket,
    Touchpoint,
    Training,
)
from cs_health.exceptions import InvalidInput
from cs_health.ingestion import repository
from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.items import EventBatch
from cs_health.ingestion.keys import event_identities, event_keys, record_id, timestamp_micros
from cs_health.ingestion.readers import read_table
from cs_health.ingestion.rejects import Reject, rejects_path, write_rejects
from cs_health.ingestion.rollup import incoming_rollup
from cs_health.ingestion.schemas import BatchResult, ItemError
from cs_health.ingestion.stage import STAGED_ROLLUP, EventStage, event_stage
from cs_health.ingestion.validation import Validated, validate
from cs_health.progress import Progress


@dataclass(frozen=True)
class Target:
    """Where a kind is stored: its table, its key, and the columns written whatever the input carried."""

    table: Table
    key: tuple[str, ...]
    always: tuple[str, ...] = ()


TARGETS: dict[str, Target] = {
    "accounts": Target(Account.__table__, ("account_id",), ("updated_at", "source")),
    "users": Target(Contact.__table__, ("user_id",), ("account_id",)),
    "subscriptions": Target(Subscription.__table__, ("subscription_id",), ("mrr", "arr", "status")),
    "tickets": Target(Ticket.__table__, ("ticket_id",), ("priority",)),
    "nps": Target(NpsResponse.__table__, ("response_id",), ("response_id",)),
    "touchpoints": Target(Touchpoint.__table__, ("touchpoint_id",), ("touchpoint_id",)),
    "trainings": Target(Training.__table__, ("training_id",)),
}


@dataclass
class ImportSummary:
    kind: str
    source: str
    location_label: str
    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_file: Path | None = None
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    refused_by_strict: bool = False

    @property
    def stored(self) -> bool:
        return not self.dry_run and not self.refused_by_strict


def import_file(
    database: Database,
    kind: str,
    path: Path,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    strict: bool = False,
    chunk_rows: int = 250_000,
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Imports one file of `kind`; the whole file is one transaction, so a crash leaves nothing half-written."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    raw = read_table(path)
    with event_stage(database, kind, chunk_rows) as stage, database.transaction(stage and stage.attachments) as session:
        known = repository.known_account_ids(session) if spec.account_must_exist else None
        valid = validate(raw, spec, now=now, known_accounts=known, source=str(path))
        del raw  # the file's text, no longer needed while the records are stored
        summary = ImportSummary(
            kind,
            str(path),
            valid.location_label,
            rejected=valid.rejected_records,
            rejects=valid.rejects,
            ignored_columns=valid.ignored_columns,
            dry_run=dry_run,
        )
        if valid.rejects:
            summary.rejects_file = rejects_path(path)
            write_rejects(valid.rejects, summary.rejects_file, valid.location_label)
        summary.refused_by_strict = strict and summary.rejected > 0
        if not summary.stored:
            summary.accepted = len(valid.frame)
            return summary
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if kind == "events":
            _store_events(session, valid.frame, now, stage, summary, on_progress)
        else:
            _store_records(session, kind, valid, now, summary)
            if on_progress:
                on_progress(len(valid.frame), len(valid.frame))
        repository.record_imports(
            session,
            [
                ImportRun(
                    kind=kind,
                    source=path.name,
                    accepted=summary.accepted,
                    duplicates=summary.duplicates,
                    rejected=summary.rejected,
                    started_at=started,
                    finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                )
            ],
        )
        if on_progress:
            on_progress(len(valid.frame), len(valid.frame), "committing")
    return summary


def _database_columns(events: EventColumns, keys: np.ndarray) -> dict[str, np.ndarray]:
    """The event table's columns of `events` (properties only when some event has them)."""
    columns = {"event_key": keys} | {name: events.column(name) for name in repository.EVENT_COLUMNS[1:]}
    if not any(columns["properties"]):
        del columns["properties"]
    return columns


def _replays(identities: np.ndarray) -> np.ndarray:
    """Where an event repeats an event before it in the batch (same key, same time): such a replay is a
    duplicate, as it would be in a later batch."""
    order = np.argsort(identities, kind="stable")
    repeated = np.zeros(len(identities), dtype=bool)
    repeated[order[1:]] = identities[order[1:]] == identities[order[:-1]]
    return repeated


def store_event_frame(
    session: Session,
    events: pd.DataFrame,
    received_at: dt.datetime,
    stage: EventStage | None = None,
    on_progress: Progress | None = None,
) -> tuple[int, int]:
    """Stores a validated frame of events (file imports); see store_events."""
    return store_events(session, EventColumns.from_frame(events), received_at, stage, on_progress)


def store_events(
    session: Session,
    events: EventColumns,
    received_at: dt.datetime,
    stage: EventStage | None = None,
    on_progress: Progress | None = None,
) -> tuple[int, int]:
    """Stores typed events, deduplicated, and rolls up the new ones; returns (new, duplicates). Shared by file
    imports (which pass their attached `stage` on SQLite) and the HTTP APIs; runs in the caller's transaction."""
    total = len(events)
    if not total:
        return 0, 0
    keys, micros = event_keys(events), timestamp_micros(events.timestamp)
    replays = _replays(event_identities(keys, micros))
    if replays.any():
        events, keys, micros = events.take(~replays), keys[~replays], micros[~replays]
    # Events stay in arrival order, where each column's values lie in memory in sequence, and are only written
    # in time order, the table's key order; taking them in that order first costs cache misses.
    order = np.argsort(micros, kind="stable")
    columns = _database_columns(events, keys)
    staged_rollup = None
    if stage is None:
        repository.prepare_event_store(session)
        with collection_paused():
            stored = _insert_exactly(
                session, columns, lambda: repository.insert_events(session, columns, order, received_at)
            )
        if on_progress:
            on_progress(len(events), len(events))
    else:
        stored, staged_rollup = _store_through(stage, session, events, columns, order, received_at, on_progress)
    if not stored.all():  # some were stored before: roll up exactly the ones stored now
        events, staged_rollup = events.take(stored), None
    if len(events):
        if on_progress:
            on_progress(total, total, "rolling up")
        with collection_paused():
            source = staged_rollup or repository.stage_rollup(session, incoming_rollup(events))
            repository.merge_rollup(session, source, received_at)
    return len(events), total - len(events)


def _insert_exactly(session: Session, columns: dict[str, np.ndarray], insert: Callable[[], int]) -> np.ndarray:
    """Runs `insert`, which stores the events not stored yet and says how many, and returns which ones it
    stored. All or none being new (the count tells) is the rule; for a mix, which ones were stored before is
    looked up with the insert undone (a savepoint), then the insert runs again."""
    total = len(columns["event_key"])
    savepoint = session.begin_nested()
    new = insert()
    if new in (0, total):
        savepoint.commit()
        return np.full(total, new == total)
    savepoint.rollback()
    fresh = ~repository.stored_among(session, columns["timestamp"], columns["event_key"])
    if insert() != fresh.sum():
        raise RuntimeError("events were stored by another writer while this store held ingestion's lock")
    return fresh


def _store_through(
    stage: EventStage,
    session: Session,
    events: EventColumns,
    columns: dict[str, np.ndarray],
    order: np.ndarray,
    received_at: dt.datetime,
    on_progress: Progress | None,
) -> tuple[np.ndarray, str]:
    """Stores the events through the stage in a worker thread (ADBC and SQLite run without the GIL) while this
    thread rolls them up and stages the rollup, which serves as it is when every event turns out new. Returns
    which events were stored (see _insert_exactly) and the staged rollup's table. The session is the worker's
    alone until it is done."""

    def store() -> np.ndarray:
        stage.write_events(columns, order, on_progress)
        if on_progress:
            on_progress(len(events), len(events), "storing")
        repository.prepare_event_store(session)
        names = list(columns)
        return _insert_exactly(session, columns, lambda: repository.insert_staged_events(session, names, received_at))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cs-health-stage") as pool:
        stored = pool.submit(store)
        stage.write_rollup(incoming_rollup(events))
        return stored.result(), STAGED_ROLLUP


def ingest_event_batches(
    session: Session, batches: Sequence[EventBatch], *, now: dt.datetime, sources: Sequence[str]
) -> list[BatchResult]:
    """Several requests' validated batches stored in one go, answered one result per batch as if each had been
    alone, in order: an event repeated in a later batch is that batch's duplicate."""
    new_per_batch = _store_batches(session, [batch.events for batch in batches], naive_utc(now))
    results, runs = [], []
    for batch, source, new in zip(batches, sources, new_per_batch, strict=True):
        good = len(batch.events)
        runs.append(event_run(source, new, good - new, batch.size - good, now))
        errors = [ItemError.of(reject) for reject in batch.rejects]
        results.append(BatchResult(accepted=new, duplicates=good - new, rejected=batch.size - good, errors=errors))
    repository.record_imports(session, runs)
    return results


def _store_batches(session: Session, batches: Sequence[EventColumns], received_at: dt.datetime) -> list[int]:
    """New events per batch. All batches are stored in one go inside a savepoint; when some events turn out to
    be replays, which batch they belong to matters, so the savepoint is undone and the batches are stored one
    after the other (replays are rare, so the common case pays for one store)."""
    if len(batches) == 1:
        return [store_events(session, batches[0], received_at)[0]]
    session.connection()  # the transaction itself begins first, the savepoint inside it
    savepoint = session.begin_nested()
    events = EventColumns.concat(batches)
    new, _ = store_events(session, events, received_at)
    if new == len(events):
        savepoint.commit()
        return [len(batch) for batch in batches]
    savepoint.rollback()
    return [store_events(session, batch, received_at)[0] for batch in batches]


def event_run(source: str, new: int, duplicates: int, rejected: int, now: dt.datetime) -> ImportRun:
    """The import-run line of one HTTP batch (what `cs-health status` and the API report as recent imports)."""
    return ImportRun(
        kind="events",
        source=source,
        accepted=new,
        duplicates=duplicates,
        rejected=rejected,
        started_at=naive_utc(now),
        finished_at=naive_utc(dt.datetime.now(dt.UTC)),
    )


def naive_utc(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


@contextmanager
def collection_paused() -> Iterator[None]:
    """Millions of fresh tuples otherwise trigger garbage collections that find no cycles and cost seconds."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _store_events(
    session: Session,
    frame: pd.DataFrame,
    now: dt.datetime,
    stage: EventStage | None,
    summary: ImportSummary,
    on_progress: Progress | None,
) -> None:
    summary.new, summary.duplicates = store_event_frame(session, frame, now.replace(tzinfo=None), stage, on_progress)
    summary.accepted = summary.new


def _store_records(session: Session, kind: str, valid: Validated, now: dt.datetime, summary: ImportSummary) -> None:
    target = TARGETS[kind]
    frame = _with_derived_columns(kind, valid.frame, now)
    columns = [name for name in frame.columns if name in target.table.c]
    rows = _plain_rows(frame[columns], target.table)
    key = target.key[0]
    existing = repository.existing_keys(session, target.table, key, (row[key] for row in rows))
    update = [*valid.present_columns, *target.always]
    repository.upsert(session, target.table, rows, target.key, [name for name in update if name in columns])
    summary.accepted = len(rows)
    summary.new = sum(row[key] not in existing for row in rows)


def _with_derived_columns(kind: str, frame: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    frame = frame.copy()
    if kind == "accounts":
        frame["tags"] = frame["tags"].map(lambda tags: tags or [])
        frame["updated_at"] = now.replace(tzinfo=None)
        frame["source"] = "import"
    elif kind == "nps":
        frame["response_id"] = [
            record_id(*row) for row in zip(frame["account_id"], frame["responded_at"], frame["user_id"], strict=True)
        ]
    elif kind == "touchpoints":
        frame["touchpoint_id"] = [
            record_id(*row) for row in zip(frame["account_id"], frame["at"], frame["kind"], strict=True)
        ]
    elif kind == "trainings":
        frame["features"] = frame["features"].map(lambda features: features or [])
    return frame


def _plain_rows(frame: pd.DataFrame, table: Table) -> list[dict[str, Any]]:
    """Python values the DB-API understands: dates for Date columns, None for every kind of missing."""
    converted: dict[str, list[Any]] = {}
    for name in frame.columns:
        series = frame[name]
        python_type = _python_type(table, name)
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            values = [None if pd.isna(item) else item.to_pydatetime() for item in series]
            if python_type is dt.date:
                values = [None if item is None else item.date() for item in values]
        elif python_type is int:
            values = [None if pd.isna(item) else int(item) for item in series]
        elif python_type is float:
            values = [None if pd.isna(item) else float(item) for item in series]
        else:
            values = [None if _scalar_missing(item) else item for item in series]
        converted[name] = values
    return [dict(zip(converted, row, strict=True)) for row in zip(*converted.values(), strict=True)]


def _python_type(table: Table, name: str) -> type | None:
    try:
        return table.c[name].type.python_type
    except NotImplementedError:
        return None


def _scalar_missing(item: Any) -> bool:
    return item is None or item is pd.NA or (isinstance(item, float) and np.isnan(item))
