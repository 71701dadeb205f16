"""Set-based reads straight into pandas: the statement runs on the driver's cursor, skipping SQLAlchemy's
per-row type processing (ten times slower on hundreds of thousands of rows); dates are parsed vectorised.

Large reads of an SQLite file can go through the ADBC SQLite driver instead, which hands over Arrow columns
without a Python object per value: three to seven times faster on millions of rows (the usage rollups the
nightly run reads). It runs in a child process (never in this one: see cs_health/db/arrow_export.py) that hands
the columns back as an Arrow file, on a connection of its own, so it is used only while this session has written
nothing in its transaction; otherwise the read stays on the session's connection and sees its own writes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import ColumnElement, Connection, Select, func, select
from sqlalchemy.orm import Session

from models.workers import process_pool

try:
    from cs_health.db import arrow_export
except ImportError:  # pragma: no cover - the dependency is declared; a trimmed install still reads correctly
    arrow_export = None  # type: ignore[assignment]

PendingFrame = Callable[[], pd.DataFrame]
READERS = 4


def read_frame(
    session: Session, statement: Select[Any], datetimes: Iterable[str] = (), *, columnar: bool = False
) -> pd.DataFrame:
    """The rows of `statement` as a frame; `datetimes` columns become datetime64 (SQLite keeps them as text).

    `columnar=True` asks for the ADBC path on SQLite (see the module docstring); its columns must each hold one
    type (no NULLs mixed into numbers), as the rollup tables do.
    """
    return start_frame(session, statement, datetimes, columnar=columnar)()


def start_frame(
    session: Session,
    statement: Select[Any],
    datetimes: Iterable[str] = (),
    *,
    columnar: bool = False,
    sum_by: Sequence[str] = (),
) -> PendingFrame:
    """read_frame, begun now and finished by calling what it returns. A columnar read runs in a child process
    meanwhile, so a caller overlaps several large reads (the machine's other cores) with its own work.
    `sum_by` (columnar reads only) sums the last column per distinct values of those columns in the child."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    parameters: Any = compiled.params
    if connection.dialect.paramstyle == "qmark":
        parameters = tuple(parameters[name] for name in compiled.positiontup or ())
    datetimes = list(datetimes)
    path = _columnar_path(connection) if columnar else None
    if path is not None:
        values = [_sqlite_value(value) for value in parameters]
        return _start_columnar(path, str(compiled), values, datetimes, sum_by)
    driver = connection.connection.driver_connection
    with closing(driver.cursor()) as cursor:
        cursor.execute(str(compiled), parameters)
        columns = [description[0] for description in cursor.description]
        frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    parse_datetimes(frame, datetimes)
    return lambda: frame


def parse_datetimes(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """`columns` (ISO text, or already datetimes) as datetime64, in place; an empty frame gets the dtype too."""
    for column in columns:
        frame[column] = (
            pd.to_datetime(frame[column], format="ISO8601") if len(frame) else frame[column].astype("datetime64[us]")
        )
    return frame


def read_summed(
    session: Session,
    keys: Sequence[ColumnElement[Any]],
    value: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    datetimes: Iterable[str] = (),
) -> pd.DataFrame:
    """`value` summed per distinct `keys` over the rows matching `where`, sorted by the keys.

    SQLite's GROUP BY over the rollup tables sorts every row in a temporary B-tree, four times slower than
    reading them all column-wise and summing them in Arrow (in the reader process), so that is done wherever the
    columnar read may run; elsewhere (PostgreSQL, or a session that has written) the database groups.
    """
    return start_summed(session, keys, value, where, datetimes)()


def start_summed(
    session: Session,
    keys: Sequence[ColumnElement[Any]],
    value: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    datetimes: Iterable[str] = (),
) -> PendingFrame:
    """read_summed, begun now and finished by calling what it returns (as start_frame)."""
    datetimes = list(datetimes)
    names = [key.key for key in keys]
    if _columnar_path(session.connection()) is None:
        grouped = select(*keys, func.sum(value).label(value.key)).where(*where).group_by(*keys).order_by(*keys)
        return start_frame(session, grouped, datetimes)
    return start_frame(session, select(*keys, value).where(*where), datetimes, columnar=True, sum_by=names)


def _columnar_path(connection: Connection) -> str | None:
    """The SQLite file to read with ADBC, or None when the session's own connection must do the read."""
    if arrow_export is None or connection.dialect.name != "sqlite":
        return None
    driver = connection.connection.driver_connection
    database = connection.engine.url.database
    if not isinstance(driver, sqlite3.Connection) or driver.in_transaction or not database or database == ":memory:":
        return None
    return str(Path(database).resolve())


def _sqlite_value(value: Any) -> Any:
    """A bind value as the sqlite3 module would store it (dates and times as ISO text)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _start_columnar(
    path: str, sql: str, parameters: Sequence[Any], datetimes: list[str], sum_by: Sequence[str]
) -> PendingFrame:
    folder = tempfile.TemporaryDirectory(prefix="cs-health-read-")  # removed once the read is collected
    target = str(Path(folder.name) / "rows.arrow")
    export = arrow_export.export_arrow
    future = _reader().submit(export, path, sql, tuple(parameters), target, tuple(sum_by), tuple(datetimes))

    def collect() -> pd.DataFrame:
        with folder:
            try:
                future.result()
            except BrokenProcessPool:  # a reader died (killed, out of memory): the next read starts new ones
                _reader.cache_clear()
                raise
            with pa.OSFile(target) as source:
                table = pa.ipc.open_file(source).read_all()
        return parse_datetimes(table.to_pandas(), datetimes)

    return collect


@cache
def _reader() -> ProcessPoolExecutor:
    """The child processes that run this process's columnar reads, each started on first need (about a second):
    the two rollup reads of a run overlap, and a stage's own reads do not queue behind a prefetch."""
    return process_pool(READERS)
