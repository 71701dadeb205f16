"""The nightly run: every stage that exists, for one as-of date, recorded as a pipeline run.

Each run is one transaction, so a run killed half-way leaves the previous results in place and re-running the
date gives the same results; the run record is written separately so a failure is visible in `status`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.db.tables import PipelineRun
from cs_health.health.service import HealthRunSummary, run_health, scorecard_from
from cs_health.renewals.service import AlertRunSummary, run_alerts
from cs_health.trainings.service import TrainingRunSummary, run_trainings


@dataclass
class RunReport:
    as_of: dt.date
    seconds: dict[str, float] = field(default_factory=dict)
    health: HealthRunSummary | None = None
    trainings: TrainingRunSummary | None = None
    alerts: AlertRunSummary | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def run_pipeline(database: Database, settings: Settings, as_of: dt.date) -> RunReport:
    """Runs the stages for `as_of` and records the run (succeeded or failed, with each stage's seconds)."""
    with database.transaction() as session:
        record = PipelineRun(kind="run", as_of=as_of, status="running", started_at=_now(), stats={})
        session.add(record)
        session.flush()
        run_id = record.id
    report = RunReport(as_of=as_of)
    try:
        scorecard = scorecard_from(settings.SCORECARD_FILE)
        with database.transaction() as session:
            clock = time.perf_counter()
            report.health = run_health(
                session, as_of, scorecard=scorecard, key_features=settings.KEY_FEATURES, computed_at=_now()
            )
            report.seconds["health"] = round(time.perf_counter() - clock, 3)
            clock = time.perf_counter()
            report.trainings = run_trainings(session, as_of, _now(), key_features=settings.KEY_FEATURES)
            report.seconds["trainings"] = round(time.perf_counter() - clock, 3)
            clock = time.perf_counter()
            report.alerts = run_alerts(session, as_of, settings=settings, now=_now())
            report.seconds["alerts"] = round(time.perf_counter() - clock, 3)
    except Exception as error:
        _finish(database, run_id, "failed", report, error=f"{type(error).__name__}: {error}")
        raise
    _finish(database, run_id, "succeeded", report)
    return report


def _finish(database: Database, run_id: int, status: str, report: RunReport, error: str | None = None) -> None:
    stats: dict[str, Any] = {"seconds": report.seconds}
    if report.health:
        stats["health"] = {"accounts": report.health.accounts, "bands": report.health.bands}
    with database.transaction() as session:
        record = session.get_one(PipelineRun, run_id)
        record.status, record.finished_at, record.stats, record.error = status, _now(), stats, error
