"""Bulk event loads on SQLite through a scratch database: ADBC writes the events' Arrow columns into it from C
(Python's sqlite3 binds every value of every row from a Python object, which was a third of an import's time),
and one INSERT … SELECT moves them into the event table.

The import's own connection attaches the scratch file before its transaction begins (SQLite cannot attach inside
one), so the events, their rollups and the import record still commit or roll back together; the scratch file is
deleted afterwards whatever happened. Everything is staged before the transaction first reads the scratch file,
because from then on it reads a fixed snapshot of it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import adbc_driver_sqlite.dbapi
import numpy as np
import pyarrow as pa
from sqlalchemy.engine import make_url

from cs_health.db.engine import Database

STAGE_SCHEMA = "event_stage"
STAGED_EVENTS = f"{STAGE_SCHEMA}.events"
_TYPES = {"event_key": pa.int64(), "quantity": pa.float64()}

Progress = Callable[[int, int], None]


class EventStage:
    """The scratch file of one import; `attachments` is what the import's transaction attaches."""

    def __init__(self, folder: Path, chunk_rows: int) -> None:
        self.path = folder / "events.db"
        self.chunk_rows = chunk_rows

    @property
    def attachments(self) -> dict[str, Path]:
        return {STAGE_SCHEMA: self.path}

    def write(self, columns: dict[str, np.ndarray], order: np.ndarray, on_progress: Progress | None = None) -> None:
        """Replaces the staged events with `columns` (name → one value per event, None where absent) in `order`."""
        arrays = {name: pa.array(values, type=_TYPES.get(name, pa.string())) for name, values in columns.items()}
        table = pa.table(arrays).take(order)
        with (
            adbc_driver_sqlite.dbapi.connect(str(self.path), autocommit=True) as connection,
            closing(connection.cursor()) as cursor,
        ):
            for pragma in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "DROP TABLE IF EXISTS events"):
                cursor.execute(pragma)
            for start in range(0, max(len(table), 1), self.chunk_rows):
                cursor.adbc_ingest("events", table.slice(start, self.chunk_rows), mode="create_append")
                if on_progress:
                    on_progress(min(start + self.chunk_rows, len(table)), len(table))


@contextmanager
def event_stage(database: Database, kind: str, chunk_rows: int) -> Iterator[EventStage | None]:
    """A stage for an event import into a SQLite file, beside the database (the same disk, which has room for
    it); None for anything else, which binds its rows directly."""
    location = make_url(str(database.engine.url)).database
    if kind != "events" or database.dialect != "sqlite" or not location or location == ":memory:":
        yield None
        return
    with tempfile.TemporaryDirectory(prefix=".cs-health-stage-", dir=Path(location).parent) as folder:
        yield EventStage(Path(folder), chunk_rows)
