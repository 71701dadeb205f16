"""Churn model: estimator contract, strict as-of training, time-ordered backtest, fallback, drivers, portfolio
arithmetic, and the accuracy targets on the demo portfolio."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from cs_health.demo.generator import KEY_FEATURES, generate_portfolio
from models import backtest as bt
from models.churn import (
    DAYS_TO_RENEWAL_BASELINE,
    HEALTH_SCORE,
    INPUTS,
    MODEL,
    NON_RENEWAL,
    OBSERVATION_USAGE_DAYS,
    OBSERVATION_USER_DAYS,
    OBSERVED_AT,
    PROBABILITY_RENEWAL,
    ChurnModel,
    FeatureMemo,
    backtest,
    build_training_set,
    churn_features,
    churn_label,
    portfolio_forecast,
    probability_column,
)
from models.features import (
    ACTIVE_USERS_28D,
    DAYS_TO_RENEWAL,
    SEAT_UTILISATION,
    TERM_DAYS,
    USAGE_TREND,
)
from models.frames import ACCOUNT_ID, CLOSED_AT, SEATS, SPECS, PortfolioData
from tests.models.demo_data import portfolio_data

END = datetime.date(2026, 11, 1)
TRAIN_AS_OF = END - datetime.timedelta(days=91)
OBSERVATION_DATES = pd.date_range("2025-03-01", periods=12, freq="30D")


def synthetic_set(n: int = 400, seed: int = 0, churn_scale: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made observations over 12 dates: churn at renewals inside 90 days, likelier when usage falls."""
    rng = np.random.default_rng(seed)
    rows = n * len(OBSERVATION_DATES)
    index = pd.MultiIndex.from_arrays(
        [np.repeat(OBSERVATION_DATES, n), np.tile([f"acc-{i:04d}" for i in range(n)], len(OBSERVATION_DATES))],
        names=[OBSERVED_AT, ACCOUNT_ID],
    )
    trend = rng.normal(0, 0.4, rows)
    features = pd.DataFrame(
        {
            DAYS_TO_RENEWAL: rng.integers(0, 365, rows).astype("float64"),
            TERM_DAYS: 365.0,
            USAGE_TREND: trend,
            HEALTH_SCORE: np.clip(70 + 40 * trend + rng.normal(0, 10, rows), 0, 100),
            SEATS: 10.0,
            ACTIVE_USERS_28D: rng.integers(0, 11, rows).astype("float64"),
        },
        index=index,
    )
    features[SEAT_UTILISATION] = features[ACTIVE_USERS_28D] / features[SEATS]
    risk = churn_scale / (1 + np.exp(2.5 + 4 * trend))
    non_renewal = (rng.random(rows) < risk).astype("float64")
    labels = pd.DataFrame(index=index)
    labels[NON_RENEWAL] = non_renewal
    for h in (30, 90):
        labels[churn_label(h)] = np.where(features[DAYS_TO_RENEWAL] < h, non_renewal, 0.0)
    return features, labels


def test_fit_returns_self_with_learned_attributes_and_the_json_round_trip_is_exact():
    features, labels = synthetic_set()
    model = ChurnModel()
    assert model.fit(features, labels) is model
    for name in ("models_", "feature_names_", "impute_", "mean_", "scale_", "is_fallback_", "n_churn_events_"):
        assert hasattr(model, name)
    assert not model.is_fallback
    assert not hasattr(ChurnModel(), "models_")

    text = model.to_json()
    document = json.loads(text)
    assert document["format"] == "cs-health/churn-model"
    assert document["version"] == 1
    restored = ChurnModel.from_json(text)
    pd.testing.assert_frame_equal(restored.predict_proba(features), model.predict_proba(features), rtol=0, atol=0)
    assert restored.to_json() == text
    with pytest.raises(ValueError, match="not fitted"):
        ChurnModel().predict_proba(features)
    with pytest.raises(ValueError, match="churn-model"):
        ChurnModel.from_json(json.dumps({**document, "version": 99}))


def test_predictions_respect_renewal_timing_and_learn_the_usage_signal():
    features, labels = synthetic_set(seed=1)
    model = ChurnModel().fit(features, labels)
    predicted = model.predict_proba(features)
    far = features[DAYS_TO_RENEWAL] >= 90
    assert (predicted.loc[far, probability_column(90)] == 0).all()  # no renewal inside 90 days, no churn
    assert (predicted[probability_column(90)] >= predicted[probability_column(30)]).all()
    assert predicted[[probability_column(30), probability_column(90), PROBABILITY_RENEWAL]].stack().between(0, 1).all()
    falling, rising = predicted[features[USAGE_TREND] < -0.5], predicted[features[USAGE_TREND] > 0.5]
    assert falling[PROBABILITY_RENEWAL].mean() > 2 * rising[PROBABILITY_RENEWAL].mean()


