import datetime

import numpy as np
import pandas as pd
import pytest

from models.features import CONTEXT_COLUMNS, NUMERIC_FEATURES, compute_features
from models.frames import PortfolioData

AS_OF = datetime.date(2026, 3, 1)
KEY_FEATURES = {"growth": ("dashboard_viewed", "report_exported", "workflow_run", "invoice_sent", "integration_synced")}
T = pd.Timestamp


def usage_rows(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "day": pd.to_datetime([r[1] for r in rows]),
            "event": [r[2] for r in rows],
            "events": [r[3] for r in rows],
            "quantity": [float(r[3]) for r in rows],
            "users": 1,
        }
    )


def make_data() -> PortfolioData:
    daily_usage = usage_rows(
        [
            ("a", "2026-02-28", "dashboard_viewed", 5),
            ("a", "2026-02-28", "login", 3),
            ("a", "2026-02-20", "workflow_run", 2),
            ("a", "2026-01-15", "login", 10),  # prior 56 days
            ("a", "2026-03-01", "login", 100),  # on as_of: ignored
            ("a", "2026-03-05", "report_exported", 7),  # after: ignored
            ("c", "2026-02-27", "login", 4),  # no current subscription
        ]
    )
    user_activity = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "a", "c"],
            "user_id": ["a-u1", "a-u2", "a-u3", "a-u4", "c-u1"],
            "day": pd.to_datetime(["2026-02-28", "2026-02-20", "2026-01-31", "2026-03-01", "2026-02-27"]),
            "events": [8, 2, 1, 100, 4],
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "segment": ["smb", "smb", "smb", "enterprise", "enterprise"],
            "plan": ["growth", "custom", "growth", "growth", "growth"],
            "created_at": pd.to_datetime(
                [
                    "2025-01-01T10:00Z",
                    "2026-02-15T09:00Z",
                    "2025-01-01T00:00Z",
                    "2026-03-02T00:00Z",
                    "2026-03-01T08:00Z",
                ]
            ),
            "tags": [["eu"], [], ["us"], [], []],
        }
    )
    subscriptions = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c", "d", "e"],
            "start_date": pd.to_datetime(
                ["2025-01-01", "2026-01-01", "2026-02-15", "2025-01-01", "2026-03-02", "2026-03-01"]
            ),
            "end_date": pd.to_datetime(
                ["2026-01-01", "2026-07-01", "2026-03-15", "2026-01-01", "2027-03-02", "2026-04-01"]
            ),
            "mrr": [100.0, 120.0, 50.0, 10.0, 999.0, 70.0],
            "arr": [np.nan, np.nan, 600.0, np.nan, np.nan, np.nan],
            "seats": [10, 8, 5, 3, 50, 4],
            "plan": ["growth", "growth", "custom", "growth", "growth", "growth"],
            "status": ["active", "cancelled", "active", "cancelled", "active", "active"],
        }
    )
    contacts = pd.DataFrame(
        {
            "user_id": ["a-u1", "a-u2", "a-u3", "e-u1"],
            "account_id": ["a", "a", "a", "e"],
            "role": ["champion", "user", "decision_maker", "champion"],
        }
    )
    tickets = pd.DataFrame(
        {
            "account_id": ["a"] * 6,
            "opened_at": pd.to_datetime(
                ["2026-02-10", "2026-01-01", "2026-02-25", "2025-10-01", "2026-02-27", "2026-03-02"]
            ),
            "closed_at": pd.to_datetime(["2026-02-11", "2026-02-15", None, "2025-10-02", "2026-03-02", None]),
            "priority": ["high", "normal", "urgent", "low", "normal", "urgent"],
            "csat": pd.array([4, 2, pd.NA, 5, 1, pd.NA], dtype="Int64"),
        }
    )
    nps = pd.DataFrame(
        {
            "account_id": ["a", "a", "a"],
            "responded_at": pd.to_datetime(["2025-12-10T12:00", "2026-02-01T15:30", "2026-03-02T00:00"]),
            "score": [9, 6, 0],
            "user_id": ["a-u1", "a-u3", "a-u1"],
        }
    )
    touchpoints = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "a"],
            "at": pd.to_datetime(["2026-02-01", "2025-12-15", "2025-11-01", "2026-03-01"]),
            "kind": ["call", "email", "qbr", "demo"],
        }
    )
    return PortfolioData(
        daily_usage=daily_usage,
        user_activity=user_activity,
        accounts=accounts,
        subscriptions=subscriptions,
        contacts=contacts,
        tickets=tickets,
        nps=nps,
        touchpoints=touchpoints,
    )


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return compute_features(make_data(), AS_OF, KEY_FEATURES)


def test_only_accounts_with_a_term_covering_as_of_are_scored(features: pd.DataFrame):
    assert list(features.index) == ["a", "b", "e"]  # c expired, d starts the day after
    assert list(features.columns) == [*NUMERIC_FEATURES, *CONTEXT_COLUMNS]


def test_usage_features_of_an_active_account(features: pd.DataFrame):
    a = features.loc["a"]
    assert a["events_28d"] == 10
    assert a["active_days_28d"] == 2
    assert a["days_since_last_activity"] == 1
    assert a["usage_trend"] == pytest.approx(np.log(11) - np.log(6))
    assert a["active_users_28d"] == 2  # a-u3 was last active 29 days ago, a-u4 only on as_of
    assert a["seats"] == 8
    assert a["seat_utilisation"] == pytest.approx(2 / 8)
    assert a["events_per_active_user_28d"] == 5
    assert (a["key_features_used_30d"], a["key_features_total"]) == (2, 5)
    assert a["feature_breadth"] == pytest.approx(0.4)
    assert a["champion_active_30d"] == 1
    assert a["decision_maker_active_30d"] == 1  # active 29 days ago, inside 30


