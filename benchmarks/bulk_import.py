"""Bulk event import: cs-health's file import against a raw `sqlite3.executemany` of the same rows.

The import figure includes reading the file, validation, deduplication keys, storing and the daily rollups;
the raw figure only inserts pre-built tuples into a plain table without indexes, in the same run and machine.

    python benchmarks/bulk_import.py --events 2000000 [--format csv|parquet] [--postgres URL] [--history N]

`--history N` first imports N events of the two years before (not timed): the measured import is then the next
period's file arriving in a database that already holds history, as a product's monthly import does.

The raw insert and the import take turns for `--rounds` rounds (3 by default), each into fresh files; the figures
are each round's and the medians. On a shared machine either one alone can land in a slow second, so a ratio
from one pair of runs moved by a tenth from run to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cs_health.db.engine import SQLITE_PRAGMAS, make_database, normalise_url
from cs_health.db.migrate import upgrade
from cs_health.ingestion.service import import_file

FEATURES = np.array([f"feature_{n:02d}" for n in range(14)])


def generate_events(
    count: int, accounts: int, seed: int, per_session: float, start: str = "2024-11-01", prefix: str = "m"
) -> pd.DataFrame:
    """Telemetry shaped like a product's: users have sessions (a user, a day, a feature) of several events each
    (`per_session` on average, Poisson); `per_session=1` makes every event its own session (the worst case)."""
    rng = np.random.default_rng(seed)
    sessions = max(1, int(count / per_session))
    account = rng.integers(0, accounts, sessions)
    user = rng.integers(0, 30, sessions)
    day = rng.integers(0, 730, sessions)
    feature = rng.integers(0, len(FEATURES), sessions)
    sizes = np.maximum(1, rng.poisson(per_session, sessions)) if per_session > 1 else np.ones(sessions, dtype=int)
    session_of_event = np.repeat(np.arange(sessions), sizes)[:count]
    count = len(session_of_event)
    first = np.datetime64(f"{start}T00:00:00", "s")
    seconds = day[session_of_event] * 86_400 + rng.integers(0, 86_400, count)
    account_ids = np.char.add("acc-", account[session_of_event].astype(str))
    return pd.DataFrame(
        {
            "account_id": account_ids,
            "event": FEATURES[feature[session_of_event]],
            "timestamp": np.datetime_as_string(first + seconds, unit="s").astype(object) + "Z",
            "user_id": np.char.add(account_ids, np.char.add("-u", user[session_of_event].astype(str))),
            "quantity": rng.integers(1, 5, count),
            "message_id": [f"{prefix}-{n:09d}" for n in range(count)],
        }
    )


def read_back(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def raw_executemany(frame: pd.DataFrame, folder: Path) -> float:
    """Seconds to executemany the same rows into a plain SQLite table with the same pragmas."""
    connection = sqlite3.connect(folder / "raw.db")
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.execute(
        "CREATE TABLE events (account_id TEXT, event TEXT, timestamp TEXT, user_id TEXT, quantity REAL,"
        " message_id TEXT)"
    )
    rows = list(frame.itertuples(index=False, name=None))
    os.sync()  # each measurement starts with no other writes pending (the file just written, the other run's)
    started = time.perf_counter()
    connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def cs_health_import(url: str, path: Path, history: Path | None = None) -> tuple[float, int]:
    """Seconds and events accepted for importing `path` into a fresh database, after `history` (not timed)."""
    database = make_database(url)
    upgrade(database.engine)
    if history is not None:
        import_file(database, "events", history, now=dt.datetime.now(dt.UTC))
    os.sync()
    started = time.perf_counter()
    summary = import_file(database, "events", path, now=dt.datetime.now(dt.UTC))
    elapsed = time.perf_counter() - started
    database.engine.dispose()
    return elapsed, summary.accepted


def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    url = make_url(normalise_url(admin_url))
    name = f"cs_health_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    engine = create_engine(make_url(normalise_url(admin_url)), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to measure too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-session", type=float, default=6.0, help="mean events per user, day and feature")
    parser.add_argument(
        "--history", type=int, default=0, help="events of the two years before, imported first (not timed)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns of the raw insert and the import")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cs-health-bench-") as directory:
        folder = Path(directory)
        frame = generate_events(args.events, args.accounts, args.seed, args.per_session)
        path = folder / f"events.{args.format}"
        if args.format == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        sessions = frame.groupby(["account_id", "user_id", "event", frame["timestamp"].str[:10]]).ngroups
        size = path.stat().st_size / 1e6
        shape = f"{len(frame):,} events in {sessions:,} user-day-feature sessions"
        print(f"{shape}, {args.accounts:,} accounts, {size:.0f} MB {args.format}")

        history = None
        if args.history:
            history = folder / "history.parquet"
            past = generate_events(args.history, args.accounts, args.seed + 1, args.per_session, "2022-11-01", "h")
            past.to_parquet(history, index=False)
            print(f"imported first, not timed: {len(past):,} events of the two years before")
            del past
        del frame
        raw_rates, rates = [], []
        for number in range(1, args.rounds + 1):
            round_folder = folder / f"round-{number}"
            round_folder.mkdir()
            rows = read_back(path)
            raw_seconds = raw_executemany(rows, round_folder)
            raw_rates.append(len(rows) / raw_seconds)
            del rows  # an import runs in a process of its own, without the benchmark's millions of Python objects
            gc.collect()
            seconds, accepted = cs_health_import(f"sqlite:///{round_folder / 'cs_health.db'}", path, history)
            rates.append(accepted / seconds)
            shutil.rmtree(round_folder)
            print(
                f"round {number}: raw executemany {raw_seconds:5.2f} s {raw_rates[-1]:>9,.0f} events/s;"
                f" cs-health {seconds:5.2f} s {rates[-1]:>9,.0f} events/s = {rates[-1] / raw_rates[-1]:.2f} x raw"
            )
        raw_rate, rate = statistics.median(raw_rates), statistics.median(rates)
        print(f"raw sqlite3.executemany into a plain table (median): {raw_rate:>10,.0f} events/s")
        print(
            f"cs-health import on SQLite (validate, dedup, store, roll up; median): {rate:>10,.0f} events/s"
            f"  = {rate / raw_rate:.2f} x raw"
        )
        if args.postgres:
            url, name = fresh_postgres_database(args.postgres)
            try:
                seconds, accepted = cs_health_import(url, path, history)
            finally:
                drop_postgres_database(args.postgres, name)
            print(
                f"cs-health import on PostgreSQL (COPY path): {seconds:6.2f} s  {accepted / seconds:>10,.0f} events/s"
            )


if __name__ == "__main__":
    main()
