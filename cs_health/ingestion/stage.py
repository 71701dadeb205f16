"""Bulk event loads on SQLite through scratch databases: ADBC writes the events' Arrow columns into them from C
(Python's sqlite3 binds every value of every row from a Python object, which was a third of an import's time),
and one INSERT … SELECT moves them into the event table.

An import goes in parts (see ingestion.event_import): each part has a scratch file of its own, holding its events and
their rollup, written while the part before it is being stored. The import's own connection attaches every part's
file before its transaction begins (SQLite cannot attach inside one), so the events, their rollups and the import
record still commit or roll back together; the files are deleted afterwards whatever happened. A part is written
before the transaction first reads its file, because from then on it reads a fixed snapshot of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import adbc_driver_sqlite.dbapi
import pyarrow as pa
from sqlalchemy.engine import make_url

from cs_health.db.engine import Database
from cs_health.ingestion.rollup import SQLITE_ROLLUP_TABLE
from cs_health.processes import process_alive

STAGE_PREFIX = ".cs-health-stage-"
# SQLite attaches at most ten databases to a connection unless built otherwise.
MAX_PARTS = 8


class EventStage:
    """The scratch files of one import, one per part; `attachments` is what the import's transaction attaches."""

    def __init__(self, folder: Path, parts: int) -> None:
        if not 1 <= parts <= MAX_PARTS:
            raise ValueError(f"an import stages 1 to {MAX_PARTS} parts, not {parts}")
        self.folder = folder
        self.parts = parts

    @property
    def attachments(self) -> dict[str, Path]:
        return {self.schema(part): self.folder / f"{self.schema(part)}.db" for part in range(self.parts)}

    @staticmethod
    def schema(part: int) -> str:
        return f"stage_{part}"

    def events(self, part: int) -> str:
        return f"{self.schema(part)}.events"

    def rollup(self, part: int) -> str:
        return f"{self.schema(part)}.rollup"

    def write(self, part: int, events: pa.Table, rollup: pa.Table) -> None:
        """Stages a part's events (in the order they are to be inserted) and its rollup."""
        with (
            adbc_driver_sqlite.dbapi.connect(str(self.attachments[self.schema(part)]), autocommit=True) as connection,
            closing(connection.cursor()) as cursor,
        ):
            for statement in (
                "PRAGMA journal_mode=OFF",
                "PRAGMA synchronous=OFF",
                f"CREATE TABLE rollup {SQLITE_ROLLUP_TABLE}",
            ):
                cursor.execute(statement)
            cursor.adbc_ingest("events", events, mode="create")
            cursor.adbc_ingest("rollup", rollup, mode="append")


def stages_events(database: Database) -> bool:
    """Whether event imports go through a stage: into a SQLite file (not an in-memory database)."""
    location = make_url(str(database.engine.url)).database
    return database.dialect == "sqlite" and bool(location) and location != ":memory:"


@contextmanager
def event_stage(database: Database, parts: int) -> Iterator[EventStage | None]:
    """A stage of `parts` parts for an event import into a SQLite file, beside the database (the same disk, which
    has room for it); None for anything else, which binds its rows directly. Named after the importing process, so
    that a later import can tell the stage of one that was killed from one still running."""
    if not stages_events(database):
        yield None
        return
    folder = Path(make_url(str(database.engine.url)).database or "").parent
    remove_abandoned_stages(folder)
    with tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=folder) as stage:
        yield EventStage(Path(stage), parts)


def remove_abandoned_stages(folder: Path) -> None:
    """Removes the stages of imports whose process is gone: one killed outright (SIGKILL, the OOM killer, a power
    cut) could not remove its own."""
    for stage in folder.glob(f"{STAGE_PREFIX}*"):
        pid = stage.name.removeprefix(STAGE_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)