def test_commercial_support_and_relationship_features(features: pd.DataFrame):
    a = features.loc["a"]
    assert a["mrr"] == 120
    assert a["arr"] == 1440
    assert a["mrr_change_90d"] == pytest.approx(0.2)  # 90 days back the first term (100) ran
    assert a["days_to_renewal"] == 122
    assert a["renewal_date"] == T("2026-07-01")
    assert a["term_days"] == 181
    assert a["tenure_days"] == 424
    assert a["plan"] == "growth"
    assert a["segment"] == "smb"
    assert a["tickets_open"] == 2  # one never closed, one closed after as_of
    assert a["tickets_90d"] == 4
    assert a["high_priority_tickets_90d"] == 2
    assert a["csat_90d"] == 3  # 4 and 2; the answer given after as_of does not count
    assert a["nps_latest"] == 6
    assert a["nps_days_ago"] == 27  # 2026-02-01 15:30 is 27.4 days before as_of
    assert a["touches_90d"] == 2


def test_unknown_stays_nan_and_known_zero_stays_zero(features: pd.DataFrame):
    b = features.loc["b"]
    assert b["tenure_days"] == 14
    assert b["days_since_last_activity"] == 14  # never active: silent since signing
    assert b["active_users_28d"] == 0
    assert b["seat_utilisation"] == 0
    assert b["tickets_90d"] == 0
    assert b["touches_90d"] == 0
    assert b["arr"] == 600
    for unknown in (
        "events_per_active_user_28d",
        "usage_trend",
        "mrr_change_90d",
        "nps_latest",
        "nps_days_ago",
        "csat_90d",
        "champion_active_30d",
        "decision_maker_active_30d",
    ):
        assert np.isnan(b[unknown]), unknown
    assert features.loc["e", "champion_active_30d"] == 0  # has a champion, who was not active
    assert features.loc["e", "tenure_days"] == 0


def test_a_plan_without_key_features_uses_the_segments_most_used(features: pd.DataFrame):
    b = features.loc["b"]
    # smb used dashboard_viewed, login and workflow_run in the last 30 days (fewer than 5 features in all).
    assert (b["key_features_used_30d"], b["key_features_total"]) == (0, 3)
    assert b["feature_breadth"] == 0


def test_rows_on_or_after_as_of_change_nothing():
    data = make_data()
    cut = T(AS_OF)
    trimmed = PortfolioData(
        daily_usage=data.daily_usage[data.daily_usage["day"] < cut],
        user_activity=data.user_activity[data.user_activity["day"] < cut],
        accounts=data.accounts,
        subscriptions=data.subscriptions,
        contacts=data.contacts,
        tickets=data.tickets[data.tickets["opened_at"] < cut],
        nps=data.nps[data.nps["responded_at"] < cut],
        touchpoints=data.touchpoints[data.touchpoints["at"] < cut],
    )
    pd.testing.assert_frame_equal(
        compute_features(trimmed, AS_OF, KEY_FEATURES), compute_features(data, AS_OF, KEY_FEATURES)
    )


def test_categorical_ids_give_the_same_features(features: pd.DataFrame):
    data = make_data()
    categorical = PortfolioData(
        daily_usage=data.daily_usage.astype({"account_id": "category", "event": "category"}),
        user_activity=data.user_activity.astype({"account_id": "category", "user_id": "category"}),
        accounts=data.accounts,
        subscriptions=data.subscriptions,
        contacts=data.contacts,
        tickets=data.tickets,
        nps=data.nps,
        touchpoints=data.touchpoints,
    )
    pd.testing.assert_frame_equal(compute_features(categorical, AS_OF, KEY_FEATURES), features)


def test_missing_tables_default_to_empty_and_missing_columns_are_named():
    data = make_data()
    bare = PortfolioData(data.daily_usage, data.user_activity, data.accounts, data.subscriptions)
    out = compute_features(bare, AS_OF, KEY_FEATURES)
    assert out.loc["a", "tickets_90d"] == 0
    assert np.isnan(out.loc["a", "nps_latest"])
    assert np.isnan(out.loc["a", "champion_active_30d"])
    with pytest.raises(ValueError, match=r"daily_usage: missing column.*events"):
        PortfolioData(data.daily_usage.drop(columns="events"), data.user_activity, data.accounts, data.subscriptions)


def test_a_long_silent_account_looks_back_beyond_the_trend_window():
    data = make_data()
    old = usage_rows([("b", "2025-06-01", "login", 1), ("e", "2025-11-20", "login", 2)])
    quiet = PortfolioData(
        daily_usage=pd.concat([data.daily_usage, old], ignore_index=True),
        user_activity=data.user_activity,
        accounts=data.accounts,
        subscriptions=data.subscriptions,
    )
    out = compute_features(quiet, AS_OF, KEY_FEATURES)
    assert out.loc["e", "days_since_last_activity"] == (T("2026-03-01") - T("2025-11-20")).days
    assert out.loc["a", "days_since_last_activity"] == 1
