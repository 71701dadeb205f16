"""Dashboard latency: the portfolio page's server time over many sort / filter / page combinations.

Inserts a synthetic book in bulk through SQLAlchemy Core (accounts, two subscription terms each, eight scored
dates of health, a churn prediction per account, a few overrides), logs in, and times requests through the
in-process ASGI client (server time plus a little client overhead; no network).

    python benchmarks/dashboard.py [--accounts 10000] [--requests 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from cs_health.db.engine import make_database, normalise_url
from cs_health.db.migrate import upgrade
from cs_health.db.tables import Account, ChurnPrediction, HealthOverride, HealthScore, Subscription

SEGMENTS = ("smb", "mid_market", "enterprise")
STAGES = ("active", "silent", "sleeping")
QUADRANTS = ("high_value_at_risk", "high_value_healthy", "low_value_at_risk", "low_value_healthy")
CSMS = [f"csm{n}@cs.example" for n in range(25)]
PASSWORD = "benchmark password"


def band_of(score: float) -> str:
    return "green" if score >= 70 else "yellow" if score >= 40 else "red"


def populate(url: str, accounts: int, today: dt.date, seed: int = 7) -> None:
    """A synthetic book, inserted in bulk (executemany) in one transaction."""
    rng = random.Random(seed)
    database = make_database(url)
    upgrade(database.engine)
    now = dt.datetime.now()
    ids = [f"acc-{n:06d}" for n in range(accounts)]
    account_rows, term_rows, score_rows, churn_rows = [], [], [], []
    for account_id in ids:
        segment = rng.choice(SEGMENTS)
        arr = round(rng.lognormvariate(10, 1.0), 2)
        account_rows.append(
            {
                "account_id": account_id,
                "name": f"Company {account_id}",
                "segment": segment,
                "csm_email": rng.choice(CSMS),
                "plan": "pro",
                "tags": [],
                "source": "import",
            }
        )
        end = today + dt.timedelta(days=rng.randint(-30, 365))
        for term, (start, stop) in enumerate(
            ((end - dt.timedelta(days=730), end - dt.timedelta(days=365)), (end - dt.timedelta(days=365), end))
        ):
            term_rows.append(
                {
                    "subscription_id": f"{account_id}-{term}",
                    "account_id": account_id,
                    "start_date": start,
                    "end_date": stop,
                    "mrr": arr / 12,
                    "arr": arr,
                    "plan": "pro",
                    "seats": rng.randint(5, 500),
                    "status": "active",
                }
            )
        base = rng.uniform(10, 98)
        for days in range(0, 56, 7):
            score = max(0.0, min(100.0, base + rng.gauss(0, 5)))
            score_rows.append(
                {
                    "account_id": account_id,
                    "as_of": today - dt.timedelta(days=days),
                    "score": score,
                    "band": band_of(score),
                    "trend_7d": rng.gauss(0, 4),
                    "trend_30d": rng.gauss(0, 8),
                    "components": {},
                    "lifecycle_stage": rng.choice(STAGES),
                    "quadrant": rng.choice(QUADRANTS),
                    "scorecard_version": "bench",
                    "computed_at": now,
                }
            )
        p = rng.betavariate(1.5, 8)
        churn_rows.append(
            {
                "account_id": account_id,
                "as_of": today,
                "probability_30d": p / 3,
                "probability_90d": p,
                "probability_renewal": min(1.0, p * 1.3),
                "renewal_date": end,
                "arr": arr,
                "arr_at_risk": p * arr,
                "drivers": [],
                "is_fallback": False,
                "model_version": "bench",
            }
        )
    overrides = [
        {
            "account_id": account_id,
            "band": "green",
            "reason": "bench",
            "expires_on": today + dt.timedelta(days=30),
            "created_by": CSMS[0],
            "created_at": now,
        }
        for account_id in rng.sample(ids, max(1, accounts // 100))
    ]
    with database.engine.begin() as connection:
        for table, rows in (
            (Account, account_rows),
            (Subscription, term_rows),
            (HealthScore, score_rows),
            (ChurnPrediction, churn_rows),
            (HealthOverride, overrides),
        ):
            for start in range(0, len(rows), 5_000):
                connection.execute(insert(table), rows[start : start + 5_000])
    database.engine.dispose()


def parameter_sets(count: int, seed: int = 11) -> list[dict[str, str]]:
    """Different sort / filter / page / scope combinations, cycled."""
    rng = random.Random(seed)
    sorts = ("name", "arr", "score", "trend", "band", "churn", "renewal", "stage", "csm", "segment")
    sets = []
    for n in range(count):
        params = {"sort": sorts[n % len(sorts)], "order": rng.choice(("asc", "desc")), "scope": "all"}
        choice = n % 6
        if choice == 1:
            params["band"] = rng.choice(("red", "yellow", "green"))
        elif choice == 2:
            params["segment"] = rng.choice(SEGMENTS)
            params["stage"] = rng.choice(STAGES)
        elif choice == 3:
            params["renewal_days"] = rng.choice(("30", "90", "180"))
        elif choice == 4:
            params["csm"] = rng.choice(CSMS)
        elif choice == 5:
            params["q"] = f"{rng.randint(0, 99):02d}"
        params["page"] = str(rng.choice((1, 1, 2, 5, 20, 200)))
        sets.append(params)
    return sets


def measure(url: str, requests: int) -> list[float]:
    os.environ["CS_HEALTH_DATABASE_URL"] = url
    from fastapi.testclient import TestClient

    from cs_health.app import create_app
    from cs_health.audit.schemas import Actor
    from cs_health.config import get_settings
    from cs_health.dashboard import service
    from cs_health.dashboard.endpoints import router
    from cs_health.db.engine import database_for

    get_settings.cache_clear()
    with database_for(url).transaction() as session:
        service.create_user(session, "admin@cs.example", "admin", PASSWORD, dt.datetime.now(dt.UTC), actor=Actor.cli())
    app = create_app()
    if not any(getattr(route, "path", None) == "/portfolio" for route in app.routes):
        app.include_router(router)
    timings = []
    with TestClient(app) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"email": "admin@cs.example", "password": PASSWORD, "csrf_token": token})
        for params in itertools.islice(itertools.cycle(parameter_sets(50)), 5):  # warm-up
            client.get("/portfolio", params=params)
        for params in parameter_sets(requests):
            started = time.perf_counter()
            response = client.get("/portfolio", params=params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text[:500]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a scratch database is created and dropped")
    args = parser.parse_args()
    today = dt.date.today()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CS_HEALTH_DATA_DIR"] = str(Path(folder) / "data")
        admin = None
        if args.postgres:
            server = make_url(normalise_url(args.postgres))
            name = f"cs_health_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = server.set(database=name).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            started = time.perf_counter()
            populate(url, args.accounts, today)
            loaded = time.perf_counter() - started
            timings = measure(url, args.requests)
        finally:
            if admin is not None:
                from cs_health.db.engine import database_for

                database_for.cache_clear()
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    quantiles = statistics.quantiles(timings, n=100)
    dialect = "postgresql" if args.postgres else "sqlite"
    sys.stdout.write(
        f"portfolio page, {args.accounts:,} accounts ({dialect}), {len(timings)} requests "
        f"(data loaded in {loaded:.1f} s)\n"
        f"  p50 {statistics.median(timings):.1f} ms   p95 {quantiles[94]:.1f} ms   max {max(timings):.1f} ms\n"
    )


if __name__ == "__main__":
    main()
