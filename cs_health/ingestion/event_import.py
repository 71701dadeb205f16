"""A file of events imported in parts, in one transaction: while worker threads stage one part and store the one
before it (the database's work, which runs without the GIL), this thread validates and prepares the next
(Python's), so both cores work instead of validating the whole file first with the other one idle.

Parts are spans of the events' time, the event table's key order, so each part is written where the one before
left off (see plan_parts). An event's replays share its time and so its part, where the first in the file is the
one stored, as in a single batch. `--strict` and `--dry-run` judge the whole file before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from cs_health.db.base import naive_utc
from cs_health.db.engine import Database
from cs_health.ingestion import repository
from cs_health.ingestion.columns import EventColumns
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.event_store import (
    PreparedEvents,
    StagePart,
    collection_paused,
    prepare_events,
    write_events,
)
from cs_health.ingestion.readers import RawTable
from cs_health.ingestion.stage import MAX_PARTS, EventStage, event_stage, stages_events
from cs_health.ingestion.summary import ImportSummary, import_run, summarise
from cs_health.ingestion.validation import Validated, parse_timestamps, validate
from cs_health.progress import Progress


def import_events(
    database: Database,
    raw: RawTable,
    path: Path,
    *,
    now: dt.datetime,
    dry_run: bool,
    strict: bool,
    part_rows: int,
    on_progress: Progress | None,
) -> ImportSummary:
    """Imports the events read from `path` in parts of at least `part_rows` (at most MAX_PARTS of them) into a
    SQLite file. PostgreSQL takes the file in one part: its own processes already work beside this one while it
    copies, and parts there cost more than they overlap (2M events: 22.8 s in parts against 20.0 s in one)."""
    plan = plan_parts(raw, part_rows if stages_events(database) else len(raw.frame))
    parts: Iterable[Validated] = (
        validate(part, KINDS["events"], now=now, source=str(path)) for part in _split(raw, plan)
    )
    judged: ImportSummary | None = None
    if dry_run or strict:
        # A dry run keeps each part's verdict alone (peak memory of 2M events: 0.94 GB -> 0.72 GB); a strict import
        # keeps the parts it stores if all pass (validating them again would cost 15 % more time for 0.1 GB).
        parts = [_verdict(valid) if dry_run else valid for valid in parts]
        judged = summarise("events", path, parts, dry_run=dry_run, strict=strict)
        if not judged.stored:
            return judged
    started = naive_utc(dt.datetime.now(dt.UTC))
    with event_stage(database, len(plan.bounds)) as stage, database.transaction(stage and stage.attachments) as session:
        tally = _Tally(len(raw.frame), on_progress)
        validated = _store_parts(session, stage, parts, naive_utc(now), tally)
        summary = judged or summarise("events", path, validated, dry_run=False, strict=False)
        summary.accepted, summary.new, summary.duplicates = tally.new, tally.new, tally.duplicates
        repository.record_imports(session, [import_run(summary, started)])
        if on_progress:
            on_progress(tally.total, tally.total, "committing")
    return summary


def _verdict(valid: Validated) -> Validated:
    """A part's validation without its records: only their number, which `summarise` counts, and the rejects."""
    return replace(valid, frame=pd.DataFrame(index=pd.RangeIndex(len(valid.frame))))


@dataclass(frozen=True)
class PartPlan:
    """Which records go in which part: part k is `order[start:stop]` for its (start, stop) in `bounds` (records in
    file order when `order` is None)."""

    order: np.ndarray | None
    bounds: list[tuple[int, int]]


