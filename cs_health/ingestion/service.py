"""Importing a file (read, validate, write the good records in one transaction, report the bad ones; events go
through ingestion.event_import) and storing the HTTP APIs' batches of events (through ingestion.event_store).

Re-importing a file changes nothing: records upsert by their id and events deduplicate by their key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table
from sqlalchemy.orm import Session

from cs_health.db.base import naive_utc
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
from cs_health.ingestion.event_import import import_events
from cs_health.ingestion.event_store import store_events
from cs_health.ingestion.items import EventBatch
from cs_health.ingestion.keys import record_id
from cs_health.ingestion.readers import read_table
from cs_health.ingestion.schemas import BatchResult, ItemError
from cs_health.ingestion.summary import ImportSummary, import_run, summarise
from cs_health.ingestion.validation import Validated, validate
from cs_health.progress import Progress

__all__ = ["ImportSummary", "import_file", "ingest_event_batches", "naive_utc", "store_events"]


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


def import_file(
    database: Database,
    kind: str,
    path: Path,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    strict: bool = False,
    chunk_rows: int = 50_000,
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Imports one file of `kind`; the whole file is one transaction, so a crash leaves nothing half-written.
    Events go in parts of `chunk_rows` (see ingestion.event_import)."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    raw = read_table(path)
    if kind == "events":
        return import_events(
            database, raw, path, now=now, dry_run=dry_run, strict=strict, part_rows=chunk_rows, on_progress=on_progress
        )
    with database.transaction() as session:
        known = repository.known_account_ids(session) if spec.account_must_exist else None
        valid = validate(raw, spec, now=now, known_accounts=known, source=str(path))
        del raw  # the file's text, no longer needed while the records are stored
        summary = summarise(kind, path, [valid], dry_run=dry_run, strict=strict)
        if not summary.stored:
            return summary
        started = naive_utc(dt.datetime.now(dt.UTC))
        _store_records(session, kind, valid, now, summary)
        repository.record_imports(session, [import_run(summary, started)])
        if on_progress:
            on_progress(len(valid.frame), len(valid.frame))
            on_progress(len(valid.frame), len(valid.frame), "committing")
    return summary


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
