"""The per-user daily rollup of a batch equals the plain pandas groupby it replaces, whatever the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cs_health.ingestion.service import DATETIME_FORMAT, user_daily_rollup


def reference(events: pd.DataFrame) -> list[tuple[object, ...]]:
    keyed = events.assign(day=events["timestamp"].dt.strftime("%Y-%m-%d"), user_id=events["user_id"].fillna(""))
    grouped = (
        keyed.groupby(["account_id", "day", "event", "user_id"])
        .agg(events=("quantity", "size"), quantity=("quantity", "sum"), latest=("timestamp", "max"))
        .reset_index()
    )
    return sorted(
        zip(
            grouped["account_id"],
            grouped["day"],
            grouped["event"],
            grouped["user_id"],
            grouped["events"],
            grouped["quantity"],
            grouped["latest"].dt.strftime(DATETIME_FORMAT),
            strict=True,
        )
    )


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 400), accounts=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_the_rollup_matches_a_groupby(size: int, accounts: int, seed: int):
    rng = np.random.default_rng(seed)
    events = pd.DataFrame(
        {
            "account_id": rng.choice([f"acc-{i}" for i in range(accounts)], size),
            "event": rng.choice(["login", "export", "invite"], size),
            "user_id": pd.Series(rng.choice(["u1", "u2", "u3", None], size), dtype=object),
            "timestamp": pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 86_400 * 5, size), unit="s"),
            "quantity": rng.integers(1, 4, size).astype(float),
        }
    )
    assert sorted(user_daily_rollup(events)) == reference(events)
