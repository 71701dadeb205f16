"""The one scheduler process (`cs-health scheduler`): the nightly run, outbox delivery, monthly reports.

APScheduler 3 with its job store in the application database, `max_instances=1`, `coalesce=True` and a misfire
grace, jobs with stable ids (re-registered on start, so a restart neither duplicates nor loses them). It is
never started by the web app: every web worker would run every job.

On top of that, every job runs under a lease row (`scheduler_lease`): a job runs only in the process holding
its lease, taken with an atomic UPDATE ... WHERE expires_at <= now OR holder = me (or an INSERT when absent), so
two scheduler processes started by mistake never run the same job at once. The lease lasts a job's longest
expected run (LEASE_SECONDS) and is released when the job ends; a crashed holder's lease simply expires.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from cs_health.auth.dependencies import write_transaction
from cs_health.config import Settings, get_settings
from cs_health.db.engine import Database, database_for
from cs_health.renewals import repository
from cs_health.renewals.jobs import OUTBOX_INTERVAL_SECONDS, OUTBOX_JOB_ID, DeliverySummary, deliver_outbox

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID, MONTHLY_REPORTS_JOB_ID = "nightly-run", "monthly-reports"
JOB_TABLE = "apscheduler_jobs"  # declared in cs_health.db.tables.alerts, created by the migrations
LEASE_SECONDS = {NIGHTLY_JOB_ID: 6 * 3600, OUTBOX_JOB_ID: 15 * 60, MONTHLY_REPORTS_JOB_ID: 6 * 3600}
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process, unique across restarts
T = TypeVar("T")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@contextmanager
def lease(
    database: Database,
    job_id: str,
    holder: str = HOLDER,
    seconds: int | None = None,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> Iterator[bool]:
    """Yields whether this holder got the job's lease (run the job only then); releases it afterwards."""
    now = clock()
    until = now + dt.timedelta(seconds=seconds or LEASE_SECONDS.get(job_id, 3600))
    with write_transaction(database) as session:
        acquired = repository.acquire_lease(session, job_id, holder, now, until)
    try:
        yield acquired
    finally:
        if acquired:
            with write_transaction(database) as session:
                repository.release_lease(session, job_id, holder, clock())


def run_leased(database: Database, job_id: str, work: Callable[[], T], holder: str = HOLDER) -> T | None:
    """Runs `work` if this holder gets the lease, else skips it (another scheduler is running it)."""
    with lease(database, job_id, holder) as acquired:
        if not acquired:
            log.info("job %s skipped: another scheduler process holds its lease", job_id)
            return None
        return work()


def nightly_as_of(settings: Settings, now: dt.datetime | None = None) -> dt.date:
    """Today in the configured time zone: the nightly run scores the days before it."""
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(ZoneInfo(settings.TIMEZONE)).date()


# Job entry points: module-level and argument-free, so the persistent job store keeps only a reference.


def nightly_job() -> None:
    """The nightly pipeline run for today (local date)."""
    from cs_health.pipeline import run_pipeline

    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    as_of = nightly_as_of(settings)
    report = run_leased(database, NIGHTLY_JOB_ID, lambda: run_pipeline(database, settings, as_of))
    if report is not None:
        log.info("nightly run %s finished: %s", as_of, report.seconds)


def outbox_job() -> DeliverySummary | None:
    """Delivers due e-mail."""
    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    summary = run_leased(
        database, OUTBOX_JOB_ID, lambda: deliver_outbox(database, settings, now=dt.datetime.now(dt.UTC))
    )
    if summary is not None and summary.attempted:
        log.info(
            "outbox: %s sent, %s written, %s retrying, %s failed",
            summary.sent,
            summary.written,
            summary.retrying,
            summary.failed,
        )
    return summary


def monthly_reports_job() -> None:
    """Last month's client and internal reports for every active account, archived and e-mailed through the
    outbox, on REPORTS_DAY_OF_MONTH (the job runs daily and does nothing on other days)."""
    from cs_health.qbr.jobs import generate_monthly_reports

    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    today = dt.datetime.now(ZoneInfo(settings.TIMEZONE)).date()
    summary = run_leased(database, MONTHLY_REPORTS_JOB_ID, lambda: generate_monthly_reports(database, settings, today))
    if summary is not None:
        log.info("monthly reports for %s: %s", today, summary)


def build_scheduler(
    database: Database, settings: Settings, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> BaseScheduler:
    """The scheduler with its persistent job store and the three jobs (replacing any stored versions)."""
    timezone = ZoneInfo(settings.TIMEZONE)
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=database.engine, tablename=JOB_TABLE)},
        executors={"default": {"type": "threadpool", "max_workers": 3}},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.SCHEDULER_MISFIRE_GRACE_SECONDS,
        },
        timezone=timezone,
    )
    hour, minute = (int(part) for part in settings.NIGHTLY_RUN_AT.split(":"))
    jobs: list[tuple[str, str, Any, str]] = [
        (
            NIGHTLY_JOB_ID,
            "cs_health.scheduler:nightly_job",
            CronTrigger(hour=hour, minute=minute, timezone=timezone),
            "nightly run",
        ),
        (
            OUTBOX_JOB_ID,
            "cs_health.scheduler:outbox_job",
            IntervalTrigger(seconds=OUTBOX_INTERVAL_SECONDS),
            "outbox delivery",
        ),
        (
            MONTHLY_REPORTS_JOB_ID,
            "cs_health.scheduler:monthly_reports_job",
            CronTrigger(hour=6, minute=0, timezone=timezone),
            "monthly client reports",
        ),
    ]
    for job_id, reference, trigger, name in jobs:
        scheduler.add_job(reference, trigger, id=job_id, name=name, replace_existing=True)
    return scheduler


def run_scheduler(database: Database, settings: Settings, announce: Callable[[str], None]) -> None:
    """Runs the scheduler in the foreground until interrupted (Ctrl+C or SIGTERM)."""
    scheduler = build_scheduler(database, settings)
    announce(
        f"scheduler {HOLDER}: nightly run at {settings.NIGHTLY_RUN_AT} {settings.TIMEZONE}, "
        f"outbox every {OUTBOX_INTERVAL_SECONDS} s, monthly reports on day {settings.REPORTS_DAY_OF_MONTH} "
        "of each month (Ctrl+C to stop)"
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)
