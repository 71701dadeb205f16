"""Training suggestions from adoption gaps (generated and hand-made data) and their measured effect."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alerts.trainings import (
    FEATURE_GAP,
    INACTIVE_SEATS,
    ONBOARDING,
    Suggestion,
    TrainingConfig,
    suggest_trainings,
    training_effects,
)
from cs_health.demo.generator import KEY_FEATURES, Portfolio, generate_portfolio
from models.features import compute_features
from models.frames import DAILY_USAGE, USER_ACTIVITY, PortfolioData

AS_OF = dt.date(2025, 6, 1)
FEATURE = "workflow_run"
CATALOGUE = pd.DataFrame(
    [
        ("tr-01", "Getting started", ["dashboard_viewed", "login"], "intro"),
        ("tr-02", "Reports", ["report_exported", "dashboard_viewed"], "core"),
        ("tr-03", "Comments and files", ["comment_added", "file_uploaded"], "intro"),
        ("tr-04", "Meetings", ["meeting_scheduled"], "intro"),
        ("tr-05", "Invoicing", ["invoice_sent"], "core"),
        ("tr-06", "Workflows 101", ["workflow_run", "automation_created"], "core"),
        ("tr-07", "Advanced automation", ["automation_created", "workflow_run"], "advanced"),
        ("tr-08", "Integrations", ["integration_synced"], "core"),
        ("tr-09", "API quickstart", ["api_call"], "advanced"),
        ("tr-10", "Audit logs", ["audit_log_viewed"], "advanced"),
        ("tr-11", "Admin onboarding path", ["login", "dashboard_viewed", "integration_synced"], "intro"),
    ],
    columns=["training_id", "title", "features", "level"],
)
LEVEL = dict(zip(CATALOGUE["training_id"], CATALOGUE["level"], strict=True))
TEACHES = dict(zip(CATALOGUE["training_id"], CATALOGUE["features"], strict=True))
NO_HISTORY = pd.DataFrame(columns=["account_id", "training_id", "as_of", "delivered_at"])


def _naive(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None)


def inputs(events: pd.DataFrame, portfolio: Portfolio) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 30-day usage and the account frame, built from raw events as the shell builds them from rollups."""
    stamps = _naive(events["timestamp"])
    window = events[(stamps >= pd.Timestamp(AS_OF) - pd.Timedelta(days=30)) & (stamps < pd.Timestamp(AS_OF))]
    usage = (
        window.groupby(["account_id", "event"], observed=True)
        .agg(events=("user_id", "size"), users=("user_id", "nunique"))
        .reset_index()
    )
    active = window.groupby("account_id", observed=True)["user_id"].nunique().rename("active_users")
    accounts = portfolio.accounts.assign(created_at=_naive(portfolio.accounts["created_at"]))
    data = PortfolioData(DAILY_USAGE.empty(), USER_ACTIVITY.empty(), accounts, portfolio.subscriptions)
    context = compute_features(data, AS_OF)[["segment", "plan", "seats", "tenure_days"]]
    frame = context.join(active).fillna({"active_users": 0}).assign(band="green")
    return usage, frame.rename_axis("account_id").reset_index()


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return generate_portfolio(accounts=120, months=12, seed=4, end=AS_OF)


def by_account(suggestions: list[Suggestion]) -> dict[str, list[Suggestion]]:
    grouped: dict[str, list[Suggestion]] = {}
    for item in suggestions:
        grouped.setdefault(item.account_id, []).append(item)
    return grouped