def test_split_is_by_observation_date_not_by_row_order():
    features, labels = synthetic_set(seed=2)
    shuffled = np.random.default_rng(0).permutation(len(features))
    ordered = ChurnModel().fit(features, labels).predict_proba(features)
    mixed = ChurnModel().fit(features.iloc[shuffled], labels.iloc[shuffled]).predict_proba(features)
    pd.testing.assert_frame_equal(mixed, ordered, rtol=1e-4, atol=1e-6)


def test_too_few_churns_fall_back_to_the_health_score_prior_and_say_so():
    features, labels = synthetic_set(n=60, seed=3, churn_scale=0.05)
    model = ChurnModel(min_churn_events=30).fit(features, labels)
    assert model.is_fallback
    assert "fewer than 30" in model.reason
    predicted = model.predict_proba(features)
    assert (predicted.loc[features[DAYS_TO_RENEWAL] >= 90, probability_column(90)] == 0).all()
    order = np.argsort(features[HEALTH_SCORE].to_numpy())
    assert np.all(np.diff(predicted[PROBABILITY_RENEWAL].to_numpy()[order]) <= 1e-12)  # healthier, less risk
    restored = ChurnModel.from_json(model.to_json())
    assert restored.is_fallback
    pd.testing.assert_frame_equal(restored.predict_proba(features), predicted)
    drivers = model.drivers(features.iloc[:50])
    assert drivers["text"].str.contains("health score|renewal in").all()


def test_portfolio_forecast_arithmetic_on_a_hand_made_case():
    predictions = pd.DataFrame(
        {
            probability_column(30): [0.5, 0.0, 0.1],
            probability_column(90): [0.5, 0.0, 0.3],
            PROBABILITY_RENEWAL: [0.5, 0.2, 0.3],
            DAYS_TO_RENEWAL: [10.0, 120.0, 25.0],
            TERM_DAYS: [365.0, 365.0, 30.0],
        },
        index=pd.Index(["a", "b", "c"], name=ACCOUNT_ID),
    )
    arr = pd.Series({"a": 1_000.0, "b": 2_000.0, "c": 500.0})
    result = portfolio_forecast(predictions, arr)
    assert result.arr == 3_500
    assert result.arr_at_risk[30] == pytest.approx(0.5 * 1_000 + 0.1 * 500)
    assert result.arr_at_risk[90] == pytest.approx(0.5 * 1_000 + 0.3 * 500)
    # 180 days: a renews once (p 0.5), b once (0.2), c monthly: renewals at 25, 55, ..., 175 -> 6 of them.
    c_180 = 1 - (1 - 0.3) ** 6
    assert result.arr_at_risk[180] == pytest.approx(0.5 * 1_000 + 0.2 * 2_000 + c_180 * 500)
    assert result.grr == pytest.approx(1 - 650 / 3_500)
    assert result.grr_low <= result.grr <= result.grr_high
    # Lost ARR can only be 0, 500, 1000 or 1500: the interval sits on those values.
    assert {round((1 - result.grr_low) * 3_500), round((1 - result.grr_high) * 3_500)} <= {0, 500, 1_000, 1_500}
    assert portfolio_forecast(predictions, arr).grr_low == result.grr_low  # fixed seed


# ---------------------------------------------------------------------------------------------- demo data


@pytest.fixture(scope="module")
def demo() -> PortfolioData:
    return portfolio_data(generate_portfolio(accounts=300, months=24, seed=7, end=END))


def cut_by_hand(data: PortfolioData, as_of: datetime.date) -> PortfolioData:
    """What the shell would have read on `as_of`: nothing at or after it, tickets closed later still open."""
    cut = pd.Timestamp(as_of)
    frames = {}
    for name, spec in SPECS.items():
        frame = getattr(data, name)
        if spec.time_column:
            frame = frame[frame[spec.time_column] < cut]
        frames[name] = frame
    tickets = frames["tickets"]
    frames["tickets"] = tickets.assign(**{CLOSED_AT: tickets[CLOSED_AT].where(tickets[CLOSED_AT] < cut)})
    return PortfolioData(**frames)


