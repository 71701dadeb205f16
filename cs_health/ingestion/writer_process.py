"""The event writer in a process of its own, so that storing events does not compete with HTTP for one GIL.

A uvicorn worker is one Python process: request threads parse and validate while the group writer stores, and
all of them take turns on one interpreter lock. The writer's SQLite calls release that lock, but the writer must
win it back after each one, and under load it waits for the request threads to yield it, so the store ran at
about half the speed it has alone. Here the server process validates and a writer process stores: each has an
interpreter of its own, as a PostgreSQL server's backends have their own processes.

The writer process runs the same group commit (group_commit.run_group) over whatever batches are waiting, and
sends each request its answer after the group committed. On SQLite, a thread copies the log back into the
database file (db.checkpoint), so that no group waits for a checkpoint. The process is started with `spawn` (the
server process has threads, which fork would copy half-way), ends when the server closes the pipe, and is started
again by the next request if it died; requests that were waiting on a dead writer get a 503 and nothing
half-written.
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
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from cs_health.db.checkpoint import checkpoint_in_background
from cs_health.db.engine import Database, make_database
from cs_health.exceptions import CSHealthError, ServiceUnavailable
from cs_health.ingestion.group_commit import MAX_GROUP_EVENTS, Job, run_group, take_group, warm_up
from cs_health.ingestion.items import EventBatch
from cs_health.ingestion.repository import alone_in_process
from cs_health.ingestion.schemas import BatchResult

log = logging.getLogger(__name__)

Message = tuple[int, EventBatch, str]  # ticket, batch, source
Answer = tuple[int, BatchResult | None, BaseException | None]  # ticket, result or error
Target = Callable[[Connection, str, int], None]
READY = "ready"  # the writer's first message: it is set up and warmed up, and stores what it is sent at once
START_TIMEOUT = 120.0  # seconds `start` waits for READY: importing the libraries takes ~1 s, more on a cold disk


def serve_writes(connection: Connection, url: str, max_group_events: int = MAX_GROUP_EVENTS) -> None:
    """The writer process: stores the batches waiting in the pipe, a group at a time, until the pipe closes.
    Ctrl+C and SIGTERM reach the whole process group; the server drains its requests on them and then closes
    the pipe, so the writer ignores them and stops at the close, after storing what it was sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    database = make_database(url)
    checkpointer = checkpoint_in_background(database)  # before its first connection
    gc.collect()  # as `cs-health serve` does: what is loaded by now lives as long as the process, and frozen,
    gc.freeze()  # full collections no longer re-scan it (a pause that held up every request in the pipe)
    pending: list[tuple[int, Job]] = []
    try:
        with alone_in_process():
            warm_up(database)
            connection.send(READY)
            while _receive(connection, pending, block=not pending):
                group = take_group([job for _, job in pending], max_group_events)
                tickets = [ticket for ticket, _ in pending[: len(group)]]
                del pending[: len(group)]
                run_group(database, group)
                answers = [
                    (ticket, job.result, _portable(job.error)) for ticket, job in zip(tickets, group, strict=True)
                ]
                connection.send(answers)
                if checkpointer is not None:
                    checkpointer.committed()
    finally:
        if checkpointer is not None:
            checkpointer.close()
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


class _Undelivered(Exception):
    """A batch did not reach a live writer process (it had died, unnoticed until the send)."""