def test_accounts_that_stopped_using_a_feature_get_the_training_that_teaches_it(portfolio: Portfolio):
    usage, accounts = inputs(portfolio.events, portfolio)
    rate = (
        usage[usage["event"] == FEATURE].set_index("account_id")["users"]
        / accounts.set_index("account_id")["active_users"]
    )
    users = rate.dropna().sort_values(ascending=False)
    # Established accounts using every key feature of their plan: the stopped feature is their only gap.
    used = usage.groupby("account_id")["event"].agg(set)
    plan = accounts.set_index("account_id")["plan"]
    complete = [a for a in used.index if set(KEY_FEATURES.get(plan.get(a), (FEATURE,))) <= used[a]]
    users = users[
        users.index.isin(complete) & users.index.isin(accounts.loc[accounts["tenure_days"] >= 90, "account_id"])
    ]
    assert len(users) >= 10, "the generated portfolio should have accounts using workflow_run"
    stopped, heavy = list(users.index[1::2][:6]), list(users.index[0::2][:5])
    stamps = _naive(portfolio.events["timestamp"])
    cut = (
        portfolio.events["account_id"].isin(stopped)
        & (portfolio.events["event"] == FEATURE)
        & (stamps >= pd.Timestamp(AS_OF) - pd.Timedelta(days=45))
    )
    usage, accounts = inputs(portfolio.events[~cut.to_numpy()], portfolio)

    suggestions = by_account(suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, KEY_FEATURES))

    for account in stopped:
        taught = [item for item in suggestions.get(account, []) if FEATURE in item.features]
        assert taught, f"{account} stopped using {FEATURE} and got no training for it"
        (item,) = taught
        assert FEATURE in TEACHES[item.training_id]
        assert f"{FEATURE} not used in the last 30 days" in item.reason
        assert FEATURE_GAP in item.kinds
        assert item.priority == 1
    for account in heavy:
        assert not [item for item in suggestions.get(account, []) if FEATURE in item.features]
        assert all(FEATURE not in item.reason for item in suggestions.get(account, []))


def test_new_accounts_get_the_onboarding_path_intro_then_core(portfolio: Portfolio):
    usage, accounts = inputs(portfolio.events, portfolio)
    young = accounts["account_id"].iloc[:3].tolist()
    accounts.loc[accounts["account_id"].isin(young), "tenure_days"] = 12.0
    suggestions = by_account(suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, KEY_FEATURES))

    new = set(accounts.loc[accounts["tenure_days"] < 90, "account_id"])
    for account in new:
        path = sorted((item for item in suggestions[account] if ONBOARDING in item.kinds), key=lambda s: s.priority)
        assert [LEVEL[item.training_id] for item in path] in (["intro", "core"], ["intro", "intro"])
        assert "new customer (day" in path[0].reason
        assert "onboarding path, step 1 (intro)" in path[0].reason
    old = [item for item in suggestions.values() for item in item if item.account_id not in new]
    assert all(ONBOARDING not in item.kinds for item in old)

    # The next run continues the path instead of repeating its first steps.
    history = pd.DataFrame(
        [
            (item.account_id, item.training_id, AS_OF, None)
            for account in young
            for item in suggestions[account]
            if ONBOARDING in item.kinds
        ],
        columns=NO_HISTORY.columns,
    )
    later = AS_OF + dt.timedelta(days=7)
    accounts.loc[accounts["account_id"].isin(young), "tenure_days"] = 19.0
    again = by_account(suggest_trainings(usage, accounts, CATALOGUE, history, later, KEY_FEATURES))
    for account in young:
        before = {item.training_id for item in suggestions[account] if ONBOARDING in item.kinds}
        after = [item for item in again.get(account, []) if ONBOARDING in item.kinds]
        assert not before & {item.training_id for item in after}
        assert all("step 3" in item.reason or "step 4" in item.reason for item in after)


