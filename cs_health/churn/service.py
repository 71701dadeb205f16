"""The forecast and churn stages of the nightly run, `cs-health train`, and the figures the API serves.

The analytics live in models/ (forecast, churn, backtest); this module loads their inputs set-based, keeps the
trained model as versioned JSON in the database, and stores one forecast and one prediction per account and date.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from cs_health.churn import repository
from cs_health.churn.schemas import (
    ChurnView,
    ForecastView,
    ModelView,
    PortfolioView,
    ScorerFigures,
    UsagePoint,
    UsageView,
)
from cs_health.config import Settings
from cs_health.db.tables import ChurnModelRecord
from cs_health.health import repository as health_repository
from cs_health.health.service import json_ready
from cs_health.run_inputs import PortfolioInputs
from models import backtest as metrics
from models.churn import (
    OBSERVATION_USAGE_DAYS,
    OBSERVATION_USER_DAYS,
    PORTFOLIO_HORIZONS,
    PROBABILITY_RENEWAL,
    TEXT,
    BacktestReport,
    ChurnModel,
    FeatureMemo,
    backtest,
    build_training_set,
    churn_features,
    in_day_order,
    portfolio_forecast,
    probability_column,
    score_partition,
)
from models.features import ARR, DAYS_TO_RENEWAL, RENEWAL_DATE, TERM_DAYS
from models.forecast import (
    ANOMALY,
    CURRENT_LEVEL,
    FINGERPRINT,
    HORIZON_DAYS,
    LOWER,
    METHOD,
    PROJECTED_LEVEL,
    TREND,
    UPPER,
    YHAT,
    daily_series,
    start_forecast,
)
from models.scorecard import Scorecard

FORECAST_VERSION = "usage-forecast-1"
FORECAST_HISTORY_DAYS = OBSERVATION_USAGE_DAYS  # a year of series for Prophet plus the features' windows
TRAINING_HISTORY_DAYS = 3_650
# The backtest trains this many days before the as-of date and tests on what followed; a multiple of the
# observation spacing (30 days), so the final fit reuses every observation's features (models.churn.FeatureMemo).
BACKTEST_DAYS = 90


@dataclass
class ChurnRunSummary:
    as_of: dt.date
    accounts: int = 0
    prophet_fits: int = 0
    anomalies: int = 0
    model_version: str = ""
    model_is_fallback: bool = False
    trained: bool = False
    arr_at_risk_90d: float = 0.0


@dataclass
class TrainResult:
    record: ChurnModelRecord
    report: BacktestReport | None
    notes: list[str] = field(default_factory=list)


def train(
    session: Session,
    as_of: dt.date,
    *,
    settings: Settings,
    scorecard: Scorecard,
    now: dt.datetime,
    inputs: PortfolioInputs | None = None,
) -> TrainResult:
    """Backtests out of time, then fits on every label whose window closed before `as_of`, and stores the model."""
    data = in_day_order((inputs or PortfolioInputs(as_of)).get(session, TRAINING_HISTORY_DAYS))
    options: dict[str, Any] = {
        "churn_grace_days": settings.CHURN_GRACE_DAYS,
        "key_features": settings.KEY_FEATURES or None,
        "scorecard": scorecard,
    }
    notes: list[str] = []
    report: BacktestReport | None = None
    memo: FeatureMemo = {}
    try:
        report = backtest(data, as_of - dt.timedelta(days=BACKTEST_DAYS), as_of, memo=memo, **options)
    except ValueError as error:
        notes.append(f"no backtest: {error}")
    observations, labels = build_training_set(data, as_of, memo=memo, **options)
    model = ChurnModel().fit(observations, labels)
    if model.is_fallback:
        notes.append(model.reason)
    record = ChurnModelRecord(
        trained_as_of=as_of,
        version=f"churn-model-1-{as_of:%Y%m%d}" + ("-prior" if model.is_fallback else ""),
        parameters=json.loads(model.to_json()),
        backtest=backtest_document(report),
        created_at=now.replace(tzinfo=None),
        notes="; ".join(notes) or None,
    )
    repository.add_model(session, record)
    return TrainResult(record=record, report=report, notes=notes)


def backtest_document(report: BacktestReport | None) -> dict[str, Any]:
    """The backtest as stored JSON: one row per (horizon, scorer) and the calibration tables."""
    if report is None:
        return {}
    rows = [
        {"horizon_days": int(horizon), "scorer": scorer, **values}
        for (horizon, scorer), values in report.metrics.to_dict("index").items()
    ]
    calibration = {
        f"{horizon}d/{scorer}": table.to_dict("records") for (horizon, scorer), table in report.calibration.items()
    }
    window = {
        "train_as_of": report.train_as_of.isoformat(),
        "as_of": report.as_of.isoformat(),
        "test_dates": [day.isoformat() for day in report.test_dates],
    }
    return json_ready({"metrics": rows, "calibration": calibration, "window": window})


def run_churn(
    session: Session,
    as_of: dt.date,
    *,
    settings: Settings,
    scorecard: Scorecard,
    now: dt.datetime,
    client: Any = None,
    inputs: PortfolioInputs | None = None,
) -> ChurnRunSummary:
    """Forecasts every active account's usage to its renewal and predicts its churn; trains a model first when
    none exists yet or the newest is older than CHURN_RETRAIN_DAYS."""
    summary = ChurnRunSummary(as_of=as_of)
    inputs = inputs or PortfolioInputs(as_of)
    data = inputs.get(session, *history_days(session, as_of, settings, training=False))
    series = daily_series(data)
    features = churn_features(data, as_of, settings.KEY_FEATURES or None, scorecard, series)
    if features.empty:
        repository.replace_forecasts(session, as_of, [])
        repository.replace_predictions(session, as_of, [])
        return summary
    # Prophet fits run in worker processes while this one trains and scores (the model reads no Prophet output).
    with start_forecast(
        series,
        as_of,
        features[DAYS_TO_RENEWAL].fillna(0.0),
        cache=repository.forecast_cache(session, as_of),
        use_prophet=settings.FORECAST_PROPHET,
        n_jobs=settings.FORECAST_JOBS,
        client=client,
    ) as pending:
        record = repository.model_for(session, as_of)
        if _retrain_due(record, as_of, settings):
            record = train(session, as_of, settings=settings, scorecard=scorecard, now=now, inputs=inputs).record
            summary.trained = True
        model_json = json.dumps(record.parameters)
        model = ChurnModel.from_json(model_json)
        predictions, reasons = score_accounts(model_json, features, client, settings.SCORE_PARTITION_ACCOUNTS)
        drivers = reasons.groupby("account_id", sort=False)[TEXT].agg(list).to_dict()
        rows = _prediction_rows(features, predictions, drivers, record.version, model.is_fallback, as_of)
        repository.replace_predictions(session, as_of, rows)
        forecast = pending.result()
    repository.replace_forecasts(session, as_of, _forecast_rows(forecast, features.index, as_of))
    summary.prophet_fits = forecast.prophet_fits
    summary.anomalies = int(forecast.summary[ANOMALY].reindex(features.index).fillna(False).sum())
    summary.accounts = len(rows)
    summary.model_version, summary.model_is_fallback = record.version, model.is_fallback
    summary.arr_at_risk_90d = round(float(sum(row["arr"] * row["probability_90d"] for row in rows)), 2)
    return summary


def _retrain_due(record: ChurnModelRecord | None, as_of: dt.date, settings: Settings) -> bool:
    return record is None or (as_of - record.trained_as_of).days > settings.CHURN_RETRAIN_DAYS


def history_days(session: Session, as_of: dt.date, settings: Settings, training: bool | None = None) -> tuple[int, int]:
    """(usage days, per-user days) the forecast and churn stage reads as of `as_of`: a year for the forecast and
    the features' window of users, or the whole history when it will train the model first (`training` None:
    when a retrain is due)."""
    if training is None:
        training = _retrain_due(repository.model_for(session, as_of), as_of, settings)
    if training:
        return TRAINING_HISTORY_DAYS, TRAINING_HISTORY_DAYS
    return FORECAST_HISTORY_DAYS, OBSERVATION_USER_DAYS


def score_accounts(
    model_json: str, features: pd.DataFrame, client: Any, partition: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Churn probabilities and drivers of every account: here, or on the Dask cluster of `client` in partitions
    of `partition` accounts (the scoring fan-out beside the forecast's)."""
    if client is None:
        return score_partition(features, model_json)
    parts = [features.iloc[start : start + partition] for start in range(0, len(features), partition)]
    scored = client.gather(client.map(score_partition, parts, model_json=model_json, pure=False))
    return pd.concat([part for part, _ in scored]), pd.concat([reasons for _, reasons in scored], ignore_index=True)


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


