"""`cs-health run` killed with SIGKILL in the middle of a stage: the run's one transaction leaves nothing half
written, the dead run is reported abandoned rather than running forever, and re-running the date stores exactly
what a clean run on a copy of the same database stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from cs_health.db.engine import Database
from cs_health.db.tables import HealthScore, PipelineRun
from tests.conftest import CliInvoker
from tests.crash.conftest import AS_OF, load
from tests.crash.support import RUN_RESULTS, cli_process, database_copy, kill, run_cli, snapshot, wait_until, writing

pytestmark = pytest.mark.slow


def runs(database: Database) -> list[PipelineRun]:
    with database.sessions() as session:
        return list(session.scalars(select(PipelineRun).where(PipelineRun.kind == "run").order_by(PipelineRun.id)))


@pytest.fixture(autouse=True)
def mail_for_the_past(monkeypatch: pytest.MonkeyPatch) -> None:
    """AS_OF lies in the past, where alerts are recorded but not mailed (a backfill): mail them anyway, and the
    training suggestions to contacts too, so the outbox is part of what is compared."""
    monkeypatch.setenv("CS_HEALTH_ALERT_MAIL_MAX_AGE_DAYS", "100000")
    monkeypatch.setenv("CS_HEALTH_TRAININGS_EMAIL_CONTACTS", "true")


def test_a_run_killed_mid_stage_is_abandoned_and_its_rerun_equals_a_clean_run(
    cli: CliInvoker, database: Database, database_url: str, portfolio_files: dict[str, Path], tmp_path: Path
):
    load(cli, portfolio_files)
    with database_copy(database_url, tmp_path) as clean_url:
        clean = run_cli("run", "--as-of", AS_OF.isoformat(), url=clean_url)
        assert clean.returncode == 0, clean.stderr
        expected = snapshot(clean_url, RUN_RESULTS)
    assert all(expected[name] for name in ("health_score", "churn_prediction", "alert", "outbox")), (
        "too little to compare"
    )

    process = cli_process("run", "--as-of", AS_OF.isoformat(), url=database_url)
    wait_until(lambda: any(run.status == "running" for run in runs(database)), process, "the run was recorded")
    wait_until(lambda: writing(database_url), process, "a stage started writing")
    kill(process)

    [killed] = runs(database)
    assert (killed.status, killed.stats["pid"]) == ("running", process.pid)
    assert json.loads(cli("status").stdout)["last_run"]["status"] == "abandoned"  # seen as dead before any re-run
    with database.sessions() as session:
        assert session.scalars(select(HealthScore).where(HealthScore.as_of == AS_OF)).first() is None

    rerun = run_cli("run", "--as-of", AS_OF.isoformat(), url=database_url)
    assert rerun.returncode == 0, rerun.stderr
    killed, finished = runs(database)
    assert (killed.status, finished.status) == ("abandoned", "succeeded")
    assert str(process.pid) in (killed.error or "")
    assert snapshot(database_url, RUN_RESULTS) == expected