def test_the_repeat_window_and_recent_deliveries_are_honoured(portfolio: Portfolio):
    usage, accounts = inputs(portfolio.events, portfolio)
    first = suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, KEY_FEATURES)
    assert first
    pairs = {(item.account_id, item.training_id) for item in first}

    def history(days_ago: int, delivered: bool = False) -> pd.DataFrame:
        day = pd.Timestamp(AS_OF) - pd.Timedelta(days=days_ago)
        rows = [(account, training, day, day if delivered else None) for account, training in pairs]
        return pd.DataFrame(rows, columns=NO_HISTORY.columns)

    within = suggest_trainings(usage, accounts, CATALOGUE, history(59), AS_OF, KEY_FEATURES)
    assert not pairs & {(item.account_id, item.training_id) for item in within}
    after = suggest_trainings(usage, accounts, CATALOGUE, history(61), AS_OF, KEY_FEATURES)
    established = set(accounts.loc[accounts["tenure_days"] >= 90, "account_id"])  # no onboarding path to follow
    assert {(i.account_id, i.training_id) for i in after if i.account_id in established} == {
        (i.account_id, i.training_id) for i in first if i.account_id in established
    }
    sent = suggest_trainings(usage, accounts, CATALOGUE, history(80, delivered=True), AS_OF, KEY_FEATURES)
    assert not pairs & {(item.account_id, item.training_id) for item in sent}
    # Today's own rows are what a re-run replaces: they never block.
    assert suggest_trainings(usage, accounts, CATALOGUE, history(0), AS_OF, KEY_FEATURES) == first


