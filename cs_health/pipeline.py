"""The nightly run: every stage that exists, for one as-of date, recorded as a pipeline run.

Each run is one transaction, so a run killed half-way leaves the previous results in place and re-running the
date gives the same results; the run record is written separately so a failure is visible in `status`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cs_health.churn.service import ChurnRunSummary, run_churn
from cs_health.churn.service import history_days as churn_history_days
from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.db.tables import PipelineRun
from cs_health.exceptions import CSHealthError
from cs_health.health.repository import USAGE_HISTORY_DAYS
from cs_health.health.service import HealthRunSummary, run_health, scorecard_from
from cs_health.renewals.service import AlertRunSummary, run_alerts
from cs_health.run_inputs import PortfolioInputs
from cs_health.status import runs
from cs_health.trainings.service import TrainingRunSummary, email_contacts, run_trainings
from cs_health.trainings.service import start_usage as start_trainings_usage

HEALTH, TRAININGS, CHURN, ALERTS = "health", "trainings", "forecast+churn", "alerts"
STAGES = (HEALTH, TRAININGS, CHURN, ALERTS)  # alerts read the churn forecast, so they run last
READ = "read"  # the seconds spent reading the shared portfolio, reported beside the stages

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    as_of: dt.date
    seconds: dict[str, float] = field(default_factory=dict)
    health: HealthRunSummary | None = None
    trainings: TrainingRunSummary | None = None
    alerts: AlertRunSummary | None = None
    churn: ChurnRunSummary | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@contextmanager
def dask_client(settings: Settings) -> Iterator[Any]:
    """A client of the Dask cluster at CS_HEALTH_DASK_ADDRESS (forecast fits fan out there), else None;
    closed when the stage is done."""
    if not settings.DASK_ADDRESS:
        yield None
        return
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise CSHealthError(
            "CS_HEALTH_DASK_ADDRESS is set but dask is not installed: pip install 'cs-health[dask]'"
        ) from error
    with Client(settings.DASK_ADDRESS) as client:
        yield client


def run_pipeline(database: Database, settings: Settings, as_of: dt.date, stages: Collection[str] = STAGES) -> RunReport:
    """Runs `stages` (default all, in their fixed order) for `as_of` in one transaction, and records the run
    (succeeded or failed, with each stage's seconds) in a separate one so a failure stays visible."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown pipeline stage(s): {', '.join(sorted(unknown))}")
    with database.transaction() as session:
        abandoned = runs.mark_abandoned(session, _now())
        if abandoned:
            log.warning("marked pipeline run(s) %s abandoned: their process is gone", abandoned)
        record = PipelineRun(kind="run", as_of=as_of, status=runs.RUNNING, started_at=_now(), stats=runs.owner())
        session.add(record)
        session.flush()
        run_id = record.id
    report = RunReport(as_of=as_of)
    try:
        scorecard = scorecard_from(settings.SCORECARD_FILE)
        inputs = PortfolioInputs(as_of)
        with database.transaction() as session:
            # The trainings' own read starts before the run writes anything, in a reader process (see there).
            trainings_usage = start_trainings_usage(session, as_of) if TRAININGS in stages else None
            if history := _history_days(session, as_of, settings, stages):
                clock = time.perf_counter()
                # Read once, before the run writes anything: the nightly windows now, and beside them any older
                # days a retrain needs, collected when it does (cs_health/run_inputs.py).
                inputs.get(session, *_history_days(session, as_of, settings, stages, training=False), prefetch=history)
                report.seconds[READ] = round(time.perf_counter() - clock, 3)
            for stage in (name for name in STAGES if name in stages):
                clock = time.perf_counter()
                if stage == HEALTH:
                    report.health = run_health(
                        session,
                        as_of,
                        scorecard=scorecard,
                        key_features=settings.KEY_FEATURES,
                        computed_at=_now(),
                        inputs=inputs,
                    )
                elif stage == TRAININGS:
                    report.trainings = run_trainings(
                        session, as_of, _now(), key_features=settings.KEY_FEATURES, usage=trainings_usage
                    )
                    if settings.TRAININGS_EMAIL_CONTACTS:
                        email_contacts(session, as_of, roles=settings.TRAINING_CONTACT_ROLES, now=_now())
                elif stage == CHURN:
                    with dask_client(settings) as client:
                        report.churn = run_churn(
                            session,
                            as_of,
                            settings=settings,
                            scorecard=scorecard,
                            now=_now(),
                            client=client,
                            inputs=inputs,
                        )
                else:
                    report.alerts = run_alerts(session, as_of, settings=settings, now=_now())
                report.seconds[stage] = round(time.perf_counter() - clock, 3)
    except Exception as error:
        _finish(database, run_id, "failed", report, error=f"{type(error).__name__}: {error}")
        raise
    _finish(database, run_id, "succeeded", report)
    return report


def _history_days(
    session: Session, as_of: dt.date, settings: Settings, stages: Collection[str], training: bool | None = None
) -> tuple[int, int] | None:
    """The widest (usage, per-user) history the chosen stages read from the shared portfolio, if any does
    (`training` as in cs_health.churn.service.history_days)."""
    if CHURN in stages:
        return churn_history_days(session, as_of, settings, training)
    return (USAGE_HISTORY_DAYS, USAGE_HISTORY_DAYS) if HEALTH in stages else None


def _finish(database: Database, run_id: int, status: str, report: RunReport, error: str | None = None) -> None:
    stats: dict[str, Any] = {"seconds": report.seconds}
    if report.health:
        stats["health"] = {"accounts": report.health.accounts, "bands": report.health.bands}
    if report.churn:
        stats["churn"] = {
            "accounts": report.churn.accounts,
            "prophet_fits": report.churn.prophet_fits,
            "model": report.churn.model_version,
            "trained": report.churn.trained,
            "arr_at_risk_90d": report.churn.arr_at_risk_90d,
        }
    if report.alerts:
        stats["alerts"] = {key: value for key, value in vars(report.alerts).items() if isinstance(value, int)}
    with database.transaction() as session:
        record = session.get_one(PipelineRun, run_id)
        record.status, record.finished_at, record.error = status, _now(), error
        record.stats = {**(record.stats or {}), **stats}  # keeps who ran it
