"""A full `cs-health run` (health, trainings, forecast and churn, alerts) for a large generated portfolio.

The portfolio comes from the demo generator; its accounts, users, subscriptions, tickets, NPS and touchpoints go
through the import path, and its events are loaded as the daily rollups they would produce (the run reads only
rollups, and importing tens of millions of raw events is what benchmarks/bulk_import.py measures). Prints the time
of each stage; the first run also trains the churn model, the second reuses it.

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

from cs_health.config import Settings
from cs_health.db.engine import SQLITE_PRAGMAS, make_database
from cs_health.db.migrate import upgrade
from cs_health.demo.generator import generate_portfolio, write_portfolio
from cs_health.ingestion.service import import_file
from cs_health.pipeline import run_pipeline


def load_rollups(path: Path, events: pd.DataFrame) -> int:
    """daily_usage and user_daily_usage exactly as the import's rollups would hold them."""
    stamps = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    frame = pd.DataFrame(  # categoricals keep tens of millions of rows in a few GB
        {
            "account_id": events["account_id"].astype("category"),
            "day": stamps.dt.strftime("%Y-%m-%d").astype("category"),
            "event": events["event"].astype("category"),
            "user_id": events["user_id"].astype("category"),
            "quantity": events["quantity"].astype(float),
        }
    )
    keys = ["account_id", "day", "event", "user_id"]
    per_user = frame.groupby(keys, sort=True, observed=True).agg(
        events=("quantity", "size"), quantity=("quantity", "sum")
    )
    per_account = per_user.groupby(level=[0, 1, 2], observed=True).agg(
        events=("events", "sum"), quantity=("quantity", "sum"), users=("events", "size")
    )
    connection = sqlite3.connect(path)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.executemany(
        "INSERT INTO user_daily_usage (account_id, day, event, user_id, events, quantity) VALUES (?, ?, ?, ?, ?, ?)",
        per_user.reset_index().itertuples(index=False, name=None),
    )
    connection.executemany(
        "INSERT INTO daily_usage (account_id, day, event, events, quantity, users) VALUES (?, ?, ?, ?, ?, ?)",
        per_account.reset_index().itertuples(index=False, name=None),
    )
    connection.commit()
    connection.close()
    return len(per_user)


def prepare(path: Path, folder: Path, accounts: int, months: int, seed: int, today: dt.date) -> None:
    """A migrated database holding the generated portfolio (the events as rollups)."""
    database = make_database(f"sqlite:///{path}")
    upgrade(database.engine)
    clock = time.perf_counter()
    portfolio = generate_portfolio(accounts=accounts, months=months, seed=seed, end=today)
    files = write_portfolio(portfolio, folder)
    for kind, file in files.items():
        if kind != "events":
            import_file(database, kind, file, now=dt.datetime.now(dt.UTC))
    rows = load_rollups(path, portfolio.events)
    print(
        f"{accounts:,} accounts, {len(portfolio.events):,} events -> {rows:,} per-user rollup rows "
        f"(prepared in {time.perf_counter() - clock:.0f} s, not timed below)"
    )
    database.engine.dispose()


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
        settings = Settings(DATABASE_URL=f"sqlite:///{path}", DATA_DIR=folder / "data")
        for label in ("first run (trains the churn model)", "second run (reuses it)"):
            clock = time.perf_counter()
            report = run_pipeline(database, settings, today)
            total = time.perf_counter() - clock
            stages = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items())
            print(f"{label}: {total:.1f} s  ({stages}; target <= 180 s)")


if __name__ == "__main__":
    main()
