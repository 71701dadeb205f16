"""Nightly analytics at scale: features + health score (+ explanations) for every account in one pass.

Builds a synthetic portfolio directly as the core's input frames (vectorised, far lighter than the demo
generator): 10,000 accounts, two years of daily usage per feature and per user, subscriptions, contacts,
tickets, NPS and touchpoints. Data generation is not timed; compute_features, score_accounts and explain are.

    python benchmarks/nightly.py [--accounts 10000] [--days 730] [--seed 1] [--ids category|str] [--profile]

Target: features + health <= 10 s for 10,000 accounts on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
from alert_rules import snapshot as rules_snapshot  # benchmarks/ is on sys.path when this runs as a script

from alerts.rules import evaluate_rules, load_rules
from cs_health.demo.generator import FEATURE_NAMES
from cs_health.demo.generator import PLANS as DEMO_PLANS
from cs_health.demo.generator import SEGMENTS as DEMO_SEGMENTS
from models.features import compute_features
from models.frames import PortfolioData
from models.health import explain, score_accounts
from models.scorecard import load_scorecard

AS_OF = dt.date(2026, 11, 1)
SEGMENTS, PLANS = np.array(DEMO_SEGMENTS), np.array(DEMO_PLANS)
FEATURES = np.array(FEATURE_NAMES)  # the demo generator's product features
FEATURE_USE = np.array([1.0, 0.75, 0.3, 0.45, 0.3, 0.25, 0.25, 0.4, 0.5, 0.35, 0.08, 0.1])
KEY_FEATURES = {
    "starter": ("dashboard_viewed", "comment_added", "file_uploaded", "meeting_scheduled"),
    "growth": ("dashboard_viewed", "report_exported", "workflow_run", "invoice_sent", "integration_synced"),
    # "enterprise" left out on purpose: it exercises the segment fallback.
}
WEEKDAY = np.array([1.0, 1.02, 1.03, 1.0, 0.9, 0.12, 0.07])


def synthetic_portfolio(accounts: int, days: int, seed: int, ids: str) -> PortfolioData:
    """Vectorised synthetic input frames (no Python loop over accounts or users)."""
    rng = np.random.default_rng(seed)
    end = np.datetime64(AS_OF, "D")
    start = end - days
    account_ids = np.array([f"acc-{i:05d}" for i in range(accounts)])
    segment = rng.choice(3, size=accounts, p=(0.6, 0.3, 0.1))
    plan = np.minimum(segment + rng.choice(2, size=accounts, p=(0.7, 0.3)), 2)
    seats = np.clip(np.round(np.array([6, 28, 110])[segment] * rng.lognormal(0, 0.45, accounts)), 2, 400).astype(int)
    level = rng.lognormal(0, 0.3, accounts)
    fading = rng.random(accounts) < 0.2  # a fifth of the book declines over the last quarter

    # Users and their activity, drawn in day chunks to bound memory.
    per_account = np.maximum(2, np.round(seats * rng.uniform(0.4, 1.0, accounts))).astype(int)
    user_account = np.repeat(np.arange(accounts), per_account)
    users = len(user_account)
    first_user = np.concatenate([[0], np.cumsum(per_account)[:-1]])
    user_rank = np.arange(users) - first_user[user_account]
    user_ids = np.char.add(np.char.add(account_ids[user_account], "-u"), user_rank.astype(str))
    p_user = np.clip(0.25 * rng.lognormal(0, 0.6, users) * level[user_account], 0.02, 0.9)
    parts_user, parts_day, parts_events = [], [], []
    for chunk in range(0, days, 30):
        day_index = np.arange(chunk, min(chunk + 30, days))
        day = start + day_index
        weekday = (day.astype(np.int64) + 3) % 7
        decay = np.where(fading[user_account][:, None], np.clip((days - day_index) / 90, 0.15, 1.0), 1.0)
        p = p_user[:, None] * WEEKDAY[weekday][None, :] * decay
        u, d = np.nonzero(rng.random((users, len(day_index))) < p)
        parts_user.append(u.astype(np.int32))
        parts_day.append(day[d])
        parts_events.append(1 + rng.poisson(6, len(u)).astype(np.int32))
    act_user = np.concatenate(parts_user)
    act_day = np.concatenate(parts_day).astype("datetime64[ns]")
    act_events = np.concatenate(parts_events)
    act_account = user_account[act_user]

    def id_column(values: np.ndarray, codes: np.ndarray) -> pd.Series:
        column = pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype="str"))
        return pd.Series(column) if ids == "category" else pd.Series(column).astype("str")

    user_activity = pd.DataFrame(
        {
            "account_id": id_column(account_ids, act_account),
            "user_id": id_column(user_ids, act_user),
            "day": act_day,
            "events": act_events,
        }
    )
    # Daily usage per feature: an account-day with k active users uses each adopted feature with 1-(1-p)^k.
    keys = act_account.astype(np.int64) * (days + 1) + (
        (act_day - np.datetime64(start, "ns")) // np.timedelta64(1, "D")
    )
    unique, inverse = np.unique(keys, return_inverse=True)
    active_users = np.bincount(inverse)
    day_account = (unique // (days + 1)).astype(np.int32)
    day_day = np.datetime64(start, "ns") + (unique % (days + 1)).astype("timedelta64[D]")
    adopted = rng.random((accounts, len(FEATURES))) < np.where(fading, 0.45, 0.75)[:, None]
    adopted[:, 0] = True
    chance = 1 - (1 - FEATURE_USE[None, :] * adopted[day_account]) ** active_users[:, None]
    row, feature = np.nonzero(rng.random(chance.shape) < chance)
    users_used = np.maximum(1, rng.binomial(active_users[row], FEATURE_USE[feature]))
    events = users_used * (1 + rng.poisson(3, len(row)))
    daily_usage = pd.DataFrame(
        {
            "account_id": id_column(account_ids, day_account[row]),
            "day": day_day[row],
            "event": pd.Categorical.from_codes(feature.astype(np.int8), categories=pd.Index(FEATURES, dtype="str")),
            "events": events,
            "quantity": events * 1.5,
            "users": users_used,
        }
    )

    term = rng.choice([30, 182, 365], size=accounts, p=(0.5, 0.2, 0.3))
    current = end - rng.integers(0, term) - 1 + 1
    mrr = seats * np.array([29.0, 59.0, 99.0])[plan]
    subscriptions = pd.DataFrame(
        {
            "account_id": np.concatenate([account_ids, account_ids]),
            "start_date": np.concatenate([current - term, current]).astype("datetime64[ns]"),
            "end_date": np.concatenate([current, current + term]).astype("datetime64[ns]"),
            "mrr": np.concatenate([mrr * rng.uniform(0.9, 1.1, accounts), mrr]),
            "seats": np.concatenate([seats, seats]),
            "plan": np.concatenate([PLANS[plan], PLANS[plan]]),
            "status": "active",
        }
    )
    created = (current - term - rng.integers(0, 700, accounts)).astype("datetime64[ns]")
    accounts_frame = pd.DataFrame(
        {
            "account_id": account_ids,
            "segment": SEGMENTS[segment],
            "plan": PLANS[plan],
            "created_at": created,
            "tags": [["eu"]] * accounts,
        }
    )
    role = np.where(user_rank == 0, "champion", np.where(user_rank == 1, "decision_maker", "user"))
    contacts = pd.DataFrame({"user_id": user_ids, "account_id": account_ids[user_account], "role": role})

    def stamps(n: int) -> np.ndarray:
        return (np.datetime64(start, "s") + rng.integers(0, days * 86_400, n).astype("timedelta64[s]")).astype(
            "datetime64[ns]"
        )

    n_tickets, n_nps, n_touch = accounts * 12, accounts * 6, accounts * 15
    opened = stamps(n_tickets)
    closed = opened + rng.exponential(36 * 3600, n_tickets).astype("timedelta64[s]")
    tickets = pd.DataFrame(
        {
            "account_id": account_ids[rng.integers(0, accounts, n_tickets)],
            "opened_at": opened,
            "closed_at": closed,
            "priority": rng.choice(["low", "normal", "high", "urgent"], n_tickets, p=(0.3, 0.5, 0.15, 0.05)),
            "csat": pd.array(np.where(rng.random(n_tickets) < 0.5, rng.integers(1, 6, n_tickets), 0), dtype="Int64"),
        }
    )
    tickets.loc[tickets["csat"] == 0, "csat"] = pd.NA
    nps_account = rng.integers(0, accounts, n_nps)
    nps = pd.DataFrame(
        {
            "account_id": account_ids[nps_account],
            "responded_at": stamps(n_nps),
            "score": rng.integers(0, 11, n_nps),
            "user_id": account_ids[nps_account],
        }
    )
    touchpoints = pd.DataFrame(
        {
            "account_id": account_ids[rng.integers(0, accounts, n_touch)],
            "at": stamps(n_touch),
            "kind": rng.choice(["call", "email", "meeting", "qbr"], n_touch),
        }
    )
    return PortfolioData(
        daily_usage=daily_usage,
        user_activity=user_activity,
        accounts=accounts_frame,
        subscriptions=subscriptions,
        contacts=contacts,
        tickets=tickets,
        nps=nps,
        touchpoints=touchpoints,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ids", choices=("category", "str"), default="category")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the timed part")
    args = parser.parse_args()

    began = time.perf_counter()
    data = synthetic_portfolio(args.accounts, args.days, args.seed, args.ids)
    print(
        f"generated {args.accounts:,} accounts x {args.days} days in {time.perf_counter() - began:.1f} s: "
        f"{len(data.daily_usage):,} daily_usage rows, {len(data.user_activity):,} user_activity rows "
        f"(ids as {args.ids})"
    )
    card = load_scorecard()
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    t0 = time.perf_counter()
    features = compute_features(data, AS_OF, KEY_FEATURES)
    t1 = time.perf_counter()
    result = score_accounts(features, card)
    t2 = time.perf_counter()
    reasons = explain(result, features, card, previous={7: result, 30: result.components})
    t3 = time.perf_counter()
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False))
    bands = result.scores["band"].value_counts().to_dict()
    print(f"accounts scored:    {len(features):,}  bands {bands}  explanations {len(reasons):,}")
    print(f"compute_features:   {t1 - t0:6.2f} s")
    print(f"score_accounts:     {t2 - t1:6.2f} s")
    print(f"features + health:  {t2 - t0:6.2f} s  (target <= 10 s)")
    print(f"explain (all):      {t3 - t2:6.2f} s")
    print(f"total:              {t3 - t0:6.2f} s")
    rules_frame = rules_snapshot(len(features), seed=1)  # the alert rules' own snapshot shape, same account count
    rules = load_rules()
    t4 = time.perf_counter()
    fired = evaluate_rules(rules_frame, rules)
    print(f"alert rules:        {time.perf_counter() - t4:6.2f} s  ({len(fired):,} alerts; target < 2 s)")


if __name__ == "__main__":
    main()
