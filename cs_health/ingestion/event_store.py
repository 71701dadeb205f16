"""The event store every path shares (files, the native API, Segment): deduplicated events in, their rollups
kept exact, in the caller's transaction.

Storing is split in two so that a file import can overlap them: preparing (keys, time order, rollup) is Python
and numpy work; staging and writing are Arrow's and the database's, which run without the GIL.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlalchemy.orm import Session

from cs_health.ingestion import repository
from cs_health.ingestion.columns import EventColumns, Text, arrow_table, present
from cs_health.ingestion.keys import event_identities, event_keys
from cs_health.ingestion.rollup import incoming_rollup
from cs_health.ingestion.stage import EventStage


@dataclass(frozen=True)
class PreparedEvents:
    """A batch ready to write: its events without in-batch replays, their table columns, the order to write them
    in, and their rollup."""

    events: EventColumns
    columns: dict[str, Text]
    order: np.ndarray
    rollup: dict[str, Text]
    replays: int

    def staged(self) -> tuple[pa.Table, pa.Table]:
        """The events in write order and their rollup as Arrow tables, for a stage. A file's text is Arrow
        already, so this is Arrow's work in C, without the GIL: the stager's thread does it."""
        return arrow_table(self.columns).take(self.order), arrow_table(self.rollup)


@dataclass(frozen=True)
class StagePart:
    """Where a prepared part of a file import is staged: part `number` of `stage`."""

    stage: EventStage
    number: int


def prepare_events(events: EventColumns) -> PreparedEvents:
    """Keys, in-batch replays dropped, time order and rollup of a batch."""
    keys, micros = event_keys(events), events.micros
    replays = _replays(event_identities(keys, micros))
    if replays.any():
        events, keys, micros = events.take(~replays), keys[~replays], micros[~replays]
    # Events stay in arrival order, where each column's values lie in memory in sequence, and are only written
    # in time order, the table's key order; taking them in that order first costs cache misses.
    order = np.argsort(micros, kind="stable")
    return PreparedEvents(events, _database_columns(events, keys), order, incoming_rollup(events), int(replays.sum()))


def store_events(session: Session, events: EventColumns, received_at: dt.datetime) -> tuple[int, int]:
    """Stores typed events, deduplicated, and rolls up the new ones; returns (new, duplicates)."""
    return write_events(session, prepare_events(events), received_at)


def write_events(
    session: Session, prepared: PreparedEvents, received_at: dt.datetime, part: StagePart | None = None
) -> tuple[int, int]:
    """Writes a prepared batch in the session's transaction, from its stage `part` when it has one (a file import
    into SQLite, which staged it already); returns (new, duplicates). The rollup prepared with the events serves
    as it is when every event turns out new; otherwise the new ones are rolled up again."""
    events = prepared.events
    total = len(events) + prepared.replays
    if not len(events):
        return 0, total
    repository.prepare_event_store(session)
    with collection_paused():
        if part is None:
            stored = _insert_exactly(
                session,
                prepared.columns,
                lambda: repository.insert_events(session, prepared.columns, prepared.order, received_at),
            )
        else:
            names, source = list(prepared.columns), part.stage.events(part.number)
            stored = _insert_exactly(
                session,
                prepared.columns,
                lambda: repository.insert_staged_events(session, names, received_at, source),
            )
        if stored.all():
            rollup_source = part.stage.rollup(part.number) if part else None
            rollup = prepared.rollup
        else:  # some were stored before: roll up exactly the ones stored now
            events, rollup_source = events.take(stored), None
            rollup = incoming_rollup(events)
        if len(events):
            repository.merge_rollup(session, rollup_source or repository.stage_rollup(session, rollup), received_at)
    return len(events), total - len(events)


def _database_columns(events: EventColumns, keys: np.ndarray) -> dict[str, Text]:
    """The event table's columns of `events` (properties only when some event has them)."""
    columns: dict[str, Text] = {"event_key": keys}
    columns |= {name: events.column(name) for name in repository.EVENT_COLUMNS[1:]}
    if not present(columns["properties"]).any():
        del columns["properties"]
    return columns


def _replays(identities: np.ndarray) -> np.ndarray:
    """Where an event repeats an event before it in the batch (same key, same time): such a replay is a
    duplicate, as it would be in a later batch."""
    order = np.argsort(identities, kind="stable")
    repeated = np.zeros(len(identities), dtype=bool)
    repeated[order[1:]] = identities[order[1:]] == identities[order[:-1]]
    return repeated


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