def plan_parts(raw: RawTable, part_rows: int) -> PartPlan:
    """Parts of at least `part_rows` records (more where the file would need over MAX_PARTS) that follow the
    events' time: each part's events are later than the part's before, so that each part is written where the one
    before left off in the event table, clustered by time, instead of all over it (a file in no particular order
    made the later parts' inserts cost twice as much). Within a part, records keep their file order: the part is
    put in time order as it is written. Events of one time share a part, so of an event's replays the first in
    the file is still the one stored; records whose time does not parse (rejected by validation) come last."""
    total = len(raw.frame)
    size = max(part_rows, math.ceil(total / MAX_PARTS), 1)
    if total <= size or "timestamp" not in raw.frame.columns:  # without timestamps, validation says so
        return PartPlan(None, [(0, total)])
    micros = parse_timestamps(raw.frame["timestamp"]).view(np.int64)
    micros = np.where(micros == np.iinfo(np.int64).min, np.iinfo(np.int64).max, micros)  # NaT last
    starts = np.arange(size, total, size)
    boundaries = np.partition(micros, starts)[starts]
    part = np.searchsorted(boundaries, micros, side="right").astype(np.int16)
    # A stable sort of small integers is a radix sort: each part's records in file order, in one pass.
    order = np.argsort(part, kind="stable")
    stops = np.cumsum(np.bincount(part, minlength=len(starts) + 1))
    bounds = [(int(start), int(stop)) for start, stop in zip([0, *stops[:-1]], stops, strict=True) if stop > start]
    return PartPlan(order, bounds)


def _split(raw: RawTable, plan: PartPlan) -> Iterator[RawTable]:
    """The parts' records, each gathered as it is validated (gathering the whole file first cost a second before
    anything could be written). Rejects keep their file locations."""
    for number, (start, stop) in enumerate(plan.bounds):
        rows = slice(start, stop) if plan.order is None else plan.order[start:stop]
        frame = raw.frame.iloc[rows] if plan.order is None else raw.frame.take(rows)
        rejects = raw.rejects if number == 0 else []  # the reader's own rejects (malformed lines), reported once
        yield RawTable(frame, raw.locations[rows], raw.location_label, rejects)


@dataclass
class _Tally:
    """Events stored so far, reported as progress."""

    total: int
    on_progress: Progress | None
    new: int = 0
    duplicates: int = 0
    done: int = 0

    def add(self, written: Future[tuple[int, int]], records: int) -> None:
        new, duplicates = written.result()
        self.new, self.duplicates, self.done = self.new + new, self.duplicates + duplicates, self.done + records
        if self.on_progress:
            self.on_progress(self.done, self.total)


def _store_parts(
    session: Session, stage: EventStage | None, parts: Iterable[Validated], received_at: dt.datetime, tally: _Tally
) -> list[Validated]:
    """Writes the parts in order, each staged by one worker thread and then stored by another (ADBC and SQLite
    run without the GIL), while this thread validates and prepares the parts after it (pulling `parts` validates
    the next); returns the parts' validation results, without their records. At most two parts wait for the
    writer, so memory holds a few parts beyond the file itself."""
    validated: list[Validated] = []
    writes: deque[tuple[Future[tuple[int, int]], int]] = deque()
    with (
        collection_paused(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="cs-health-stage") as stager,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="cs-health-import") as writer,
    ):
        try:
            for number, valid in enumerate(parts):
                prepared = prepare_events(EventColumns.from_frame(valid.frame))
                validated.append(_verdict(valid))
                part = StagePart(stage, number) if stage else None
                staged = stager.submit(_stage, stage, number, prepared) if stage and len(prepared.events) else None
                written = writer.submit(_write_when_staged, staged, session, prepared, received_at, part)
                writes.append((written, len(valid.frame)))
                while len(writes) > 2:
                    tally.add(*writes.popleft())
            while writes:
                tally.add(*writes.popleft())
        except BaseException:  # the parts still queued would only be rolled back: they are dropped, not written
            for pool in (stager, writer):
                pool.shutdown(cancel_futures=True)
            raise
    return validated


def _stage(stage: EventStage, number: int, prepared: PreparedEvents) -> None:
    stage.write(number, *prepared.staged())


def _write_when_staged(
    staged: Future[None] | None,
    session: Session,
    prepared: PreparedEvents,
    received_at: dt.datetime,
    part: StagePart | None,
) -> tuple[int, int]:
    if staged is not None:
        staged.result()
    return write_events(session, prepared, received_at, part)
