"""HTTP ingestion: `POST /api/v1/events` of a real `cs-health serve` against a naive FastAPI endpoint.

Both servers run as subprocesses (one uvicorn worker each) on free loopback ports against fresh databases; a
separate driver process posts the same pre-encoded 500-event batches from N concurrent keep-alive clients
and reports events/s and request latency. cs-health validates, deduplicates, stores and rolls up; the naive
endpoint parses the body into pydantic models and inserts the rows with plain SQLAlchemy into a table with a
unique message_id index (no validation beyond types, no rollups). Everything stops by itself.

The figures are a running server's: before the clock starts, each client posts --warmup batches of other events,
whose latencies are reported apart. A freshly started server pays one-time costs on its first requests (database
connections opened, statements compiled, code loaded), and eight of them at once fill the whole p99 of a
400-request run; `--warmup 0` measures that cold start instead.

    python benchmarks/http_ingest.py [--clients 8] [--batches 1000] [--batch-size 500] [--warmup 1] [--seconds 60]
                                     [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--no-naive]
    python benchmarks/http_ingest.py --in-process [--clients 8] [--batches 1000]   # CPU per phase, no HTTP

Each figure comes with the machine's load average and the server's CPU per request: on a shared machine the
events/s say how much of a core the server got, the CPU per request what it needed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from pydantic import BaseModel

FEATURES = [f"feature_{n:02d}" for n in range(14)]
HERE = Path(__file__).resolve()


def make_batches(count: int, size: int, seed: int, accounts: int = 1_000) -> list[bytes]:
    """Live telemetry: recent events in sessions (one user, one feature, ~8 events), each with properties."""
    rng = random.Random(seed)
    moment = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=3)
    step = dt.timedelta(hours=2) / max(1, count * size)
    events: list[dict[str, Any]] = []
    serial = 0
    while len(events) < count * size:
        account = rng.randrange(accounts)
        user, feature = f"acc-{account}-u{rng.randrange(30)}", rng.choice(FEATURES)
        for _ in range(max(1, int(rng.expovariate(1 / 8)))):
            serial += 1
            moment += step
            events.append(
                {
                    "account_id": f"acc-{account}",
                    "event": feature,
                    "timestamp": moment.isoformat(timespec="milliseconds") + "Z",
                    "user_id": user,
                    "quantity": rng.randrange(1, 5),
                    "message_id": f"{seed}-{serial:010d}",
                    "properties": {"plan": "pro", "path": f"/p/{rng.randrange(50)}"},
                }
            )
    return [orjson.dumps(events[start : start + size]) for start in range(0, count * size, size)]


# ---------------------------------------------------------------- the naive endpoint (served with --serve-naive)


class Event(BaseModel):
    account_id: str
    event: str
    timestamp: dt.datetime
    user_id: str | None = None
    quantity: float = 1
    message_id: str | None = None
    properties: dict[str, Any] | None = None


def naive_app(url: str) -> Any:
    """A textbook FastAPI endpoint: a pydantic list body and a plain SQLAlchemy insert, one commit per request."""
    from fastapi import FastAPI
    from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    from cs_health.db.engine import make_engine

    metadata = MetaData()
    table = Table(
        "naive_event",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("message_id", String(255), unique=True),
        Column("account_id", String(128), index=True),
        Column("user_id", String(128)),
        Column("event", String(200)),
        Column("timestamp", DateTime),
        Column("quantity", Float),
        Column("properties", JSON),
    )
    engine = make_engine(url)
    metadata.create_all(engine)
    # ON CONFLICT DO NOTHING on the unique message_id: the naive deduplication
    upsert = (sqlite_insert if engine.dialect.name == "sqlite" else pg_insert)(table).on_conflict_do_nothing()
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/events")
    def post_events(events: list[Event]) -> dict[str, int]:
        rows = [event.model_dump() for event in events]
        for row in rows:
            row["timestamp"] = row["timestamp"].replace(tzinfo=None)
        with engine.begin() as connection:
            connection.execute(upsert, rows)
        return {"accepted": len(rows)}

    return app


# ---------------------------------------------------------------- the driver (run with --drive, its own process)


class Connection:
    """One keep-alive HTTP/1.1 connection that writes a pre-encoded POST and reads the answer by its
    Content-Length. The load generator shares the machine's two cores with the server it measures; httpx spent
    about 2 ms of CPU per 500-event request, a sixth of a core at these rates, taken from the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        address = httpx.URL(url)
        reader, writer = await asyncio.open_connection(address.host, address.port)
        return cls(reader, writer, f"{address.host}:{address.port}")

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        length = int({name.lower(): value for name, value in fields.items()}.get("content-length", "0"))
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def warm_up(
    connections: list[Connection], path: str, bodies: list[bytes], headers: dict[str, str]
) -> dict[str, float]:
    """Posts `bodies` spread over the connections, all at once: each connection's first request."""
    latencies: list[float] = []
    accepted = 0

    async def post(connection: Connection, body: bytes) -> None:
        nonlocal accepted
        started = time.perf_counter()
        status, answer = await connection.post(path, body, headers)
        latencies.append(time.perf_counter() - started)
        accepted += orjson.loads(answer).get("accepted", 0) if status == 200 else 0

    for start in range(0, len(bodies), len(connections)):
        await asyncio.gather(*map(post, connections, bodies[start : start + len(connections)]))
    return {"warmup_requests": len(latencies), "warmup_accepted": accepted, "warmup_max_ms": max(latencies) * 1000}


