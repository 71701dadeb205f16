"""The forecast and churn stages on a real database: stored per account and date, trained models, the API,
the export, and strict as-of semantics (a run as of D ignores everything imported about D and later)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cs_health.config import get_settings
from cs_health.db.engine import Database, database_for
from cs_health.db.migrate import upgrade
from cs_health.db.tables import ChurnModelRecord, ChurnPrediction, HealthScore, UsageForecast
from cs_health.demo.generator import generate_portfolio, write_portfolio
from cs_health.ingestion.service import import_file
from cs_health.pipeline import run_pipeline
from tests.conftest import CliInvoker, KeyMaker, bearer

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def demo(cli: CliInvoker, database: Database) -> Database:
    """A small demo portfolio: imported, scored for history, and run through every stage for today."""
    assert cli("demo", "--accounts", "25", "--months", "12", "--seed", "3", "--no-serve").exit_code == 0
    return database


def count(database: Database, table: type, as_of: dt.date) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(table).where(table.as_of == as_of)) or 0


def test_run_forecasts_and_predicts_every_scored_account_and_reruns_replace(cli: CliInvoker, demo: Database):
    scored = count(demo, HealthScore, TODAY)
    assert scored > 0
    assert count(demo, UsageForecast, TODAY) == scored
    assert count(demo, ChurnPrediction, TODAY) == scored
    with demo.sessions() as session:
        predictions = session.scalars(select(ChurnPrediction).where(ChurnPrediction.as_of == TODAY)).all()
        models = session.scalars(select(ChurnModelRecord)).all()
    assert len(models) == 1
    assert models[0].trained_as_of == TODAY
    for prediction in predictions:
        assert 0 <= prediction.probability_30d <= prediction.probability_90d <= 1
        assert 0 <= prediction.probability_renewal <= 1
        assert prediction.arr_at_risk == pytest.approx(prediction.probability_renewal * prediction.arr, abs=0.01)
        assert prediction.drivers
        assert all(isinstance(text, str) and text for text in prediction.drivers)
    before = {p.account_id: p.probability_renewal for p in predictions}

    assert cli("run", "--as-of", TODAY.isoformat()).exit_code == 0
    assert count(demo, ChurnPrediction, TODAY) == scored
    with demo.sessions() as session:
        again = dict(
            session.execute(
                select(ChurnPrediction.account_id, ChurnPrediction.probability_renewal).where(
                    ChurnPrediction.as_of == TODAY
                )
            ).all()
        )
        assert session.scalar(select(func.count()).select_from(ChurnModelRecord)) == 1  # reused, not retrained
    assert again == pytest.approx(before)


def test_train_prints_the_backtest_against_both_baselines(cli: CliInvoker, demo: Database):
    result = cli("train", "--as-of", TODAY.isoformat())
    assert result.exit_code == 0, result.stderr
    assert "trained churn-model-1-" in result.stdout
    if "no backtest" not in result.stdout:
        for scorer in ("churn_model", "health_score", "days_to_renewal"):
            assert scorer in result.stdout
    with demo.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChurnModelRecord)) == 2


def test_model_portfolio_usage_and_account_api(client: TestClient, make_key: KeyMaker, demo: Database):
    key = bearer(make_key("read"))
    model = client.get("/api/v1/model", headers=key)
    assert model.status_code == 200
    assert model.json()["trained_as_of"] == TODAY.isoformat()
    portfolio = client.get("/api/v1/portfolio", headers=key).json()
    assert portfolio["as_of"] == TODAY.isoformat()
    assert portfolio["arr"] == pytest.approx(sum(portfolio["arr_by_band"].values()), rel=1e-6)
    assert set(portfolio["arr_at_risk"]) == {"30d", "90d", "180d"}
    assert portfolio["arr_at_risk"]["30d"] <= portfolio["arr_at_risk"]["90d"] <= portfolio["arr_at_risk"]["180d"]
    low, high = portfolio["grr_interval"]
    assert 0 <= low <= portfolio["grr_next_quarter"] <= high <= 1
    with demo.sessions() as session:
        account_id = session.scalars(select(ChurnPrediction.account_id).limit(1)).one()
    usage = client.get(f"/api/v1/accounts/{account_id}/usage?days=90", headers=key).json()
    assert usage["days"]
    assert usage["forecast"]["horizon_end"] >= TODAY.isoformat()
    account = client.get(f"/api/v1/accounts/{account_id}", headers=key).json()
    assert account["churn"]["drivers"]
    assert client.get("/api/v1/accounts/nope/usage", headers=key).status_code == 404


def test_model_is_404_before_any_training(client: TestClient, make_key: KeyMaker):
    response = client.get("/api/v1/model", headers=bearer(make_key("read")))
    assert response.status_code == 404
    assert "cs-health train" in response.json()["error"]["message"]


def test_export_has_the_churn_columns(cli: CliInvoker, demo: Database, tmp_path: Path):
    out = tmp_path / "scores.csv"
    assert cli("export", "scores", "--out", str(out)).exit_code == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert all(row["churn_probability_90d"] != "" and row["arr_at_risk"] != "" for row in rows)
    assert all(0 <= float(row["churn_probability_renewal"]) <= 1 for row in rows)


def _truncate(portfolio: object, cut: dt.date) -> object:
    """The portfolio as it was known before `cut`: every row with a time on or after it is dropped."""
    stamp = pd.Timestamp(cut, tz="UTC")
    naive = pd.Timestamp(cut)
    frames = {}
    for name, column in (
        ("events", "timestamp"),
        ("tickets", "opened_at"),
        ("nps", "responded_at"),
        ("touchpoints", "at"),
    ):
        frame = getattr(portfolio, name)
        frames[name] = frame[frame[column] < stamp]
    subscriptions = portfolio.subscriptions
    frames["subscriptions"] = subscriptions[subscriptions["start_date"] < naive]
    return type(portfolio)(**{**portfolio.__dict__, **frames})


def _load_and_run(folder: Path, url: str, as_of: dt.date) -> dict[str, tuple[float, float]]:
    database = database_for(url)
    upgrade(database.engine)
    for kind, path in write_portfolio(_portfolio_cache[folder.name], folder).items():
        import_file(database, kind, path, now=dt.datetime.now(dt.UTC))
    run_pipeline(database, get_settings(), as_of)
    with database.sessions() as session:
        health = dict(
            session.execute(select(HealthScore.account_id, HealthScore.score).where(HealthScore.as_of == as_of)).all()
        )
        churn = dict(
            session.execute(
                select(ChurnPrediction.account_id, ChurnPrediction.probability_renewal).where(
                    ChurnPrediction.as_of == as_of
                )
            ).all()
        )
    database.engine.dispose()
    return {account: (health[account], churn[account]) for account in health}


_portfolio_cache: dict[str, object] = {}


@pytest.mark.slow
@pytest.mark.usefixtures("database_url")
def test_a_run_as_of_d_is_the_same_whether_or_not_later_data_was_imported(tmp_path: Path):
    end = TODAY
    as_of = end - dt.timedelta(days=75)
    portfolio = generate_portfolio(accounts=40, months=14, seed=21, end=end)
    _portfolio_cache["full"] = portfolio
    _portfolio_cache["known"] = _truncate(portfolio, as_of)
    results = {}
    for name in ("full", "known"):
        folder = tmp_path / name
        folder.mkdir()
        results[name] = _load_and_run(folder, f"sqlite:///{tmp_path / name}.db", as_of)
    assert results["full"]
    assert results["full"].keys() == results["known"].keys()
    for account, (score, probability) in results["full"].items():
        known_score, known_probability = results["known"][account]
        assert score == pytest.approx(known_score, abs=1e-9), account
        assert probability == pytest.approx(known_probability, abs=1e-9), account
    assert json.dumps(sorted(results["full"])) == json.dumps(sorted(results["known"]))
