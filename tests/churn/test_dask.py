"""With CS_HEALTH_DASK_ADDRESS set, the nightly run's Prophet fits and churn scoring go to that Dask cluster, with
the same results."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import ChurnPrediction, UsageForecast
from cs_health.pipeline import CHURN, run_pipeline
from tests.conftest import CliInvoker

TODAY = dt.datetime.now(dt.UTC).date()


def results(database: Database) -> tuple[dict[str, tuple[str, float | None]], dict[str, tuple[float, list[str]]]]:
    with database.sessions() as session:
        forecasts = {
            row.account_id: (row.method, row.projected_level)
            for row in session.scalars(select(UsageForecast).where(UsageForecast.as_of == TODAY))
        }
        churn = {
            account: (probability, drivers)
            for account, probability, drivers in session.execute(
                select(ChurnPrediction.account_id, ChurnPrediction.probability_renewal, ChurnPrediction.drivers).where(
                    ChurnPrediction.as_of == TODAY
                )
            )
        }
    return forecasts, churn


@pytest.mark.slow
def test_the_forecast_fans_out_to_a_dask_cluster_with_the_same_results(
    cli: CliInvoker, database: Database, monkeypatch: pytest.MonkeyPatch
):
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setenv("CS_HEALTH_FORECAST_PROPHET", "true")
    get_settings.cache_clear()
    assert cli("demo", "--accounts", "30", "--months", "14", "--seed", "8", "--no-serve").exit_code == 0
    local_forecasts, local_churn = results(database)
    assert any(method == "prophet" for method, _ in local_forecasts.values())

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        monkeypatch.setenv("CS_HEALTH_DASK_ADDRESS", cluster.scheduler_address)
        monkeypatch.setenv("CS_HEALTH_SCORE_PARTITION_ACCOUNTS", "7")  # several scoring tasks for 30 accounts
        get_settings.cache_clear()
        with database.transaction() as session:  # drop the cached Prophet results so the cluster refits them
            for row in session.scalars(select(UsageForecast).where(UsageForecast.as_of == TODAY)):
                session.delete(row)
        run_pipeline(database, get_settings(), TODAY, (CHURN,))
        ran_there = set(cluster.scheduler.task_prefixes)
    assert {"fit_batch", "score_partition"} <= ran_there  # the Prophet fits and the scoring ran there
    dask_forecasts, dask_churn = results(database)
    assert dask_forecasts.keys() == local_forecasts.keys()
    for account, (method, level) in local_forecasts.items():
        assert dask_forecasts[account][0] == method
        assert dask_forecasts[account][1] == pytest.approx(level, rel=1e-6)
    assert dask_churn.keys() == local_churn.keys()
    for account, (probability, drivers) in local_churn.items():
        assert dask_churn[account] == (pytest.approx(probability, rel=1e-6), drivers)
