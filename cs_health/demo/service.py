"""`cs-health demo`: a synthetic portfolio, loaded through the real import path, then every pipeline stage.

The demo refuses to touch a database that holds real (non-demo) data; a previous demo database is rebuilt,
so running the demo again never doubles its data.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from cs_health.audit.schemas import Actor
from cs_health.config import get_settings
from cs_health.dashboard.service import create_user
from cs_health.db.engine import Database, database_for
from cs_health.db.migrate import upgrade
from cs_health.db.tables import PipelineRun
from cs_health.demo import repository
from cs_health.demo.generator import generate_portfolio, write_portfolio
from cs_health.exceptions import Conflict
from cs_health.ingestion.service import import_file
from cs_health.pipeline import HEALTH, STAGES, run_pipeline
from cs_health.progress import Progress

ProgressFactory = Callable[[str], AbstractContextManager[Progress]]


@dataclass
class DemoTimings:
    stages: dict[str, float] = field(default_factory=dict)

    def total(self) -> float:
        return sum(self.stages.values())


def prepare_database(database: Database) -> None:
    """Creates the schema, then wipes a previous demo; refuses a database holding someone's real data."""
    upgrade(database.engine)
    with database.transaction() as session:
        accounts = repository.account_count(session)
        if not accounts:
            return
        if not repository.is_demo_database(session):
            url = database.engine.url.render_as_string(hide_password=True)
            raise Conflict(
                f"the database {url} already holds {accounts} accounts that are not demo data; "
                "point CS_HEALTH_DATABASE_URL at another database to run the demo"
            )
        repository.wipe(session)


def history_dates(today: dt.date, months: int = 6) -> list[dt.date]:
    """Monthly dates back `months` months, then a week ago and today: enough for history charts and trends."""
    monthly = [today - dt.timedelta(days=30 * back) for back in range(months, 0, -1)]
    return [*monthly, today - dt.timedelta(days=7), today]


def run_demo(
    *,
    accounts: int,
    seed: int,
    months: int,
    today: dt.date,
    console: Console,
    progress: ProgressFactory,
) -> DemoTimings:
    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    timings = DemoTimings()
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    clock = time.perf_counter()
    prepare_database(database)
    timings.stages["init"] = time.perf_counter() - clock

    clock = time.perf_counter()
    console.print(f"generating {accounts} accounts over {months} months (seed {seed}) ...", highlight=False)
    portfolio = generate_portfolio(accounts=accounts, months=months, seed=seed, end=today)
    folder = Path(settings.DATA_DIR) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_portfolio(portfolio, folder)
    timings.stages["generate"] = time.perf_counter() - clock
    console.print(f"wrote the portfolio to {folder}", highlight=False)

    for kind, path in files.items():
        clock = time.perf_counter()
        with progress(f"importing {kind}") as update:
            summary = import_file(
                database,
                kind,
                path,
                now=dt.datetime.now(dt.UTC),
                chunk_rows=settings.IMPORT_CHUNK_ROWS,
                on_progress=update,
            )
        timings.stages[f"import {kind}"] = time.perf_counter() - clock
        console.print(f"  {kind}: {summary.accepted:,} records", highlight=False)

    clock = time.perf_counter()
    history = history_dates(today)
    with progress("running the pipeline") as update:
        for done, day in enumerate(history, start=1):
            run_pipeline(database, settings, day, STAGES if day == today else (HEALTH,))
            update(done, len(history))
    timings.stages["pipeline"] = time.perf_counter() - clock
    console.print(
        f"ran the pipeline for {today} and scored {len(history) - 1} earlier dates (history for trends and charts)"
    )

    with database.transaction() as session:
        session.add(
            PipelineRun(
                kind=repository.DEMO_RUN,
                as_of=today,
                status="succeeded",
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                stats={"accounts": accounts, "seed": seed, "months": months, "seconds": timings.stages},
            )
        )
    login = create_demo_login(database)
    console.print(f"demo data ready in {timings.total():.1f} s", highlight=False)
    console.print(f"dashboard login: {login.email}  password: {login.password}", markup=False, highlight=False)
    return timings


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


DEMO_EMAIL = "demo@cs-health.example"


def create_demo_login(database: Database) -> DemoLogin:
    """An admin login for the demo dashboard, with a fresh random password (the demo database is rebuilt each
    time, so no password outlives the demo that printed it)."""
    password = secrets.token_urlsafe(12)
    with database.transaction() as session:
        create_user(session, DEMO_EMAIL, "admin", password, dt.datetime.now(dt.UTC), actor=Actor.system("demo"))
    return DemoLogin(email=DEMO_EMAIL, password=password)
