"""The scheduler: stable job ids in the persistent job store, one copy of each after a restart, local times."""

from __future__ import annotations

import datetime as dt

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.db.tables.alerts import SchedulerJob
from cs_health.scheduler import MONTHLY_REPORTS_JOB_ID, NIGHTLY_JOB_ID, OUTBOX_JOB_ID, build_scheduler, nightly_as_of


def start_and_stop(database: Database, settings: Settings) -> dict[str, object]:
    scheduler = build_scheduler(database, settings, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        return {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)


def test_jobs_are_stored_once_with_stable_ids_across_restarts(database: Database):
    settings = Settings(NIGHTLY_RUN_AT="03:30", TIMEZONE="Europe/Paris")
    jobs = start_and_stop(database, settings)
    assert set(jobs) == {NIGHTLY_JOB_ID, OUTBOX_JOB_ID, MONTHLY_REPORTS_JOB_ID}
    nightly = jobs[NIGHTLY_JOB_ID]
    assert (nightly.max_instances, nightly.coalesce) == (1, True)
    assert nightly.misfire_grace_time == settings.SCHEDULER_MISFIRE_GRACE_SECONDS
    assert "hour='3', minute='30'" in str(nightly.trigger)
    assert nightly.next_run_time.strftime("%H:%M") == "03:30"
    start_and_stop(database, settings)  # a restart replaces, never duplicates
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SchedulerJob)) == 3


def test_the_nightly_as_of_is_the_local_date():
    settings = Settings(TIMEZONE="Pacific/Auckland")
    assert nightly_as_of(settings, dt.datetime(2026, 1, 5, 20, 0, tzinfo=dt.UTC)) == dt.date(2026, 1, 6)
