"""A full `cs-health run` (health, trainings, forecast and churn, alerts) for a large generated portfolio.

The portfolio comes from the demo generator; its accounts, users, subscriptions, tickets, NPS and touchpoints go
through the import path, and its events are loaded as the daily rollups they would produce (the run reads only
rollups, and importing tens of millions of raw events is what benchmarks/bulk_import.py measures). Prints the time
of each stage. The first run also trains the churn model; the second is the next night's run (as of the next day),
which reuses the model and refits Prophet for the accounts whose forecast it refines.

    python benchmarks/full_run.py --accounts 10000 [--months 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from cs_health.config import Settings
from cs_health.db.engine import SQLITE_PRAGMAS, make_database
from cs_health.db.migrate import upgrade
from cs_health.demo.generator import generate_portfolio, write_portfolio
from cs_health.ingestion.service import import_file
from cs_health.pipeline import run_pipeline


def load_rollups(path: Path, events_file: Path) -> int:
    """user_daily_usage and daily_usage exactly as the import's rollups would hold them, streamed from the
    events file a million rows at a time (tens of millions of events do not fit in memory at once)."""
    connection = sqlite3.connect(path)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    columns = ["account_id", "timestamp", "event", "user_id", "quantity"]
    for batch in pq.ParquetFile(events_file).iter_batches(batch_size=1_000_000, columns=columns):
        events = batch.to_pandas()
        day = pd.to_datetime(events["timestamp"], format="ISO8601", utc=True).dt.strftime("%Y-%m-%d")
        keys = [events["account_id"], day.rename("day"), events["event"], events["user_id"].fillna("")]
        per_user = events["quantity"].astype(float).groupby(keys, sort=False).agg(["size", "sum"])
        connection.executemany(
            "INSERT INTO user_daily_usage (account_id, day, event, user_id, events, quantity) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, day, event, user_id) DO UPDATE SET "
            "events = events + excluded.events, quantity = quantity + excluded.quantity",
            per_user.reset_index().itertuples(index=False, name=None),
        )
    connection.execute(  # the rows are in primary-key order, so this groups without sorting
        "INSERT INTO daily_usage (account_id, day, event, events, quantity, users) "
        "SELECT account_id, day, event, sum(events), sum(quantity), count(*) FROM user_daily_usage "
        "GROUP BY account_id, day, event"
    )
    connection.commit()
    rows = connection.execute("SELECT count(*) FROM user_daily_usage").fetchone()[0]
    connection.close()
    return rows


def prepare(path: Path, folder: Path, accounts: int, months: int, seed: int, today: dt.date) -> None:
    """A migrated database holding the generated portfolio (the events as rollups)."""
    database = make_database(f"sqlite:///{path}")
    upgrade(database.engine)
    clock = time.perf_counter()
    portfolio = generate_portfolio(accounts=accounts, months=months, seed=seed, end=today)
    files = write_portfolio(portfolio, folder)
    events = len(portfolio.events)
    del portfolio
    for kind, file in files.items():
        if kind != "events":
            import_file(database, kind, file, now=dt.datetime.now(dt.UTC))
    rows = load_rollups(path, files["events"])
    print(
        f"{accounts:,} accounts, {events:,} events -> {rows:,} per-user rollup rows "
        f"(prepared in {time.perf_counter() - clock:.0f} s, not timed below)"
    )
    database.engine.dispose()


# What the runs write: cleared before measuring, so a kept database is measured as the fresh one was (the first
# run trains the churn model and fits Prophet with an empty cache).
RESULT_TABLES = (
    "alert",
    "outbox",
    "training_suggestion",
    "churn_prediction",
    "usage_forecast",
    "churn_model",
    "health_score",
    "pipeline_run",
)


def clear_results(path: Path) -> None:
    connection = sqlite3.connect(path)
    with connection:
        for table in RESULT_TABLES:
            connection.execute(f"DELETE FROM {table}")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build the portfolio database here once and reuse it afterwards")
    args = parser.parse_args()
    today = dt.date.today()
    with tempfile.TemporaryDirectory(prefix="cs-health-full-run-") as directory:
        folder = args.keep or Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cs_health.db"
        if not path.exists():
            prepare(path, folder, args.accounts, args.months, args.seed, today)
        database = make_database(f"sqlite:///{path}")
        upgrade(database.engine)  # a kept database may predate the newest migration
        clear_results(path)
        settings = Settings(DATABASE_URL=f"sqlite:///{path}", DATA_DIR=folder / "data")
        runs = {"first run (trains the churn model)": today, "next night's run (reuses it)": today + dt.timedelta(1)}
        for label, as_of in runs.items():
            clock = time.perf_counter()
            report = run_pipeline(database, settings, as_of)
            total = time.perf_counter() - clock
            stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items())
            print(f"{label}: {total:.1f} s  ({stages}; target <= 180 s)")


if __name__ == "__main__":
    main()
