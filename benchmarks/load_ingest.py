"""Sustained load on a real `cs-health serve` (one uvicorn worker, loopback only, fresh SQLite database each):

1. ingestion: N concurrent keep-alive clients post 500-event batches for S seconds; then checks that every
   accepted event is stored (usage_event) and rolled up (both rollups' event sums), and prints events/s,
   p50/p99 request latency and errors;
2. dashboard: N logged-in clients load the portfolio page (varied sort / filter / page) and account 360 pages of
   a 10,000-account book for S seconds; prints requests/s, p50/p99 and errors.

Every loop is bounded by time and stops by itself. Batches and the book come from benchmarks/http_ingest.py and
benchmarks/dashboard.py.

    python benchmarks/load_ingest.py [--clients 8] [--seconds 30] [--batch-size 500] [--accounts 10000]
                                     [--only ingest|dashboard]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from dashboard import PASSWORD, parameter_sets, populate
from http_ingest import free_port, make_batches, serving
from sqlalchemy import create_engine, func, select

from cs_health.db.tables import DailyUsage, UsageEvent, UserDailyUsage

CLI = [sys.executable, "-m", "cs_health.cli"]
ADMIN = "admin@cs.example"


@dataclass
class Tally:
    """What the clients saw: per-request latency, failures and (for ingestion) the answers' counts."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0

    def line(self, unit: str, amount: float) -> str:
        spread = np.array(self.latencies or [0.0]) * 1000
        return (
            f"{amount / self.seconds:>9,.0f} {unit}/s  p50 {np.percentile(spread, 50):6.1f} ms  "
            f"p99 {np.percentile(spread, 99):7.1f} ms  {len(self.latencies):,} requests, {self.errors:,} errors, "
            f"{self.seconds:.1f} s"
        )


class Batches:
    """Bodies of `size` events: a pool of distinct batches from http_ingest.make_batches, replayed with fresh
    message ids (round r renames "7-..." to "7-r<r>-..."), so every event is new and the same users keep using
    the same features, while making a body costs one bytes.replace instead of CPU the server needs."""

    def __init__(self, size: int, pool: int = 64, seed: int = 7) -> None:
        self.templates = make_batches(pool, size, seed)
        self.seed, self.made = seed, 0

    def next(self) -> bytes:
        rounds, index = divmod(self.made, len(self.templates))
        self.made += 1
        body = self.templates[index]
        return body.replace(f'"{self.seed}-'.encode(), f'"{self.seed}-r{rounds}-'.encode()) if rounds else body


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def hammer(client: httpx.AsyncClient, request: Request, clients: int, seconds: float, tally: Tally) -> None:
    """`clients` loops sending `request` back to back until `seconds` have passed."""
    deadline = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        for n in itertools.count():
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = await request(client, worker * 1_000_003 + n)
            except httpx.HTTPError:
                tally.errors += 1
                continue
            tally.latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                tally.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(worker) for worker in range(clients)))
    tally.seconds = time.perf_counter() - started


def keep_alive(url: str, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(base_url=url, timeout=120, limits=limits)


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run([*CLI, *args], env=env, input=stdin, check=True, capture_output=True, text=True)
    return done.stdout


@contextmanager
def served(folder: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """`cs-health serve` on a fresh SQLite database in `folder`: yields (base URL, environment, database URL)."""
    url = f"sqlite:///{folder / 'cs_health.db'}"
    env = {**os.environ, "CS_HEALTH_DATABASE_URL": url, "CS_HEALTH_DATA_DIR": str(folder / "data")}
    cli("init", env=env)
    port = free_port()
    with serving([*CLI, "serve", "--port", str(port)], env, port) as (base, _process):
        yield base, env, url


def stored(url: str) -> tuple[int, int, int]:
    """(rows in usage_event, events in daily_usage, events in user_daily_usage)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = tuple(
            int(connection.scalar(statement) or 0)
            for statement in (
                select(func.count()).select_from(UsageEvent),
                select(func.sum(DailyUsage.events)),
                select(func.sum(UserDailyUsage.events)),
            )
        )
    engine.dispose()
    return counts  # type: ignore[return-value]


def ingest_load(args: argparse.Namespace, folder: Path) -> None:
    with served(folder) as (base, env, url):
        key = cli("apikey", "create", "--scopes", "ingest", "--name", "load", env=env).strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        batches, tally = Batches(args.batch_size), Tally()

        async def post(client: httpx.AsyncClient, _: int) -> httpx.Response:
            response = await client.post("/api/v1/events", content=batches.next(), headers=headers)
            if response.status_code == 200:
                answer = response.json()
                tally.accepted += answer["accepted"]
                tally.duplicates += answer["duplicates"]
                tally.rejected += answer["rejected"]
            return response

        async def run() -> None:
            async with keep_alive(base, args.clients) as client:
                await hammer(client, post, args.clients, args.seconds, tally)

        asyncio.run(run())
    events, daily, per_user = stored(url)
    print(f"ingest    {args.clients} clients x {args.batch_size}-event batches: {tally.line('events', tally.accepted)}")
    print(
        f"          accepted {tally.accepted:,}, duplicates {tally.duplicates:,}, rejected {tally.rejected:,}; "
        f"stored {events:,}, rolled up {daily:,} / {per_user:,}; "
        f"accepted == stored == rolled up: {tally.accepted == events == daily == per_user}"
    )


def dashboard_load(args: argparse.Namespace, folder: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    url = f"sqlite:///{folder / 'cs_health.db'}"
    started = time.perf_counter()
    populate(url, args.accounts, today)
    loaded = time.perf_counter() - started
    with served(folder) as (base, env, _):
        cli("user", "create", ADMIN, "--role", "admin", "--password-stdin", env=env, stdin=PASSWORD + "\n")
        pages = [("/portfolio", params) for params in parameter_sets(50)]
        pages += [(f"/accounts/acc-{n:06d}", {}) for n in range(0, args.accounts, max(1, args.accounts // 50))]
        tally = Tally()

        async def get(client: httpx.AsyncClient, n: int) -> httpx.Response:
            path, params = pages[n % len(pages)]
            return await client.get(path, params=params)

        async def run() -> None:
            async with keep_alive(base, args.clients) as client:
                form = (await client.get("/login")).text
                token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
                await client.post("/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token})
                await hammer(client, get, args.clients, args.seconds, tally)

        asyncio.run(run())
    print(
        f"dashboard {args.clients} clients, portfolio + account pages, {args.accounts:,} accounts "
        f"(loaded in {loaded:.1f} s): {tally.line('requests', len(tally.latencies))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each load runs")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=10_000, help="the dashboard book's size")
    parser.add_argument("--only", choices=("ingest", "dashboard"))
    args = parser.parse_args()
    print(f"one uvicorn worker, loopback, SQLite; {os.cpu_count()} CPUs shared with the clients")
    if args.only in (None, "ingest"):
        with tempfile.TemporaryDirectory(prefix="cs-health-load-") as folder:
            ingest_load(args, Path(folder))
    if args.only in (None, "dashboard"):
        with tempfile.TemporaryDirectory(prefix="cs-health-load-") as folder:
            dashboard_load(args, Path(folder))


if __name__ == "__main__":
    main()
