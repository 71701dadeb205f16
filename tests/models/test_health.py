import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.health import COMPONENT_COLUMNS, band_of, explain, score_accounts
from models.scorecard import HIGHER_IS_BETTER, load_scorecard

CARD = load_scorecard()
FEATURES = sorted(
    {m.feature for m in CARD.measures}
    | {"active_users_28d", "seats", "key_features_used_30d", "key_features_total", "nps_days_ago"}
)
SEGMENTS = ("smb", "mid_market", "enterprise")
RANGES = {  # plausible raw ranges, a little beyond every threshold
    "seat_utilisation": (0.0, 1.2),
    "feature_breadth": (0.0, 1.0),
    "active_days_28d": (0.0, 28.0),
    "usage_trend": (-3.0, 1.0),
    "events_per_active_user_28d": (0.0, 60.0),
    "days_since_last_activity": (1.0, 120.0),
    "nps_latest": (0.0, 10.0),
    "champion_active_30d": (0.0, 1.0),
    "decision_maker_active_30d": (0.0, 1.0),
    "touches_90d": (0.0, 12.0),
    "high_priority_tickets_90d": (0.0, 8.0),
    "csat_90d": (1.0, 5.0),
    "tickets_open": (0.0, 8.0),
    "mrr_change_90d": (-0.6, 0.6),
}


@st.composite
def feature_frames(draw: st.DrawFn, min_accounts: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_accounts, 8))
    data: dict[str, list] = {"segment": draw(st.lists(st.sampled_from(SEGMENTS), min_size=n, max_size=n))}
    for name in FEATURES:
        low, high = RANGES.get(name, (0.0, 50.0))
        value = st.floats(low, high, allow_nan=False)
        data[name] = draw(
            st.lists(st.one_of(value, st.just(np.nan)) if name in RANGES else value, min_size=n, max_size=n)
        )
    return pd.DataFrame(data, index=pd.Index([f"acc-{i}" for i in range(n)], name="account_id"))


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(feature_frames())
def test_scores_are_bounded_and_bands_follow_the_cutoffs(features: pd.DataFrame):
    result = score_accounts(features, CARD)
    scores = result.scores["score"].dropna()
    assert ((scores >= 0) & (scores <= 100)).all()
    for account, row in result.scores.iterrows():
        if np.isnan(row["score"]):
            assert row["band"] is None
            assert result.components.loc[result.components["account_id"] == account, "missing"].all()
        else:
            expected = "green" if row["score"] >= 70 else "yellow" if row["score"] >= 40 else "red"
            assert row["band"] == expected
    contributions = result.components.groupby("account_id")["contribution"].sum()
    np.testing.assert_allclose(contributions[scores.index], scores, atol=1e-9)


@PROPERTY
@given(feature_frames(), st.data())
def test_improving_one_measure_never_lowers_the_total(features: pd.DataFrame, data: st.DataObject):
    measure = data.draw(st.sampled_from(CARD.measures))
    account = data.draw(st.sampled_from(list(features.index)))
    step = data.draw(st.floats(0.0, 5.0))
    if np.isnan(features.at[account, measure.feature]):
        features.at[account, measure.feature] = RANGES[measure.feature][0]
    before = score_accounts(features, CARD).scores.at[account, "score"]
    better = features.copy()
    better.at[account, measure.feature] += step if measure.direction == HIGHER_IS_BETTER else -step
    after = score_accounts(better, CARD).scores.at[account, "score"]
    assert after >= before - 1e-9


@PROPERTY
@given(feature_frames(), st.data())
def test_a_missing_measure_reweights_the_others(features: pd.DataFrame, data: st.DataObject):
    measure = data.draw(st.sampled_from([m for m in CARD.measures if m.method == "thresholds"]))
    account = data.draw(st.sampled_from(list(features.index)))
    full = score_accounts(features, CARD).components
    features.at[account, measure.feature] = np.nan
    result = score_accounts(features, CARD)
    rows = full[(full["account_id"] == account) & (full["measure"] != measure.name) & ~full["missing"]]
    score = result.scores.at[account, "score"]
    if rows.empty:
        assert np.isnan(score)
    else:
        expected = (rows["weight"] * rows["points"]).sum() / rows["weight"].sum()
        assert score == pytest.approx(expected)
    parts = result.components.set_index(["account_id", "measure"])
    assert parts.at[(account, measure.name), "missing"]
    assert parts.at[(account, measure.name), "contribution"] == 0


def test_thresholds_interpolate_and_percentiles_rank_within_segment():
    features = pd.DataFrame(
        {
            "segment": ["smb", "smb", "enterprise"],
            "seat_utilisation": [0.6, 0.25, 0.5],
            "events_per_active_user_28d": [10.0, 20.0, 1.0],
        },
        index=pd.Index(["a", "b", "c"], name="account_id"),
    )
    for name in set(FEATURES) - set(features.columns):
        features[name] = np.nan
    result = score_accounts(features, CARD)
    points = result.components.set_index(["account_id", "measure"])["points"]
    assert points["a", "seat_utilisation"] == pytest.approx(45 + 35 * 0.5)  # smb: 0.5 -> 45, 0.7 -> 80
    assert points["b", "seat_utilisation"] == 0
    assert points["c", "seat_utilisation"] == pytest.approx(45 + 35 * 0.5)  # enterprise: 0.4 -> 45, 0.6 -> 80
    assert points["a", "events_per_active_user_28d"] == 25  # lower of two smb accounts
    assert points["b", "events_per_active_user_28d"] == 75
    assert points["c", "events_per_active_user_28d"] == 50  # alone in its segment
    assert list(result.components.columns) == list(COMPONENT_COLUMNS)
    assert result.scores.loc["a", "measures_missing"] == len(CARD.measures) - 2


