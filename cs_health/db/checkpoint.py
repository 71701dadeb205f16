"""WAL checkpoints off the commit path, for a process whose one writer commits a steady stream of transactions.

SQLite copies the write-ahead log back into the database file at the commit that finds more than
wal_autocheckpoint pages in it, and that commit waits for the copy. Under HTTP ingestion that made one group
commit in about forty take 40 ms instead of 4, and every request queued behind it: most of the p99 latency.

A dedicated writer raises its connections' autocheckpoint out of reach and hands the copying to a thread with a
connection of its own. A PASSIVE checkpoint never blocks a writer, so commits go on while the thread copies.
SQLite restarts the log from its beginning only when a write transaction begins with every frame copied back,
which never happens while frames arrive during each copy: the log would grow for as long as the load lasted.
So the thread copies until only the frames of a moment are left, and the writer copies that remainder itself,
between two of its transactions, after which the next one restarts the log.

Where another process writes at the same moment (a second server on the same file), the remainder may not finish
either; then the commit that finds SAFETY_NET_PAGES in the log copies it back itself, as every commit did before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import event

from cs_health.db.engine import Database

log = logging.getLogger(__name__)

# Seconds between two checkpoints: the log peaks near 80 MB at 120,000 events/s. Fewer checkpoints copy less, as
# ingestion rewrites the same index pages in every commit and a page is copied once per checkpoint.
CHECKPOINT_INTERVAL = 0.5
# A pass this quick means few frames arrived during it; the writer copies those (3-14 ms here, mostly fsyncs)
SHORT_PASS = 0.005
MAX_PASSES = 4
# Pages in the log at which a commit checkpoints after all: 400 MB, five times the most a cycle leaves at 120,000
# events/s, so it is reached only if the log stopped restarting.
SAFETY_NET_PAGES = 100_000


def _autocheckpoint_as_safety_net(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")


class BackgroundCheckpointer:
    """Checkpoints one SQLite file from a thread of its own. The writer calls `committed` after each of its
    transactions, and `close` when it stops."""

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL) -> None:
        self.path, self.interval = path, interval
        self._connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()  # the connection, used by the thread and, for the remainder, the writer
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._remainder_due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cs-health-checkpointer", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Notes a commit. Called by the writer between transactions, where it copies the remainder of the
        thread's last pass so that its next transaction restarts the log."""
        if self._remainder_due.is_set():
            self._remainder_due.clear()
            self._checkpoint_or_log()
        self._wake.set()

    @property
    def remainder_due(self) -> bool:
        """Whether the thread's last pass is done and left the frames that came during it to the writer."""
        return self._remainder_due.is_set()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (1 if it could not finish, frames in the log, frames copied back)."""
        with self._lock:
            busy, frames, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        return busy, frames, copied

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            self._wake.clear()
            if self._passes():
                self._remainder_due.set()
            if self._stopping.wait(self.interval):
                return

    def _passes(self) -> bool:
        """Passes until one is short, each copying what arrived during the one before; False if one failed."""
        for _ in range(MAX_PASSES):
            started = time.perf_counter()
            if not self._checkpoint_or_log():
                return False
            if time.perf_counter() - started < SHORT_PASS:
                break
        return True

    def _checkpoint_or_log(self) -> bool:
        """A checkpoint that fails (a disk error) is logged, never raised: it costs a longer log, which the next
        one or the safety net copies back, and must not cost a commit or the writer."""
        try:
            self.checkpoint()
        except sqlite3.Error:
            log.warning("a WAL checkpoint of %s failed; the next one will try again", self.path, exc_info=True)
            return False
        return True

    def close(self) -> None:
        """Stops the thread and copies the whole log back, so the file alone holds every commit."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._checkpoint_or_log()
        self._connection.close()


def checkpoint_in_background(
    database: Database, interval: float = CHECKPOINT_INTERVAL
) -> BackgroundCheckpointer | None:
    """Moves `database`'s checkpoints to a thread, for connections it opens from now on. None where there is
    nothing to move: PostgreSQL, or a SQLite database in memory."""
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    event.listen(database.engine, "connect", _autocheckpoint_as_safety_net)
    return BackgroundCheckpointer(url.database, interval)