async def drive(
    url: str, path: str, key: str, bodies: list[bytes], warmup: list[bytes], clients: int, seconds: float
) -> dict[str, Any]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0, "sent": 0}
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client_loop(connection: Connection) -> None:
        while not queue.empty() and time.perf_counter() < deadline:
            body = queue.get_nowait()
            started = time.perf_counter()
            status, answer = await connection.post(path, body, headers)
            latencies.append(time.perf_counter() - started)
            counts["sent"] += body.count(b'"account_id"')
            if status != 200:
                counts["errors"] += 1
                continue
            result = orjson.loads(answer)
            for name in ("accepted", "duplicates", "rejected"):
                counts[name] += result.get(name, 0)

    connections = [await Connection.open(url) for _ in range(clients)]
    warmed = await warm_up(connections, path, warmup, headers) if warmup else {}
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client_loop(connection) for connection in connections))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    for connection in connections:
        await connection.close()
    spread = np.array(latencies) * 1000
    return {
        **counts,
        **warmed,
        "seconds": elapsed,
        "requests": len(latencies),
        "driver_cpu_ms": cpu * 1000 / max(1, len(latencies)),
        "p50_ms": float(np.percentile(spread, 50)),
        "p99_ms": float(np.percentile(spread, 99)),
    }


# ---------------------------------------------------------------- the orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}: {' '.join(command)}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _stat(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU so far of a process and its live children, the event writer process among them (Linux
    /proc; None elsewhere)."""
    fields = _stat(pid)
    if fields is None:
        return None
    children = [stat for entry in Path("/proc").iterdir() if entry.name.isdigit() and (stat := _stat(entry.name))]
    ticks = sum(int(stat[11]) + int(stat[12]) for stat in [fields, *(s for s in children if s[1] == str(pid))])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_driver(server: tuple[str, subprocess.Popen[bytes]], path: str, key: str, args: argparse.Namespace) -> dict:
    """Drives the server from a separate process; adds the server's CPU per request and the load averages, which
    say how much of the machine the server had (other processes share it)."""
    url, process = server
    command = [sys.executable, str(HERE), "--drive", url, "--path", path, "--key", key]
    command += ["--clients", str(args.clients), "--batches", str(args.batches), "--batch-size", str(args.batch_size)]
    command += ["--seconds", str(args.seconds), "--seed", str(args.seed), "--warmup", str(args.warmup)]
    load_before, cpu_before = os.getloadavg()[0], cpu_seconds(process.pid)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cpu_after = cpu_seconds(process.pid)
    result["load"] = (load_before, os.getloadavg()[0])
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["server_cpu_ms"] = (cpu_after - cpu_before) * 1000 / result["requests"]
    return result


def report(label: str, result: dict[str, Any]) -> None:
    rate = result["accepted"] / result["seconds"] if result["seconds"] else 0.0
    cpu = f", server CPU {result['server_cpu_ms']:.1f} ms/request" if "server_cpu_ms" in result else ""
    cpu += f", driver CPU {result['driver_cpu_ms']:.1f} ms/request"
    print(
        f"{label:<46} {rate:>9,.0f} events/s  p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
        f"({result['requests']:,} requests, {result['accepted']:,} accepted, {result['duplicates']:,} duplicates, "
        f"{result['rejected']:,} rejected, {result['errors']:,} failed, {result['seconds']:.1f} s{cpu}, "
        f"1-min load {result['load'][0]:.1f} -> {result['load'][1]:.1f} on {os.cpu_count()} CPUs)"
    )
    if result.get("warmup_requests"):
        print(
            f"{'':<46} before the clock: {result['warmup_requests']} warm-up requests to the fresh server, "
            f"the slowest {result['warmup_max_ms']:.1f} ms"
        )


def stored_events(url: str, table: str) -> int:
    from sqlalchemy import text

    from cs_health.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        count = int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    engine.dispose()
    return count


@contextmanager
def database_url(folder: Path, name: str, postgres: str | None) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{folder / name}.db"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from cs_health.db.engine import normalise_url

    base = make_url(normalise_url(postgres))
    database = f"cs_health_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield base.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def benchmark(args: argparse.Namespace, folder: Path, postgres: str | None) -> None:
    where = "PostgreSQL" if postgres else "SQLite"
    cli = [str(Path(sys.executable).with_name("cs-health"))]
    with database_url(folder, "cs_health", postgres) as url:
        env = {**os.environ, "CS_HEALTH_DATABASE_URL": url, "CS_HEALTH_DATA_DIR": str(folder / "data")}
        subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [*cli, "apikey", "create", "--scopes", "ingest", "--name", "benchmark"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        port = free_port()
        with serving([*cli, "serve", "--port", str(port)], env, port) as server:
            result = run_driver(server, "/api/v1/events", key, args)
        report(f"cs-health POST /api/v1/events ({where})", result)
        stored = stored_events(url, "usage_event")
        accepted = result["accepted"] + result.get("warmup_accepted", 0)
        print(f"{'':<46} stored {stored:,} events; every accepted event stored: {stored == accepted}")
    if args.no_naive:
        return
    with database_url(folder, "naive", postgres) as url:
        port = free_port()
        command = [sys.executable, str(HERE), "--serve-naive", url, "--port", str(port)]
        with serving(command, dict(os.environ), port) as server:
            naive = run_driver(server, "/events", "-", args)
        report(f"naive FastAPI + SQLAlchemy insert ({where})", naive)


def in_process(args: argparse.Namespace) -> None:
    """CPU per request of the ingestion work itself, without HTTP: parse, validate, store (rollups and import runs
    included) and commit, in groups of --clients batches as the group commit forms them when the server is busy.
    Thread CPU time rather than wall time, so other processes on the machine disturb the figure less."""
    import gc

    from cs_health.auth.dependencies import write_transaction
    from cs_health.db.engine import make_database
    from cs_health.db.migrate import upgrade
    from cs_health.ingestion import endpoints, repository, service
    from cs_health.ingestion.items import validate_items

    spent = dict.fromkeys(("parse", "validate", "store", "commit"), 0.0)

    def timed(phase: str, call: Any, *arguments: Any, **keywords: Any) -> Any:
        started = time.thread_time()
        value = call(*arguments, **keywords)
        spent[phase] += time.thread_time() - started
        return value

    with tempfile.TemporaryDirectory(prefix="cs-health-http-bench-") as folder:
        database = make_database(f"sqlite:///{folder}/in_process.db")
        upgrade(database.engine)
        bodies = make_batches(args.batches, args.batch_size, args.seed)
        gc.collect()
        gc.freeze()  # as `cs-health serve` does
        with repository.alone_in_process():  # as in the event writer process
            for start in range(0, len(bodies), args.clients):
                now = dt.datetime.now(dt.UTC)
                group = [
                    timed("validate", validate_items, timed("parse", endpoints.parse_json, body), now)
                    for body in bodies[start : start + args.clients]
                ]
                with write_transaction(database) as session:
                    timed(
                        "store", service.ingest_event_batches, session, group, now=now, sources=["bench"] * len(group)
                    )
                    committing = time.thread_time()
                spent["commit"] += time.thread_time() - committing
        database.engine.dispose()
    total = sum(spent.values())
    print(f"in-process, {len(bodies)} batches of {args.batch_size} in groups of {args.clients} (CPU ms per batch):")
    for phase, seconds in [*spent.items(), ("total", total)]:
        print(f"  {phase:<9} {seconds * 1000 / len(bodies):6.2f}")
    print(f"  = {len(bodies) * args.batch_size / total:,.0f} events/s for one core doing nothing else; load {load()}")


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--batches", type=int, default=1_000, help="batches to post (the run stops after them)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up batches per client, before the clock starts")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop posting after this long at the latest")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="also run against this PostgreSQL server (a fresh database is made)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive endpoint")
    parser.add_argument("--in-process", action="store_true", help="CPU per batch of each ingestion phase, no HTTP")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--serve-naive", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_naive:
        import uvicorn

        uvicorn.run(naive_app(args.serve_naive), host="127.0.0.1", port=args.port, log_level="warning")
        return
    if args.in_process:
        in_process(args)
        return
    if args.drive:
        bodies = make_batches(args.batches, args.batch_size, args.seed)
        warmup = make_batches(args.warmup * args.clients, args.batch_size, args.seed + 1) if args.warmup else []
        result = asyncio.run(drive(args.drive, args.path, args.key, bodies, warmup, args.clients, args.seconds))
        print(json.dumps(result))
        return
    print(
        f"{args.clients} clients, {args.batches} batches of {args.batch_size} events "
        f"(at most {args.seconds:.0f} s) after {args.warmup} warm-up batch(es) per client, "
        "one uvicorn worker per server, loopback"
    )
    with tempfile.TemporaryDirectory(prefix="cs-health-http-bench-") as folder:
        benchmark(args, Path(folder), None)
        if args.postgres:
            benchmark(args, Path(folder), args.postgres)


if __name__ == "__main__":
    main()
