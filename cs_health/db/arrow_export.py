"""The child-process half of a columnar SQLite read (see cs_health/db/frames.py); imports only the driver.

The ADBC driver links its own copy of SQLite. Two copies in one process break each other's POSIX locks: closing
one copy's file releases the locks the other holds, and the closing copy, believing itself the last connection,
checkpoints and deletes the write-ahead log the other is still writing to; those writes are then lost
(https://www.sqlite.org/howtocorrupt.html, "multiple copies of SQLite linked into the same application"). A child
process is an ordinary second SQLite client, which the locking protocol is built for.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa


def export_arrow(database: str, sql: str, parameters: Sequence[Any], target: str) -> None:
    """Runs `sql` on the SQLite file `database` and writes the rows to `target` as an Arrow IPC file."""
    with adbc_sqlite.connect(database) as connection, closing(connection.cursor()) as cursor:
        cursor.execute(sql, tuple(parameters))
        table = cursor.fetch_arrow_table()
    with pa.OSFile(target, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