@pytest.mark.slow
def test_training_is_strictly_as_of(demo: PortfolioData):
    full = build_training_set(demo, TRAIN_AS_OF, key_features=KEY_FEATURES)
    known = build_training_set(cut_by_hand(demo, TRAIN_AS_OF), TRAIN_AS_OF, key_features=KEY_FEATURES)
    pd.testing.assert_frame_equal(full[0], known[0])
    pd.testing.assert_frame_equal(full[1], known[1])
    assert ChurnModel().fit(*full).to_json() == ChurnModel().fit(*known).to_json()

    observations, labels = full
    dates = observations.index.get_level_values(OBSERVED_AT)
    assert dates.is_monotonic_increasing
    assert dates.max() < pd.Timestamp(TRAIN_AS_OF)
    for h in (30, 90):  # a label exists only when its window and the grace period closed before as_of
        labelled = labels[churn_label(h)].notna().to_numpy()
        assert (dates[labelled] + pd.Timedelta(days=h + 30) <= pd.Timestamp(TRAIN_AS_OF)).all()
        assert labelled.any()


@pytest.mark.slow
def test_each_observation_sees_what_the_nightly_run_loads_to_predict_on_that_date(demo: PortfolioData):
    observations, _ = build_training_set(demo, END, key_features=KEY_FEATURES)
    date = observations.index.get_level_values(OBSERVED_AT)[-1]
    usage, users = demo.daily_usage, demo.user_activity  # the run reads windows of these, other tables whole
    loaded = dataclasses.replace(
        demo,
        daily_usage=usage[usage["day"].between(date - pd.Timedelta(days=OBSERVATION_USAGE_DAYS), date, "left")],
        user_activity=users[users["day"].between(date - pd.Timedelta(days=OBSERVATION_USER_DAYS), date, "left")],
    )
    predicted_on = churn_features(loaded, date.date(), KEY_FEATURES)
    observed = observations.xs(date, level=OBSERVED_AT)
    pd.testing.assert_frame_equal(observed, predicted_on.set_axis(observed.index), check_exact=False)


@pytest.mark.slow
def test_a_backtest_90_days_back_lends_every_observation_to_the_final_fit(demo: PortfolioData):
    memo: FeatureMemo = {}
    backtest(demo, END - datetime.timedelta(days=90), END, key_features=KEY_FEATURES, memo=memo)
    from_backtest = set(memo)
    shared = build_training_set(demo, END, key_features=KEY_FEATURES, memo=memo)
    alone = build_training_set(demo, END, key_features=KEY_FEATURES)
    pd.testing.assert_frame_equal(shared[0], alone[0])
    pd.testing.assert_frame_equal(shared[1], alone[1])
    assert sorted(set(memo) - from_backtest) == [pd.Timestamp(END) - pd.Timedelta(days=d) for d in (60, 30)]


@pytest.mark.slow
def test_backtest_on_the_demo_meets_the_targets(
    demo: PortfolioData, record_testsuite_property: Callable[[str, object], None]
):
    report = backtest(demo, TRAIN_AS_OF, END, key_features=KEY_FEATURES)
    assert not report.model.is_fallback
    assert report.test_dates == (TRAIN_AS_OF,)  # tested only after everything it trained on
    metrics = report.metrics.loc[90]
    for scorer, row in metrics.iterrows():
        record_testsuite_property(f"churn_90d_{scorer}_auc", round(row[bt.AUC], 3))
        record_testsuite_property(f"churn_90d_{scorer}_ece", round(row[bt.ECE], 3))
    assert metrics.at[MODEL, bt.POSITIVES] >= 5
    assert metrics.at[MODEL, bt.AUC] >= 0.80
    assert metrics.at[MODEL, bt.AUC] >= metrics.at[DAYS_TO_RENEWAL_BASELINE, bt.AUC] + 0.05
    assert metrics.at[MODEL, bt.ECE] <= 0.05
    table = report.calibration[(90, MODEL)]
    assert len(table) == 10
    assert table[bt.COUNT].sum() == metrics.at[MODEL, bt.COUNT]

    # Drivers: plain words about real inputs, the renewal first when it is near.
    features = churn_features(cut_by_hand(demo, TRAIN_AS_OF), TRAIN_AS_OF, KEY_FEATURES)
    drivers = report.model.drivers(features, top=3)
    assert set(drivers[ACCOUNT_ID]) <= set(features.index)
    assert drivers.groupby(ACCOUNT_ID).size().max() <= 3
    assert set(drivers["input"]) <= {item.name for item in INPUTS}
    assert not drivers["text"].str.contains("nan|inf|None").any()
    first = drivers[drivers["rank"] == 1].set_index(ACCOUNT_ID)
    near = features.index[features[DAYS_TO_RENEWAL] < 90]
    assert (first.loc[near, "text"] == [f"renewal in {d:.0f} days" for d in features.loc[near, DAYS_TO_RENEWAL]]).all()