class _Channel:
    """One writer process, its pipe, and the answers it owes. Its reader thread settles the answers as they come
    and alone notices the end: EOF on the pipe, which the kernel closes when the process dies. Only that thread
    joins the process, because multiprocessing's liveness check is not safe against a concurrent join (a reaped
    process can look alive to the other thread)."""

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
        self.ready = threading.Event()  # set on READY, or when the process ended before sending it
        self._reader = threading.Thread(target=self._read_answers, name="cs-health-writer-answers", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """Whether the writer process runs, as its reader thread has seen: the pipe closes only once the dead
        process's last thread has exited (numpy and Arrow start threads of their own), a moment after it is seen
        to die, and a batch sent in that moment is answered 503 as one sent to a writer that died with it."""
        return not self.closed

    def send(self, ticket_number: int, ticket: _Ticket, batch: EventBatch, source: str) -> None:
        """Hands the batch to the writer process; _Undelivered if it never reached a live one."""
        with self._owed_lock:
            if self.closed:
                raise _Undelivered
            self.owed[ticket_number] = ticket
        message: Message = (ticket_number, batch, source)
        try:
            self.connection.send(message)
        except OSError:  # the process died before its reader thread saw the pipe close
            with self._owed_lock:
                self.closed = True
                self.owed.pop(ticket_number, None)
            raise _Undelivered from None

    def _read_answers(self) -> None:
        try:
            while True:
                answers: list[Answer] | str = self.connection.recv()
                if answers == READY:
                    self.ready.set()
                    continue
                for ticket_number, result, error in answers:
                    with self._owed_lock:
                        ticket = self.owed.pop(ticket_number)
                    ticket.settle(result, error)
        except (EOFError, OSError):  # the writer process ended: its end of the pipe closed with it
            pass
        with self._owed_lock:
            self.closed = True  # first, so no request is sent to it while it is reaped
        self.ready.set()
        self.process.join()
        with self._owed_lock:
            owed, self.owed = self.owed, {}
        for ticket in owed.values():
            ticket.settle(None, _stopped(self.process.exitcode))
        self.connection.close()

    def close(self, timeout: float = 30.0) -> int | None:
        """Lets the writer finish the groups it was sent, then stops it; returns its exit code."""
        with contextlib.suppress(OSError):  # the pipe broke: it is ending anyway
            self.connection.send(None)
        self._reader.join(timeout)
        if self._reader.is_alive():  # stuck: it ignores SIGTERM (see serve_writes)
            self.process.kill()
            self._reader.join(timeout)
        return self.process.exitcode


def _stopped(exitcode: int | None) -> ServiceUnavailable:
    code = f" (exit code {exitcode})" if exitcode is not None else ""
    return ServiceUnavailable(
        f"the event writer process stopped{code} before storing this batch; nothing of it was stored, send it again",
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
        _every_writer.add(self)

    def start(self, timeout: float = START_TIMEOUT) -> bool:
        """Starts the writer process, if it is not running, and waits until it is ready to store: `cs-health serve`
        calls this before it listens, so that it answers no request before it can store one (the first waited
        about a second for the process to start). Returns whether it is ready; if not, requests start another."""
        with self._sending:
            channel = self._running_channel()
        return channel.ready.wait(timeout) and channel.alive

    def _running_channel(self) -> _Channel:
        if self._channel is None or not self._channel.alive:
            if self._channel is not None:  # its reader thread fails whatever it still owed
                log.warning("the event writer process ended; starting another")
            self._channel = _Channel(self.url, self.max_group_events, self._target)
        return self._channel

    @property
    def pid(self) -> int | None:
        return self._channel.process.pid if self._channel is not None else None

    @property
    def running(self) -> bool:
        """Whether its writer process is up, as far as its reader thread has seen."""
        return self._channel is not None and self._channel.alive

    def _send(self, batch: EventBatch, source: str) -> _Ticket:
        """A new ticket for each attempt: the dead writer's reader thread may still settle the one it was owed."""
        ticket = _Ticket()
        self._running_channel().send(next(self._numbers), ticket, batch, source)
        return ticket

    def write(self, _database: Database | None, batch: EventBatch, source: str) -> BatchResult:
        """Stores one request's batch (with whatever else is waiting) and returns its answer once committed."""
        with self._sending:
            try:
                ticket = self._send(batch, source)
            except _Undelivered:  # the batch never reached the writer that died, so a new one may take it
                try:
                    ticket = self._send(batch, source)
                except _Undelivered:
                    raise _stopped(None) from None
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
_every_writer: weakref.WeakSet[ProcessWriter] = weakref.WeakSet()  # writer_for's and any other, for close_all


def writer_for(database: Database) -> ProcessWriter:
    """The writer process of `database`, started on first use and stopped when this process exits."""
    url = database.engine.url.render_as_string(hide_password=False)
    with _writers_lock:
        if url not in _writers:
            _writers[url] = ProcessWriter(url)
        return _writers[url]


def close_all() -> None:
    """Stops every writer process; each finishes what it was sent first."""
    writers = list(_every_writer)  # before `_writers` lets go of its own, which the weak set would then lose
    with _writers_lock:
        _writers.clear()
    for writer in writers:
        writer.close()


# After multiprocessing.util's own exit handler (imported above), so this one runs first: that handler terminates
# daemonic children with SIGTERM, which the writer ignores, and then joins them.
atexit.register(close_all)