def test_band_of_handles_edges():
    assert list(band_of(np.array([0, 39.99, 40, 69.99, 70, 100, np.nan]), CARD)) == [
        "red",
        "red",
        "yellow",
        "yellow",
        "green",
        "green",
        None,
    ]


def red_account() -> pd.DataFrame:
    row = {
        "segment": "mid_market",
        "active_users_28d": 3.0,
        "seats": 25.0,
        "seat_utilisation": 3 / 25,
        "feature_breadth": 0.2,
        "key_features_used_30d": 1.0,
        "key_features_total": 5.0,
        "active_days_28d": 6.0,
        "usage_trend": -0.8,
        "events_per_active_user_28d": 4.0,
        "days_since_last_activity": 3.0,
        "nps_latest": 5.0,
        "nps_days_ago": 40.0,
        "champion_active_30d": 0.0,
        "decision_maker_active_30d": 1.0,
        "touches_90d": 1.0,
        "high_priority_tickets_90d": 2.0,
        "csat_90d": np.nan,
        "tickets_open": 1.0,
        "mrr_change_90d": 0.0,
    }
    healthy = {
        **row,
        "seat_utilisation": 0.9,
        "active_users_28d": 22.5,
        "usage_trend": 0.1,
        "active_days_28d": 20.0,
        "events_per_active_user_28d": 30.0,
        "champion_active_30d": 1.0,
        "feature_breadth": 0.8,
        "high_priority_tickets_90d": 0.0,
        "nps_latest": 9.0,
    }
    return pd.DataFrame([row, healthy], index=pd.Index(["red", "ok"], name="account_id"))


def test_explain_says_why_an_account_is_red_in_plain_words():
    features = red_account()
    result = score_accounts(features, CARD)
    assert result.scores.at["red", "band"] == "red"
    why = explain(result, features, CARD)["red"]
    assert why.band == "red"
    assert len(why.reasons) == 3
    assert why.reasons[0].measure == "seat_utilisation"
    assert "3 of 25 seats active in the last 28 days" in why.reasons[0].text
    assert why.reasons == sorted(why.reasons, key=lambda r: -r.lost)
    assert why.missing == ["csat_90d"]
    assert "csat_90d" in why.summary
    assert why.summary.startswith("Red (")
    json.dumps(why.to_dict())  # serialisable, NaN turned into null


def test_path_to_green_reaches_the_cutoff_with_the_cheapest_lifts():
    features = red_account()
    result = score_accounts(features, CARD)
    why = explain(result, features, CARD, account_ids=["red"])
    assert set(why) == {"red"}
    path = why["red"].path_to_target
    assert why["red"].reaches_target
    assert path
    assert result.scores.at["red", "score"] + sum(step.gain for step in path) >= 70
    assert all(step.gain > 0 for step in path)
    assert len({step.measure for step in path}) == len(path)
    # Every step but the last was needed: without the last one the score stays below green.
    assert result.scores.at["red", "score"] + sum(step.gain for step in path[:-1]) < 70
    assert explain(result, features, CARD)["ok"].path_to_target == []


def test_explain_reports_the_change_and_the_measures_that_moved_it():
    now = red_account()
    week_ago = now.copy()
    week_ago.loc["red", ["champion_active_30d", "usage_trend"]] = [1.0, 0.0]
    before = score_accounts(week_ago, CARD)
    result = score_accounts(now, CARD)
    why = explain(result, now, CARD, previous={7: before, 30: before.components})["red"]
    seven, thirty = why.changes
    assert (seven.days, thirty.days) == (7, 30)
    assert seven.delta == pytest.approx(result.scores.at["red", "score"] - before.scores.at["red", "score"])
    assert seven.delta < 0
    assert {d.measure for d in seven.drivers} == {"champion_active_30d", "usage_trend"}
    assert [abs(d.delta) for d in seven.drivers] == sorted((abs(d.delta) for d in seven.drivers), reverse=True)
    champion = next(d for d in seven.drivers if d.measure == "champion_active_30d")
    assert (champion.raw_before, champion.raw_now) == (1.0, 0.0)
    assert champion.text.startswith("Champion activity: 1 -> 0 (-")


def test_an_unscored_account_has_no_band_beside_scored_ones():
    features = pd.DataFrame(
        {name: [RANGES.get(name, (0.0, 50.0))[1], np.nan] for name in FEATURES} | {"segment": ["smb", "smb"]},
        index=pd.Index(["scored", "unscored"], name="account_id"),
    )
    scores = score_accounts(features, CARD).scores
    assert scores.at["scored", "band"] in {"green", "yellow", "red"}
    assert np.isnan(scores.at["unscored", "score"])
    assert scores.at["unscored", "band"] is None
