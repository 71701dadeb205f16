"""`cs-health run` stores one health score per active account and date; `export scores` writes the contract CSV."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import HealthScore, PipelineRun
from cs_health.health.export import EXPORT_COLUMNS
from tests.conftest import CliInvoker

AS_OF = dt.date.today()


@pytest.fixture
def portfolio(cli: CliInvoker, database: Database) -> Database:
    result = cli("demo", "--accounts", "30", "--months", "12", "--seed", "5", "--no-serve")
    assert result.exit_code == 0, result.stderr
    return database


def scores(database: Database, as_of: dt.date) -> dict[str, tuple[float | None, str]]:
    with database.sessions() as session:
        rows = session.execute(
            select(HealthScore.account_id, HealthScore.score, HealthScore.band).where(HealthScore.as_of == as_of)
        )
        return {account: (score, band) for account, score, band in rows}


def test_run_scores_every_active_account_and_rerunning_replaces(cli: CliInvoker, portfolio: Database):
    result = cli("run", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.stderr
    assert f"{AS_OF}: scored" in result.stdout
    first = scores(portfolio, AS_OF)
    assert first
    assert all(0 <= score <= 100 for score, _ in first.values() if score is not None)
    assert {band for _, band in first.values()} <= {"green", "yellow", "red", "unknown"}
    assert cli("run", "--as-of", AS_OF.isoformat()).exit_code == 0
    assert scores(portfolio, AS_OF) == first
    with portfolio.sessions() as session:
        stored = select(func.count()).select_from(HealthScore).where(HealthScore.as_of == AS_OF)
        assert session.scalar(stored) == len(first)
        runs = session.scalars(
            select(PipelineRun).where(PipelineRun.kind == "run", PipelineRun.as_of == AS_OF).order_by(PipelineRun.id)
        ).all()
    assert [run.status for run in runs[-2:]] == ["succeeded", "succeeded"]
    assert runs[-1].stats["health"]["accounts"] == len(first)


def test_each_score_keeps_components_reasons_and_trend(cli: CliInvoker, portfolio: Database):
    earlier = AS_OF - dt.timedelta(days=7)
    cli("run", "--as-of", earlier.isoformat())
    cli("run", "--as-of", AS_OF.isoformat())
    with portfolio.sessions() as session:
        row = session.scalars(select(HealthScore).where(HealthScore.as_of == AS_OF).limit(1)).one()
        before = session.get(HealthScore, (row.account_id, earlier))
    measures = row.components["measures"]
    assert measures
    assert {"measure", "points", "weight", "contribution", "missing"} <= set(measures[0])
    contributed = sum(m["contribution"] for m in measures if not m["missing"])
    assert contributed == pytest.approx(row.score, abs=0.05)
    assert row.components["explanation"]["summary"]
    assert row.lifecycle_stage in {"active", "silent", "sleeping", "churned"}
    assert row.quadrant.endswith(("_at_risk", "_healthy"))
    assert row.scorecard_version
    if before is not None and before.score is not None:
        assert row.trend_7d == pytest.approx(row.score - before.score, abs=0.05)


def test_export_scores_writes_the_contract_columns(cli: CliInvoker, portfolio: Database, tmp_path: Path):
    cli("run", "--as-of", AS_OF.isoformat())
    out = tmp_path / "scores.csv"
    result = cli("export", "scores", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == len(scores(portfolio, AS_OF))
    assert {row["as_of"] for row in rows} == {AS_OF.isoformat()}
    assert all(row["band"] in {"green", "yellow", "red", "unknown"} for row in rows)


def test_run_without_accounts_and_with_a_bad_date(cli: CliInvoker):
    assert "no active accounts" in cli("run", "--as-of", "2026-01-01").stdout
    bad = cli("run", "--as-of", "2026-13-01")
    assert bad.exit_code == 2
    assert "--as-of" in bad.stderr


def test_a_broken_scorecard_file_is_a_plain_error(cli: CliInvoker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cs_health.config import get_settings

    broken = tmp_path / "scorecard.toml"
    broken.write_text("version = [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("CS_HEALTH_SCORECARD_FILE", str(broken))
    get_settings.cache_clear()
    result = cli("run", "--as-of", "2026-01-01")
    assert result.exit_code == 2
    assert "scorecard" in result.stderr
    assert "Traceback" not in result.stderr
