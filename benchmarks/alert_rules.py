"""Alert rule evaluation at scale: the default rules over a 10,000-account snapshot in one vectorised pass.

Builds a synthetic snapshot frame (the columns cs_health.renewals.service.snapshot produces, with churn
probabilities and usage anomalies present for about half the accounts, as during the churn stage's roll-out);
building is not timed, loading the rules and evaluate_rules are (best of `--repeat` runs).

    python benchmarks/alert_rules.py [--accounts 10000] [--seed 1] [--repeat 3]

Target: < 2 s for 10,000 accounts on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from alerts.rules import evaluate_rules, load_rules

AS_OF = dt.date(2026, 11, 1)
BANDS = np.array(["green", "yellow", "red"])
STAGES = np.array(["active", "silent", "sleeping", "churned"])
SEGMENTS = np.array(["smb", "mid_market", "enterprise"])


def snapshot(accounts: int, seed: int) -> pd.DataFrame:
    random = np.random.default_rng(seed)
    seats = random.integers(1, 200, accounts).astype("float64")
    active = np.minimum(seats, random.poisson(seats * random.uniform(0.2, 1.1, accounts))).astype("float64")
    days = random.integers(-30, 365, accounts).astype("float64")
    half = random.random(accounts) < 0.5
    stage = STAGES[random.choice(4, accounts, p=[0.7, 0.15, 0.1, 0.05])]
    previous = np.where(random.random(accounts) < 0.05, STAGES[random.integers(0, 4, accounts)], stage)
    return pd.DataFrame(
        {
            "account_id": [f"acc-{number:05d}" for number in range(accounts)],
            "account_name": [f"Account {number}" for number in range(accounts)],
            "csm_email": [f"csm{number % 40}@cs.example" for number in range(accounts)],
            "segment": SEGMENTS[random.integers(0, 3, accounts)],
            "tags": [["vip"] if number % 17 == 0 else [] for number in range(accounts)],
            "score": random.uniform(5, 100, accounts).round(1),
            "band": BANDS[random.choice(3, accounts, p=[0.6, 0.25, 0.15])],
            "trend_7d": random.normal(0, 4, accounts).round(1),
            "trend_30d": random.normal(0, 9, accounts).round(1),
            "lifecycle_stage": stage,
            "previous_stage": previous,
            "churn_probability_30d": np.where(half, random.uniform(0, 0.6, accounts), np.nan),
            "churn_probability_90d": np.where(half, random.uniform(0, 0.8, accounts), np.nan),
            "churn_probability_renewal": np.where(half, random.uniform(0, 1, accounts), np.nan),
            "days_to_renewal": days,
            "renewal_date": [AS_OF + dt.timedelta(days=int(value)) for value in days],
            "arr": random.lognormal(10, 1, accounts).round(0),
            "seats": seats,
            "seat_utilisation": active / seats,
            "active_users_28d": active,
            "touches_90d": random.poisson(5, accounts).astype("float64"),
            "champion_active_30d": np.where(random.random(accounts) < 0.8, random.random(accounts) < 0.8, np.nan),
            "usage_trend": random.normal(0, 0.3, accounts),
            "days_since_last_activity": random.exponential(5, accounts).round(),
            "usage_anomaly": np.where(half, random.random(accounts) < 0.05, None),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    frame = snapshot(arguments.accounts, arguments.seed)
    best, fired = float("inf"), []
    for _ in range(arguments.repeat):
        clock = time.perf_counter()
        fired = evaluate_rules(frame, load_rules())
        best = min(best, time.perf_counter() - clock)
    by_rule = pd.Series([alert.rule for alert in fired]).value_counts().to_dict()
    print(f"accounts: {arguments.accounts:,}; alerts fired: {len(fired):,} {by_rule}")
    print(f"rule evaluation: {best:.3f} s (best of {arguments.repeat}; target < 2 s)")


if __name__ == "__main__":
    main()
