"""The event writer in a process of its own, so that storing events does not compete with HTTP for one GIL.

A uvicorn worker is one Python process: request threads parse and validate while the group writer stores, and
all of them take turns on one interpreter lock. The writer's SQLite calls release that lock, but the writer must
win it back after each one, and under load it waits for the request threads to yield it, so the store ran at
about half the speed it has alone. Here the server process validates and a writer process stores: each has an
interpreter of its own, as a PostgreSQL server's backends have their own processes.

The writer process runs the same group commit (group_commit.run_group) over whatever batches are waiting, and
sends each request its answer after the group committed. It is started with `spawn` (the server process has
threads, which fork would copy half-way), ends when the server closes the pipe, and is started again by the
next request if it died; requests that were waiting on a dead writer get a 503 and nothing half-written.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import itertools
import logging
import multiprocessing
import multiprocessing.util
import pickle
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from cs_health.db.engine import Database, make_database
from cs_health.exceptions import CSHealthError, ServiceUnavailable
from cs_health.ingestion.group_commit import MAX_GROUP_EVENTS, Job, run_group, take_group
from cs_health.ingestion.items import EventBatch
from cs_health.ingestion.repository import alone_in_process
from cs_health.ingestion.schemas import BatchResult

log = logging.getLogger(__name__)

Message = tuple[int, EventBatch, str]  # ticket, batch, source
Answer = tuple[int, BatchResult | None, BaseException | None]  # ticket, result or error
Target = Callable[[Connection, str, int], None]


def serve_writes(connection: Connection, url: str, max_group_events: int = MAX_GROUP_EVENTS) -> None:
    """The writer process: stores the batches waiting in the pipe, a group at a time, until the pipe closes.
    Ctrl+C and SIGTERM reach the whole process group; the server drains its requests on them and then closes
    the pipe, so the writer ignores them and stops at the close, after storing what it was sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    database = make_database(url)
    gc.collect()  # as `cs-health serve` does: what is loaded by now lives as long as the process, and frozen,
    gc.freeze()  # full collections no longer re-scan it (a pause that held up every request in the pipe)
    pending: list[tuple[int, Job]] = []
    try:
        with alone_in_process():
            while _receive(connection, pending, block=not pending):
                group = take_group([job for _, job in pending], max_group_events)
                tickets = [ticket for ticket, _ in pending[: len(group)]]
                del pending[: len(group)]
                run_group(database, group)
                answers = [
                    (ticket, job.result, _portable(job.error)) for ticket, job in zip(tickets, group, strict=True)
                ]
                connection.send(answers)
    finally:
        database.engine.dispose()


def _receive(connection: Connection, pending: list[tuple[int, Job]], *, block: bool) -> bool:
    """Adds the messages waiting in the pipe (waiting for one if `block`) to `pending`; False once it closed."""
    try:
        while block or connection.poll():
            message: Message | None = connection.recv()
            if message is None:
                return False
            ticket, batch, source = message
            pending.append((ticket, Job(batch, source)))
            block = False
    except EOFError:
        return False
    return True


def _portable(error: BaseException | None) -> BaseException | None:
    """`error` if it survives pickling, else a RuntimeError with its type and message. An unexpected error's
    traceback is logged here, in the writer process, where it happened."""
    if error is None:
        return None
    if not isinstance(error, CSHealthError):
        log.error("storing an event batch failed", exc_info=error)
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


@dataclass
class _Ticket:
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[BatchResult | None, BaseException | None] = (None, None)

    def settle(self, result: BatchResult | None, error: BaseException | None) -> None:
        self.answer = (result, error)
        self.done.set()


