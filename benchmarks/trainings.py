"""Training suggestions at scale: every rule for 10,000 synthetic accounts in one vectorised pass.

Builds the core's inputs directly (30-day usage per account and feature, accounts with seats, tenure and band,
the 12-entry catalogue, declared key features for two of three plans, and 60 days of suggestion history);
generation is not timed, suggest_trainings is (best of `--repeat` runs).

    python benchmarks/trainings.py [--accounts 10000] [--seed 1] [--repeat 3]

Target: < 2 s for 10,000 accounts on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from alerts.trainings import suggest_trainings
from cs_health.demo.generator import FEATURE_NAMES
from cs_health.demo.generator import PLANS as DEMO_PLANS
from cs_health.demo.generator import SEGMENTS as DEMO_SEGMENTS

AS_OF = dt.date(2026, 11, 1)
SEGMENTS, PLANS = np.array(DEMO_SEGMENTS), np.array(DEMO_PLANS)
BANDS = np.array(["green", "yellow", "red"])
FEATURES = np.array(FEATURE_NAMES)  # the demo generator's product features
CATALOGUE = [
    ("tr-01", ["dashboard_viewed", "login"], "intro"),
    ("tr-02", ["report_exported", "dashboard_viewed"], "core"),
    ("tr-03", ["comment_added", "file_uploaded"], "intro"),
    ("tr-04", ["meeting_scheduled"], "intro"),
    ("tr-05", ["invoice_sent"], "core"),
    ("tr-06", ["workflow_run", "automation_created"], "core"),
    ("tr-07", ["automation_created", "workflow_run"], "advanced"),
    ("tr-08", ["integration_synced"], "core"),
    ("tr-09", ["api_call"], "advanced"),
    ("tr-10", ["audit_log_viewed"], "advanced"),
    ("tr-11", ["login", "dashboard_viewed", "integration_synced"], "intro"),
    ("tr-12", ["report_exported", "dashboard_viewed"], "advanced"),
]
KEY_FEATURES = {
    "starter": ["dashboard_viewed", "comment_added", "file_uploaded", "meeting_scheduled"],
    "growth": ["dashboard_viewed", "report_exported", "workflow_run", "invoice_sent", "integration_synced"],
}  # enterprise declares none: the healthy peers' top features stand in


def build(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("acc-", np.char.zfill(np.arange(n).astype(str), 6))
    seats = rng.integers(3, 200, n)
    active = np.minimum(seats, rng.binomial(seats, rng.uniform(0.2, 1.0, n)))
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "segment": SEGMENTS[rng.integers(0, 3, n)],
            "plan": PLANS[rng.integers(0, 3, n)],
            "seats": seats,
            "active_users": active,
            "tenure_days": rng.integers(1, 1500, n).astype(float),
            "band": BANDS[rng.integers(0, 3, n)],
        }
    )
    # Each account uses each feature with probability 0.7; its users of it are a binomial share of the active.
    account, feature = np.divmod(np.arange(n * len(FEATURES)), len(FEATURES))
    used = rng.random(len(account)) < 0.7
    account, feature = account[used], feature[used]
    users = rng.binomial(active[account], rng.uniform(0.05, 0.9, len(account)))
    usage = pd.DataFrame(
        {
            "account_id": ids[account],
            "event": FEATURES[feature],
            "events": users * rng.integers(1, 30, len(account)),
            "users": users,
        }
    )
    catalogue = pd.DataFrame(
        [
            (tid, f"Training {tid}", features, f"https://academy.example/{tid}", level, "doc")
            for tid, features, level in CATALOGUE
        ],
        columns=["training_id", "title", "features", "url", "level", "format"],
    )
    past = rng.integers(0, n, n // 3)
    history = pd.DataFrame(
        {
            "account_id": ids[past],
            "training_id": catalogue["training_id"].to_numpy()[rng.integers(0, len(CATALOGUE), len(past))],
            "as_of": pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(1, 90, len(past)), unit="D"),
            "delivered_at": pd.NaT,
        }
    )
    return usage, accounts, catalogue, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    usage, accounts, catalogue, history = build(args.accounts, args.seed)
    best = float("inf")
    for _ in range(args.repeat):
        clock = time.perf_counter()
        suggestions = suggest_trainings(usage, accounts, catalogue, history, AS_OF, KEY_FEATURES)
        best = min(best, time.perf_counter() - clock)
    print(f"{args.accounts:,} accounts, {len(usage):,} usage rows -> {len(suggestions):,} suggestions")
    print(f"suggest_trainings: {best:.2f} s (best of {args.repeat})")


if __name__ == "__main__":
    main()
