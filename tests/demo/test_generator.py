import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cs_health.demo.generator import KEY_FEATURES, Portfolio, generate_portfolio, write_portfolio

END = datetime.date(2025, 3, 15)
END_TS = pd.Timestamp(END)
KINDS = (
    "accounts",
    "users",
    "subscriptions",
    "events",
    "tickets",
    "nps",
    "touchpoints",
    "trainings",
    "ground_truth",
)
CONTRACT = {
    "accounts": ["account_id", "name", "segment", "industry", "csm_email", "created_at", "tags", "plan"],
    "users": ["user_id", "account_id", "email", "name", "role", "created_at"],
    "subscriptions": [
        "subscription_id",
        "account_id",
        "start_date",
        "end_date",
        "mrr",
        "plan",
        "seats",
        "status",
    ],
    "events": ["account_id", "event", "timestamp", "user_id", "quantity", "message_id"],
    "tickets": ["ticket_id", "account_id", "opened_at", "closed_at", "priority", "csat"],
    "nps": ["account_id", "responded_at", "score", "user_id", "comment"],
    "touchpoints": ["account_id", "at", "kind", "csm_email", "notes"],
    "trainings": ["training_id", "title", "features", "url", "level", "format"],
    "ground_truth": ["account_id", "trajectory", "decline_start", "churn_date", "segment"],
}
DECLINING = {"slow_fade", "sudden_drop", "champion_leaves", "seat_contraction"}


@pytest.fixture(scope="module")
def small() -> Portfolio:
    return generate_portfolio(accounts=40, months=12, seed=7, end=END)


@pytest.fixture(scope="module")
def medium() -> Portfolio:
    """Large enough to hold several churned accounts of each kind, still well under a second."""
    return generate_portfolio(accounts=150, months=18, seed=3, end=END)


def _naive(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None)


def _daily_events(portfolio: Portfolio) -> pd.Series:
    events = portfolio.events
    day = _naive(events["timestamp"]).dt.floor("D")
    return events.groupby([events["account_id"].astype(str), day]).size()


def _window_sum(daily: pd.Series, stop: pd.Timestamp, days: int) -> int:
    index = daily.index
    return int(daily[(index >= stop - pd.Timedelta(days=days)) & (index < stop)].sum())


def test_same_seed_gives_identical_frames(small: Portfolio) -> None:
    again = generate_portfolio(accounts=40, months=12, seed=7, end=END)
    for kind in KINDS:
        pd.testing.assert_frame_equal(getattr(small, kind), getattr(again, kind))


def test_different_seeds_give_different_portfolios(small: Portfolio) -> None:
    other = generate_portfolio(accounts=40, months=12, seed=8, end=END)
    assert small.accounts["name"].tolist() != other.accounts["name"].tolist()
    assert len(small.events) != len(other.events) or not small.events.equals(other.events)


@pytest.mark.parametrize("kind", KINDS)
def test_every_contract_column_is_present_in_order(small: Portfolio, kind: str) -> None:
    assert list(getattr(small, kind).columns) == CONTRACT[kind]
    assert len(getattr(small, kind)) > 0


@pytest.mark.parametrize(
    ("kind", "column"),
    [
        ("accounts", "account_id"),
        ("accounts", "name"),
        ("users", "user_id"),
        ("users", "email"),
        ("subscriptions", "subscription_id"),
        ("events", "message_id"),
        ("tickets", "ticket_id"),
        ("trainings", "training_id"),
        ("ground_truth", "account_id"),
    ],
)
def test_ids_are_unique(small: Portfolio, kind: str, column: str) -> None:
    values = getattr(small, kind)[column]
    assert values.notna().all()
    assert values.is_unique


def test_value_domains(small: Portfolio) -> None:
    assert set(small.accounts["segment"]) <= {"smb", "mid_market", "enterprise"}
    assert set(small.accounts["plan"]) <= set(KEY_FEATURES)
    assert set(small.subscriptions["plan"]) <= set(KEY_FEATURES)
    assert set(small.users["role"]) == {"champion", "decision_maker", "admin", "user"}
    assert set(small.subscriptions["status"]) <= {"active", "cancelled"}
    assert set(small.tickets["priority"]) <= {"low", "normal", "high", "urgent"}
    assert small.tickets["csat"].dropna().between(1, 5).all()
    assert small.nps["score"].between(0, 10).all()
    assert set(small.touchpoints["kind"]) <= {"call", "meeting", "email", "demo", "training", "qbr", "note"}
    assert (small.events["quantity"] >= 1).all()
    assert small.accounts["csm_email"].str.fullmatch(r"[a-z]+\.[a-z]+@cs-health\.example").all()
    assert small.accounts["account_id"].str.fullmatch(r"acc-\d{4}").all()


def test_company_names_include_non_ascii_and_one_emoji(small: Portfolio) -> None:
    names = small.accounts["name"]
    assert names.map(lambda n: not n.isascii()).sum() >= 3
    assert names.str.contains("\U0001f680").sum() == 1
    assert small.users["email"].map(str.isascii).all()