def peers(rows: list[tuple[str, int, int]], feature: str = "meeting_scheduled") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accounts (id, active users, users of `feature`) in one segment with 20 seats; everyone logs in."""
    usage = pd.DataFrame(
        [(a, feature, users * 3, users) for a, _, users in rows if users]
        + [(a, "login", active * 5, active) for a, active, _ in rows]
        + [(a, "comment_added", active, active) for a, active, _ in rows],
        columns=["account_id", "event", "events", "users"],
    )
    accounts = pd.DataFrame(
        [(a, "mid_market", "starter", 20, active, 400.0, "green") for a, active, _ in rows],
        columns=["account_id", "segment", "plan", "seats", "active_users", "tenure_days", "band"],
    )
    return usage, accounts


def test_far_below_peers_per_active_user_gets_the_training_with_the_numbers():
    usage, accounts = peers([("a", 16, 12), ("b", 16, 10), ("c", 16, 11), ("d", 16, 12), ("low", 16, 1)])
    keys = {"starter": ["meeting_scheduled", "comment_added"]}
    suggestions = by_account(suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, keys))
    assert set(suggestions) == {"low"}
    (item,) = suggestions["low"]
    assert (item.training_id, item.features, item.priority) == ("tr-04", ("meeting_scheduled",), 2)
    assert item.reason == (
        "meeting_scheduled used by 1 of 16 active users in the last 30 days; peers in mid_market: 11 per 16"
    )


def test_many_inactive_seats_get_intro_onboarding():
    usage, accounts = peers([("a", 16, 12), ("b", 16, 10), ("c", 16, 11), ("idle", 5, 4)])
    keys = {"starter": ["meeting_scheduled", "comment_added"]}
    suggestions = by_account(suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, keys))
    assert set(suggestions) == {"idle"}
    (item,) = suggestions["idle"]
    assert LEVEL[item.training_id] == "intro"
    assert item.kinds == (INACTIVE_SEATS,)
    assert item.reason.startswith("5 of 20 seats active in the last 30 days (25%)")


def test_a_plan_without_key_features_uses_what_healthy_peers_use():
    usage, accounts = peers([("a", 16, 12), ("b", 16, 10), ("c", 16, 11), ("none", 16, 0)])
    accounts.loc[accounts["account_id"] == "b", "band"] = "red"
    suggestions = by_account(suggest_trainings(usage, accounts, CATALOGUE, NO_HISTORY, AS_OF, {}))
    (item,) = suggestions["none"]
    assert item.training_id == "tr-04"
    assert "meeting_scheduled not used in the last 30 days (one of the most used by healthy mid_market" in item.reason


# ---------------------------------------------------------------------------------------------- effect


def effect_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """smb: 3 of 4 sent rose, 1 of 4 similar; enterprise: 1 of 1 sent, 1 of 2 similar (+ noise that must not count)."""
    day = pd.Timestamp("2025-03-01")
    units = [  # account, segment, delivered?, rose?
        ("s1", "smb", True, True),
        ("s2", "smb", True, True),
        ("s3", "smb", True, False),
        ("s4", "smb", True, True),
        ("n1", "smb", False, True),
        ("n2", "smb", False, False),
        ("n3", "smb", False, False),
        ("n4", "smb", False, False),
        ("e1", "enterprise", True, True),
        ("f1", "enterprise", False, False),
        ("f2", "enterprise", False, True),
        ("lonely", "mid_market", True, True),  # no similar account in its segment: left out of the comparison
    ]
    suggestions = [(a, "tr-04", day, day if sent else None) for a, _, sent, _ in units]
    suggestions.append(("late", "tr-04", day, pd.Timestamp(AS_OF) - pd.Timedelta(days=10)))  # too recent
    usage = []
    for account, _, _, rose in [*units, ("late", "smb", True, True)]:
        usage.append((account, day - pd.Timedelta(days=10), "meeting_scheduled", 2))
        usage.append((account, day + pd.Timedelta(days=5), "meeting_scheduled", 3 if rose else 2))
        usage.append((account, day + pd.Timedelta(days=40), "meeting_scheduled", 50))  # outside the window
        usage.append((account, day + pd.Timedelta(days=5), "login", 9))  # not taught
    frames = (
        pd.DataFrame(suggestions, columns=["account_id", "training_id", "as_of", "delivered_at"]),
        pd.DataFrame(usage, columns=["account_id", "day", "event", "users"]),
        pd.DataFrame([(a, s) for a, s, _, _ in units] + [("late", "smb")], columns=["account_id", "segment"]),
    )
    return frames


def test_effect_is_a_difference_in_shares_weighted_to_the_sent_segments():
    suggestions, usage, accounts = effect_case()
    config = TrainingConfig(min_effect_count=2)
    effects = {e.training_id: e for e in training_effects(suggestions, usage, accounts, CATALOGUE, AS_OF, config)}
    effect = effects["tr-04"]
    assert (effect.sent, effect.sent_rose, effect.similar, effect.similar_rose) == (5, 4, 6, 2)
    assert effect.sent_share == pytest.approx(0.8)
    assert effect.similar_share == pytest.approx(4 / 5 * 1 / 4 + 1 / 5 * 1 / 2)  # 0.3
    assert effect.difference == pytest.approx(0.5)
    assert effect.enough_data
    assert "rose for 4 of 5 accounts sent it (80%)" in effect.summary
    assert "+50 points" in effect.summary
    assert effects["tr-01"].summary.startswith("not enough data")
    assert (effects["tr-01"].sent, effects["tr-01"].similar) == (0, 0)


def test_below_the_minimum_count_says_not_enough_data():
    suggestions, usage, accounts = effect_case()
    (effect,) = [
        e for e in training_effects(suggestions, usage, accounts, CATALOGUE, AS_OF) if e.training_id == "tr-04"
    ]
    assert not effect.enough_data
    assert effect.difference is None
    assert effect.summary.startswith("not enough data: 5 accounts sent it and 6 similar accounts not sent it")


def test_nothing_sent_yet_is_not_an_error():
    empty = pd.DataFrame(columns=["account_id", "training_id", "as_of", "delivered_at"])
    usage = pd.DataFrame(columns=["account_id", "day", "event", "users"])
    accounts = pd.DataFrame(columns=["account_id", "segment"])
    effects = training_effects(empty, usage, accounts, CATALOGUE, AS_OF)
    assert len(effects) == len(CATALOGUE)
    assert not any(effect.enough_data for effect in effects)
    assert np.all([effect.sent == 0 for effect in effects])