class _Channel:
    """One writer process, its pipe, and the answers it owes; a reader thread settles them as they come."""

    def __init__(self, url: str, max_group_events: int, target: Target) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=target, args=(child, url, max_group_events), name="cs-health-event-writer", daemon=True
        )
        self.process.start()
        child.close()
        self.owed: dict[int, _Ticket] = {}
        self._owed_lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._read_answers, name="cs-health-writer-answers", daemon=True).start()

    @property
    def alive(self) -> bool:
        return not self.closed and self.process.is_alive()

    def send(self, ticket_number: int, ticket: _Ticket, batch: EventBatch, source: str) -> None:
        with self._owed_lock:
            if self.closed:
                raise _stopped(self.process.exitcode)
            self.owed[ticket_number] = ticket
        message: Message = (ticket_number, batch, source)
        try:
            self.connection.send(message)
        except OSError:  # the writer process died since the check above: this batch never reached it
            with self._owed_lock:
                self.owed.pop(ticket_number, None)
            raise _stopped(self.process.exitcode) from None

    def _read_answers(self) -> None:
        try:
            while True:
                answers: list[Answer] = self.connection.recv()
                for ticket_number, result, error in answers:
                    with self._owed_lock:
                        ticket = self.owed.pop(ticket_number)
                    ticket.settle(result, error)
        except (EOFError, OSError):  # the writer process ended: its end of the pipe closed with it
            pass
        self.process.join(timeout=5)
        self._fail_owed()
        self.connection.close()

    def _fail_owed(self) -> None:
        with self._owed_lock:
            self.closed = True
            owed, self.owed = self.owed, {}
        for ticket in owed.values():
            ticket.settle(None, _stopped(self.process.exitcode))

    def close(self, timeout: float = 30.0) -> int | None:
        """Lets the writer finish the groups it was sent, then stops it (the reader thread then closes the pipe);
        returns its exit code."""
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # the pipe broke: it is ending anyway
                self.connection.send(None)
            self.process.join(timeout)
        if self.process.is_alive():  # stuck: it ignores SIGTERM (see serve_writes)
            self.process.kill()
            self.process.join(timeout)
        return self.process.exitcode


def _stopped(exitcode: int | None) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the event writer process stopped (exit code {exitcode}) before storing this batch; nothing of it was "
        "stored, send it again",
        exit_code=exitcode,
    )


class ProcessWriter:
    """The group writer for one database, in a process of its own; `write` is safe from any request thread."""

    def __init__(self, url: str, max_group_events: int = MAX_GROUP_EVENTS, target: Target = serve_writes) -> None:
        self.url = url
        self.max_group_events = max_group_events
        self._target = target
        self._numbers = itertools.count()
        self._sending = threading.Lock()
        self._channel: _Channel | None = None

    def start(self) -> None:
        with self._sending:
            self._running_channel()

    def _running_channel(self) -> _Channel:
        if self._channel is None or not self._channel.alive:
            if self._channel is not None:  # its reader thread fails whatever it still owed
                log.warning("event writer process exited with %s; starting another", self._channel.process.exitcode)
            self._channel = _Channel(self.url, self.max_group_events, self._target)
        return self._channel

    @property
    def pid(self) -> int | None:
        return self._channel.process.pid if self._channel is not None else None

    @property
    def running(self) -> bool:
        return self._channel is not None and self._channel.alive

    def write(self, _database: Database | None, batch: EventBatch, source: str) -> BatchResult:
        """Stores one request's batch (with whatever else is waiting) and returns its answer once committed."""
        ticket = _Ticket()
        with self._sending:
            channel = self._running_channel()
            channel.send(next(self._numbers), ticket, batch, source)
        ticket.done.wait()  # settled by the answer, or by the reader thread when the writer process ends
        result, error = ticket.answer
        if error is not None:
            raise error
        assert result is not None
        return result

    def close(self) -> int | None:
        """Stops the writer process once it has stored what it was sent; returns its exit code (None if none ran)."""
        with self._sending:
            channel, self._channel = self._channel, None
            return channel.close() if channel is not None else None


_writers: dict[str, ProcessWriter] = {}
_writers_lock = threading.Lock()


def writer_for(database: Database) -> ProcessWriter:
    """The writer process of `database`, started on first use and stopped when this process exits."""
    url = database.engine.url.render_as_string(hide_password=False)
    with _writers_lock:
        if url not in _writers:
            _writers[url] = ProcessWriter(url)
        return _writers[url]


def close_all() -> None:
    """Stops every writer process; each finishes what it was sent first."""
    with _writers_lock:
        writers = list(_writers.values())
        _writers.clear()
    for writer in writers:
        writer.close()


# After multiprocessing.util's own exit handler (imported above), so this one runs first: that handler terminates
# daemonic children with SIGTERM, which the writer ignores, and then joins them.
atexit.register(close_all)