def test_each_account_has_one_champion_and_one_decision_maker(small: Portfolio) -> None:
    roles = small.users.groupby("account_id")["role"].value_counts().unstack(fill_value=0)
    assert roles.index.tolist() == sorted(small.accounts["account_id"])
    assert (roles["champion"] == 1).all()
    assert (roles["decision_maker"] == 1).all()


def test_events_reference_existing_accounts_and_their_own_users(small: Portfolio) -> None:
    events = small.events
    assert set(events["account_id"].astype(str)) <= set(small.accounts["account_id"])
    owner = small.users.set_index("user_id")["account_id"]
    assert (events["user_id"].astype(str).map(owner) == events["account_id"].astype(str)).all()


def test_key_features_are_event_names_used_in_the_data(small: Portfolio) -> None:
    names = set(small.events["event"].astype(str))
    assert 10 <= len(names) <= 14
    for plan, features in KEY_FEATURES.items():
        assert 4 <= len(features) <= 6, plan
        assert set(features) <= names
    taught = set(";".join(small.trainings["features"]).split(";"))
    assert names <= taught


def test_renewals_start_on_the_previous_end_date(small: Portfolio) -> None:
    subs = small.subscriptions.sort_values(["account_id", "start_date"])
    previous_end = subs.groupby("account_id")["end_date"].shift()
    follows = previous_end.notna()
    assert follows.sum() > 0
    assert (subs.loc[follows, "start_date"] == previous_end[follows]).all()
    assert (subs["end_date"] > subs["start_date"]).all()


def test_churned_accounts_are_those_whose_last_term_ended_and_was_cancelled(medium: Portfolio) -> None:
    subs = medium.subscriptions.sort_values(["account_id", "start_date"])
    last = subs.groupby("account_id").tail(1).set_index("account_id")
    truth = medium.ground_truth.set_index("account_id")
    churned = truth["churn_date"].notna()
    ended = last["end_date"] <= END_TS
    assert churned.sum() >= 10
    assert (ended == churned.reindex(ended.index)).all()
    assert ((last["status"] == "cancelled") == ended).all()
    assert (truth.loc[churned, "churn_date"] == last.loc[churned[churned].index, "end_date"]).all()
    assert (subs.loc[subs.duplicated("account_id", keep="last"), "status"] == "active").all()
    # Customers at `end` have a term covering it.
    assert (last.loc[~ended, "start_date"] <= END_TS).all()


def test_renewal_terms_mix_monthly_half_yearly_and_annual(medium: Portfolio) -> None:
    days = (medium.subscriptions["end_date"] - medium.subscriptions["start_date"]).dt.days
    assert days.between(28, 31).any()
    assert days.between(181, 184).any()
    assert days.between(365, 366).any()
    assert days.isin(list(range(28, 32)) + list(range(181, 185)) + [365, 366]).all()


def test_events_fall_inside_subscribed_time_and_never_after_churn(medium: Portfolio) -> None:
    subs = medium.subscriptions
    span = subs.groupby("account_id").agg(first=("start_date", "min"), last=("end_date", "max"))
    events = medium.events
    when = _naive(events["timestamp"])
    account = events["account_id"].astype(str)
    assert (when >= account.map(span["first"])).all()
    assert (when < account.map(span["last"])).all()
    assert (when < END_TS).all()
    churn = medium.ground_truth.set_index("account_id")["churn_date"]
    assert (when[account.map(churn).notna()] < account.map(churn).dropna()).all()


@pytest.mark.parametrize(("kind", "column"), [("tickets", "opened_at"), ("nps", "responded_at"), ("touchpoints", "at")])
def test_no_customer_activity_after_churn(medium: Portfolio, kind: str, column: str) -> None:
    frame = getattr(medium, kind)
    churn = frame["account_id"].map(medium.ground_truth.set_index("account_id")["churn_date"])
    when = _naive(frame[column])
    assert churn.notna().sum() > 0
    assert (when[churn.notna()] < churn.dropna()).all()


def test_weekdays_are_much_busier_than_weekends(small: Portfolio) -> None:
    per_day = small.events.groupby(_naive(small.events["timestamp"]).dt.floor("D")).size()
    weekend = per_day.index.day_of_week >= 5
    assert per_day[~weekend].mean() > 3 * per_day[weekend].mean()


def test_holidays_are_quiet(medium: Portfolio) -> None:
    per_day = medium.events.groupby(_naive(medium.events["timestamp"]).dt.floor("D")).size()
    christmas = per_day[(per_day.index.month == 12) & (per_day.index.day == 25)]
    weekdays = per_day[per_day.index.day_of_week < 5]
    assert len(christmas) >= 1
    assert (christmas < 0.3 * weekdays.median()).all()