def _forecast_rows(forecast: Any, accounts: pd.Index, as_of: dt.date) -> list[dict[str, Any]]:
    table = forecast.summary.reindex(accounts)
    weekly = _weekly_records(forecast.series)
    rows = []
    for account_id, row in table.iterrows():
        series = {
            "weekly": weekly.get(account_id, []),
            "prophet": forecast.new_cache.get(row[FINGERPRINT]) if isinstance(row[FINGERPRINT], str) else None,
        }
        horizon = int(row[HORIZON_DAYS]) if pd.notna(row[HORIZON_DAYS]) else 90
        rows.append(
            {
                "account_id": account_id,
                "as_of": as_of,
                "method": str(row[METHOD]),
                "fingerprint": row[FINGERPRINT] if isinstance(row[FINGERPRINT], str) else "",
                "horizon_end": as_of + dt.timedelta(days=horizon),
                "current_level": _number(row[CURRENT_LEVEL]),
                "projected_level": _number(row[PROJECTED_LEVEL]),
                "trend": _number(row[TREND]),
                "anomaly": bool(row[ANOMALY]) if pd.notna(row[ANOMALY]) else False,
                "series": series,
                "model_version": FORECAST_VERSION,
            }
        )
    return rows


def _weekly_records(series: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Each account's weekly forecast points as JSON records, built column-wise: a frame per account cost
    25 s on 3,000 accounts."""
    days = np.datetime_as_string(series["day"].to_numpy(dtype="datetime64[s]"), unit="s").tolist()
    columns = [
        [value if math.isfinite(value) else None for value in np.round(series[name].to_numpy("float64"), 3).tolist()]
        for name in (YHAT, LOWER, UPPER)
    ]
    records: dict[str, list[dict[str, Any]]] = {}
    for account_id, day, yhat, lower, upper in zip(series["account_id"].tolist(), days, *columns, strict=True):
        records.setdefault(account_id, []).append({"day": day, YHAT: yhat, LOWER: lower, UPPER: upper})
    return records


def _prediction_rows(
    features: pd.DataFrame,
    predictions: pd.DataFrame,
    drivers: dict[str, list[str]],
    version: str,
    is_fallback: bool,
    as_of: dt.date,
) -> list[dict[str, Any]]:
    """One stored row per prediction, built column-wise (a .at lookup per account and field cost seconds)."""
    accounts = predictions.index
    arr = features[ARR].reindex(accounts).astype("float64").fillna(0.0).tolist()
    renewal = pd.to_datetime(features[RENEWAL_DATE].reindex(accounts))
    renewal_dates = [None if pd.isna(day) else day.date() for day in renewal]
    columns = [
        predictions[name].astype("float64").tolist()
        for name in (*map(probability_column, (30, 90)), PROBABILITY_RENEWAL)
    ]
    return [
        {
            "account_id": account_id,
            "as_of": as_of,
            "probability_30d": p30,
            "probability_90d": p90,
            "probability_renewal": p_renewal,
            "renewal_date": renewal_date,
            "arr": account_arr,
            "arr_at_risk": round(p_renewal * account_arr, 2),
            "drivers": drivers.get(account_id, []),
            "is_fallback": is_fallback,
            "model_version": version,
        }
        for account_id, p30, p90, p_renewal, renewal_date, account_arr in zip(
            accounts.tolist(), *columns, renewal_dates, arr, strict=True
        )
    ]


def forecast_columns(series: Any) -> dict[str, list[Any]]:
    """A stored forecast's weekly points as columns (day, yhat, lower, upper), for charts; empty when none."""
    points = series.get("weekly") if isinstance(series, dict) else None
    if not isinstance(points, list) or not points:
        return {}
    return {name: [point.get(name) for point in points] for name in ("day", YHAT, LOWER, UPPER)}


def churn_view(session: Session, account_id: str) -> ChurnView | None:
    prediction = repository.newest_prediction(session, account_id)
    if prediction is None:
        return None
    return ChurnView.model_validate(prediction, from_attributes=True)


def forecast_view(session: Session, account_id: str) -> ForecastView | None:
    forecast = repository.newest_forecast(session, account_id)
    if forecast is None:
        return None
    return ForecastView(
        as_of=forecast.as_of,
        method=forecast.method,
        horizon_end=forecast.horizon_end,
        current_level=forecast.current_level,
        projected_level=forecast.projected_level,
        trend=forecast.trend,
        anomaly=forecast.anomaly,
        weekly=forecast.series.get("weekly", []),
    )


def model_view(session: Session) -> ModelView | None:
    """The newest trained model with its out-of-time backtest against the two baselines."""
    record = repository.newest_model(session)
    if record is None:
        return None
    document = record.backtest or {}
    figures = [
        ScorerFigures(
            horizon_days=row["horizon_days"],
            scorer=row["scorer"],
            roc_auc=row.get(metrics.AUC),
            top_decile_lift=row.get(metrics.LIFT),
            brier=row.get(metrics.BRIER),
            ece=row.get(metrics.ECE),
            count=int(row.get(metrics.COUNT) or 0),
            positives=int(row.get(metrics.POSITIVES) or 0),
        )
        for row in document.get("metrics", [])
    ]
    return ModelView(
        version=record.version,
        trained_as_of=record.trained_as_of,
        created_at=record.created_at,
        is_fallback=record.version.endswith("-prior"),
        note=record.notes,
        backtest=figures,
        calibration=document.get("calibration", {}),
        backtest_window=document.get("window", {}),
    )


def portfolio_view(session: Session, as_of: dt.date | None = None) -> PortfolioView:
    """ARR by health band, ARR at risk in 30/90/180 days, and the next quarter's GRR forecast with an interval."""
    scores = health_repository.latest_scores(session, as_of)
    day = scores[0].as_of if scores else as_of
    bands: dict[str, float] = {}
    arr: dict[str, float] = {}
    term_days: dict[str, float] = {}
    for score in scores:
        features = score.components.get("features", {})
        value = float(features.get(ARR) or 0.0)
        arr[score.account_id] = value
        term_days[score.account_id] = float(features.get(TERM_DAYS) or 365.0)
        bands[score.band] = bands.get(score.band, 0.0) + value
    predictions = repository.predictions(session, day)
    view = PortfolioView(
        as_of=day,
        accounts=len(scores),
        arr=round(sum(arr.values()), 2),
        arr_by_band={band: round(total, 2) for band, total in sorted(bands.items())},
        arr_at_risk={},
        grr_next_quarter=None,
        grr_interval=None,
        model_is_fallback=None,
    )
    if not predictions:
        return view
    frame = pd.DataFrame(
        {
            "account_id": [p.account_id for p in predictions],
            probability_column(30): [p.probability_30d for p in predictions],
            probability_column(90): [p.probability_90d for p in predictions],
            PROBABILITY_RENEWAL: [p.probability_renewal for p in predictions],
            DAYS_TO_RENEWAL: [(p.renewal_date - p.as_of).days if p.renewal_date else np.nan for p in predictions],
        }
    ).set_index("account_id")
    frame[TERM_DAYS] = pd.Series(term_days).reindex(frame.index).fillna(365.0)
    values = pd.Series({p.account_id: p.arr for p in predictions})
    outlook = portfolio_forecast(frame, values, PORTFOLIO_HORIZONS)
    view.arr_at_risk = {f"{days}d": round(value, 2) for days, value in outlook.arr_at_risk.items()}
    view.grr_next_quarter = round(outlook.grr, 4)
    view.grr_interval = [round(outlook.grr_low, 4), round(outlook.grr_high, 4)]
    view.model_is_fallback = any(p.is_fallback for p in predictions)
    return view


def usage_view(session: Session, account_id: str, *, days: int, today: dt.date) -> UsageView:
    since = today - dt.timedelta(days=days)
    events: dict[dt.date, int] = {}
    features: dict[str, int] = {}
    for day, event, count in repository.daily_usage(session, account_id, since):
        events[day] = events.get(day, 0) + count
        features[event] = features.get(event, 0) + count
    users = repository.daily_active_users(session, account_id, since)
    points = [
        UsagePoint(day=day, events=events.get(day, 0), active_users=users.get(day, 0))
        for day in sorted(set(events) | set(users))
    ]
    ranked = dict(sorted(features.items(), key=lambda item: (-item[1], item[0])))
    return UsageView(account_id=account_id, days=points, features=ranked, forecast=forecast_view(session, account_id))
