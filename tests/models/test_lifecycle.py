import numpy as np
import pandas as pd
import pytest

from models.lifecycle import (
    MOTIONS,
    TOUCH_POLICIES,
    LifecycleThresholds,
    lifecycle_stage,
    quadrant,
)


def frame(rows: dict[str, tuple]) -> pd.DataFrame:
    columns = ["days_since_last_activity", "active_days_28d", "renewal_date", "segment", "arr"]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    out.index.name = "account_id"
    out["renewal_date"] = pd.to_datetime(out["renewal_date"])
    return out


FEATURES = frame(
    {
        "daily": (1.0, 20.0, "2026-06-01", "smb", 1_000.0),
        "shallow": (2.0, 2.0, "2026-06-01", "smb", 2_000.0),
        "edge_active": (7.0, 4.0, "2026-06-01", "smb", 3_000.0),
        "quiet": (8.0, 5.0, "2026-06-01", "enterprise", 90_000.0),
        "edge_silent": (30.0, 0.0, "2026-06-01", "enterprise", 50_000.0),
        "asleep": (31.0, 0.0, "2026-06-01", "enterprise", 10_000.0),
        "unknown": (np.nan, np.nan, "2026-06-01", "enterprise", 20_000.0),
        "gone": (3.0, 10.0, None, "smb", np.nan),
    }
)


def test_stage_from_recency_and_depth():
    stages = lifecycle_stage(FEATURES)
    assert stages["stage"].to_dict() == {
        "daily": "active",
        "shallow": "silent",
        "edge_active": "active",
        "quiet": "silent",
        "edge_silent": "silent",
        "asleep": "sleeping",
        "unknown": "sleeping",
        "gone": "churned",
    }
    assert stages.loc["daily", "cadence_days"] == TOUCH_POLICIES["active"].cadence_days
    assert "no discounts" in stages.loc["daily", "touch_policy"]
    assert "Light outreach" in stages.loc["quiet", "touch_policy"]
    assert "high-value rescue" in stages.loc["asleep", "touch_policy"]
    assert pd.isna(stages.loc["gone", "cadence_days"])


def test_thresholds_are_configurable_and_checked():
    strict = lifecycle_stage(FEATURES, LifecycleThresholds(active_within_days=3, active_min_days_28d=10))
    assert strict.loc["edge_active", "stage"] == "silent"
    assert strict.loc["daily", "stage"] == "active"
    with pytest.raises(ValueError, match="active_within_days"):
        LifecycleThresholds(active_within_days=40, silent_within_days=30)


def test_quadrant_splits_by_segment_median_arr_and_health():
    accounts = FEATURES.drop(index=["gone", "unknown"])
    bands = pd.Series(
        {
            "daily": "green",  # smb median ARR is 2,000
            "shallow": "red",
            "edge_active": "yellow",
            "quiet": "green",  # enterprise median ARR is 50,000
            "edge_silent": "yellow",
            "asleep": "green",
        }
    )
    result = quadrant(accounts, bands)
    assert result["quadrant"].to_dict() == {
        "daily": "low_value_healthy",
        "shallow": "high_value_at_risk",
        "edge_active": "high_value_at_risk",
        "quiet": "high_value_healthy",
        "edge_silent": "high_value_at_risk",
        "asleep": "low_value_healthy",
    }
    assert result.loc["shallow", "motion"] == MOTIONS["high_value_at_risk"]
    assert "High-touch CSM" in result.loc["shallow", "motion"]
    assert "Tech-touch automation" in result.loc["daily", "motion"]


def test_an_unscored_account_is_at_risk():
    accounts = FEATURES.loc[["asleep", "unknown", "quiet"]]
    result = quadrant(accounts, pd.Series({"asleep": "green", "quiet": "green"}))
    assert result.loc["unknown", "quadrant"] == "high_value_at_risk"  # 20,000 is the median of the three
    assert result.loc["asleep", "quadrant"] == "low_value_healthy"