def test_declining_accounts_lose_activity_before_churn_but_healthy_ones_do_not(medium: Portfolio) -> None:
    daily = _daily_events(medium)
    truth = medium.ground_truth
    declined = truth[truth["trajectory"].isin(DECLINING) & truth["churn_date"].notna()]
    assert len(declined) >= 5
    for row in declined.itertuples():
        account = daily.loc[row.account_id]
        before = _window_sum(account, row.decline_start, 60)
        final = _window_sum(account, row.churn_date, 60)
        assert final < before, row

    created = medium.accounts.set_index("account_id")["created_at"]
    healthy = truth[(truth["trajectory"] == "healthy") & truth["churn_date"].isna()]
    established = healthy[_naive(healthy["account_id"].map(created)) < END_TS - pd.Timedelta(days=300)]
    ratios = [
        _window_sum(daily.loc[a], END_TS, 60) / max(_window_sum(daily.loc[a], END_TS - pd.Timedelta(days=120), 60), 1)
        for a in established["account_id"]
    ]
    assert len(ratios) >= 20
    assert np.median(ratios) > 0.85
    assert np.mean(np.array(ratios) < 0.6) < 0.05


def test_trouble_shows_in_tickets_and_nps(medium: Portfolio) -> None:
    decline = medium.ground_truth.set_index("account_id")["decline_start"]

    def in_trouble(frame: pd.DataFrame, column: str) -> pd.Series:
        start = frame["account_id"].map(decline)
        return start.notna() & (_naive(frame[column]) >= start)

    nps_trouble = in_trouble(medium.nps, "responded_at")
    assert medium.nps["score"][nps_trouble].mean() < medium.nps["score"][~nps_trouble].mean() - 2
    tickets = medium.tickets
    csat_trouble = in_trouble(tickets, "opened_at")
    assert tickets["csat"][csat_trouble].mean() < tickets["csat"][~csat_trouble].mean() - 0.5
    healthy = medium.ground_truth.loc[medium.ground_truth["trajectory"] == "healthy", "account_id"]
    assert tickets["account_id"].isin(healthy).sum() > 0


def test_expanding_accounts_grow_seats_and_contracting_ones_cut_them(medium: Portfolio) -> None:
    subs = medium.subscriptions.sort_values(["account_id", "start_date"])
    seats = subs.groupby("account_id")["seats"].agg(["first", "last", "min"])
    trajectory = medium.ground_truth.set_index("account_id")["trajectory"]
    expanding = seats[trajectory.reindex(seats.index) == "expanding"]
    assert (expanding["last"] > expanding["first"]).mean() > 0.7
    contracting = seats[trajectory.reindex(seats.index) == "seat_contraction"]
    assert len(contracting) > 0
    assert (contracting["min"] < contracting["first"]).any()


def test_segment_seat_ranges(medium: Portfolio) -> None:
    first_term = medium.subscriptions.sort_values("start_date").groupby("account_id").head(1)
    segment = first_term["account_id"].map(medium.accounts.set_index("account_id")["segment"])
    bounds = {"smb": (3, 15), "mid_market": (15, 60), "enterprise": (60, 300)}
    for name, (low, high) in bounds.items():
        assert first_term.loc[segment == name, "seats"].between(low, high).all(), name
    assert (segment == "smb").mean() > (segment == "mid_market").mean() > (segment == "enterprise").mean()


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_portfolio(accounts=0, months=12, end=END)


def test_write_portfolio_writes_readable_files_in_dependency_order(small: Portfolio, tmp_path: Path) -> None:
    paths = write_portfolio(small, tmp_path / "demo")
    assert list(paths) == [
        "accounts",
        "users",
        "subscriptions",
        "trainings",
        "events",
        "tickets",
        "nps",
        "touchpoints",
    ]
    assert paths["events"].name == "events.parquet"
    assert (tmp_path / "demo" / "ground_truth.csv").exists()
    for kind, path in paths.items():
        if kind == "events":
            frame = pq.read_table(path).to_pandas()
        else:
            assert path.name == f"{kind}.csv"
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(frame.columns) == CONTRACT[kind], kind
        assert len(frame) == len(getattr(small, kind)), kind
    events = pq.read_table(paths["events"]).to_pandas()
    assert events["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert events["message_id"].tolist() == small.events["message_id"].tolist()
    subs = pd.read_csv(paths["subscriptions"], dtype=str, keep_default_na=False)
    assert subs["end_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    tickets = pd.read_csv(paths["tickets"], dtype=str, keep_default_na=False)
    assert tickets["opened_at"].str.endswith("Z").all()
    assert set(tickets.loc[small.tickets["closed_at"].isna().to_numpy(), "closed_at"]) <= {""}
    accounts = pd.read_csv(paths["accounts"], dtype=str, keep_default_na=False)
    assert accounts["name"].tolist() == small.accounts["name"].tolist()
    truth = pd.read_csv(tmp_path / "demo" / "ground_truth.csv", dtype=str, keep_default_na=False)
    assert list(truth.columns) == CONTRACT["ground_truth"]


@pytest.mark.slow
def test_default_portfolio_volume_and_churn() -> None:
    portfolio = generate_portfolio(end=datetime.date(2025, 6, 1))
    assert 1_500_000 <= len(portfolio.events) <= 3_000_000
    churned = portfolio.ground_truth["churn_date"].notna().sum()
    assert 50 <= churned <= 90
    assert (portfolio.ground_truth["trajectory"].isin(["healthy", "expanding"])).mean() > 0.5
