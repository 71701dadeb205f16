"""Bulk event loads on SQLite through a scratch database: ADBC writes the events' Arrow columns into it from C
(Python's sqlite3 binds every value of every row from a Python object, which was a third of an import's time),
and one INSERT … SELECT moves them into the event table.

The import's own connection attaches the scratch file before its transaction begins (SQLite cannot attach inside
one), so the events, their rollups and the import record still commit or roll back together; the scratch file is
deleted afterwards whatever happened. Everything is staged before the transaction first reads the scratch file,
because from then on it reads a fixed snapshot of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sized
from contextlib import closing, contextmanager
from pathlib import Path

import adbc_driver_sqlite.dbapi
import numpy as np
import pyarrow as pa
from sqlalchemy.engine import make_url

from cs_health.db.engine import Database
from cs_health.ingestion.columns import arrow_table
from cs_health.processes import process_alive
from cs_health.progress import Progress

STAGE_PREFIX = ".cs-health-stage-"
STAGED_EVENTS = "event_stage.events"
STAGED_ROLLUP = "rollup_stage.rollup"


class EventStage:
    """The scratch files of one import, one for its events and one for their rollup (written while the events
    are being moved out of the first); `attachments` is what the import's transaction attaches."""

    def __init__(self, folder: Path, chunk_rows: int) -> None:
        self.folder = folder
        self.chunk_rows = chunk_rows

    @property
    def attachments(self) -> dict[str, Path]:
        return {table.split(".")[0]: self._file(table) for table in (STAGED_EVENTS, STAGED_ROLLUP)}

    def write_events(self, columns: Mapping[str, np.ndarray], order: np.ndarray, on_progress: Progress | None) -> None:
        """Stages the events' `columns` (name → one value per event, None where absent) in `order`, a chunk at a
        time, so that only one chunk exists twice (as taken from the columns and as written)."""
        table = arrow_table(columns)
        self._write(
            STAGED_EVENTS,
            (table.take(order[start : start + self.chunk_rows]) for start in self._starts(order)),
            len(order),
            on_progress,
        )

    def write_rollup(self, columns: Mapping[str, np.ndarray]) -> None:
        table = arrow_table(columns)
        self._write(
            STAGED_ROLLUP, (table.slice(start, self.chunk_rows) for start in self._starts(table)), len(table), None
        )

    def _starts(self, rows: Sized) -> range:
        return range(0, max(len(rows), 1), self.chunk_rows)

    def _file(self, table: str) -> Path:
        return self.folder / f"{table.split('.')[0]}.db"

    def _write(self, table: str, chunks: Iterable[pa.Table], total: int, on_progress: Progress | None) -> None:
        name = table.split(".")[1]
        with (
            adbc_driver_sqlite.dbapi.connect(str(self._file(table)), autocommit=True) as connection,
            closing(connection.cursor()) as cursor,
        ):
            for statement in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", f"DROP TABLE IF EXISTS {name}"):
                cursor.execute(statement)
            written = 0
            for chunk in chunks:
                cursor.adbc_ingest(name, chunk, mode="create_append")
                written += len(chunk)
                if on_progress:
                    on_progress(written, total)


@contextmanager
def event_stage(database: Database, kind: str, chunk_rows: int) -> Iterator[EventStage | None]:
    """A stage for an event import into a SQLite file, beside the database (the same disk, which has room for
    it); None for anything else, which binds its rows directly. Named after the importing process, so that a
    later import can tell the stage of one that was killed from one still running."""
    location = make_url(str(database.engine.url)).database
    if kind != "events" or database.dialect != "sqlite" or not location or location == ":memory:":
        yield None
        return
    folder = Path(location).parent
    remove_abandoned_stages(folder)
    with tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=folder) as stage:
        yield EventStage(Path(stage), chunk_rows)


def remove_abandoned_stages(folder: Path) -> None:
    """Removes the stages of imports whose process is gone: one killed outright (SIGKILL, the OOM killer, a power
    cut) could not remove its own."""
    for stage in folder.glob(f"{STAGE_PREFIX}*"):
        pid = stage.name.removeprefix(STAGE_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)
