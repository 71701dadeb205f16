"""Lifecycle stage (active / silent / sleeping / churned) and the value x risk quadrant of each account.

Both are cheap rules on the feature frame, so a CSM can read them back: the stage from usage recency and depth,
the quadrant from ARR against the segment median and the health band. Each comes with the recommended touch
policy or motion, after the source articles' account-based playbook.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.features import ACTIVE_DAYS_28D, DAYS_SINCE_LAST_ACTIVITY, RENEWAL_DATE
from models.frames import ARR, SEGMENT

ACTIVE, SILENT, SLEEPING, CHURNED = "active", "silent", "sleeping", "churned"
STAGES = (ACTIVE, SILENT, SLEEPING, CHURNED)
STAGE, CADENCE_DAYS, TOUCH_POLICY = "stage", "cadence_days", "touch_policy"
HIGH_VALUE_AT_RISK, HIGH_VALUE_HEALTHY = "high_value_at_risk", "high_value_healthy"
LOW_VALUE_AT_RISK, LOW_VALUE_HEALTHY = "low_value_at_risk", "low_value_healthy"
QUADRANTS = (HIGH_VALUE_AT_RISK, HIGH_VALUE_HEALTHY, LOW_VALUE_AT_RISK, LOW_VALUE_HEALTHY)
QUADRANT, MOTION, HIGH_VALUE, AT_RISK = "quadrant", "motion", "high_value", "at_risk"


@dataclass(frozen=True)
class LifecycleThresholds:
    """Where the stages split (configurable by the shell; the defaults suit a product used on working days)."""

    active_within_days: int = 7  # last activity at most this many days ago ...
    active_min_days_28d: int = 4  # ... and at least this many active days in 28 (else shallow: silent)
    silent_within_days: int = 30  # beyond this many days without activity: sleeping

    def __post_init__(self) -> None:
        if not 0 < self.active_within_days < self.silent_within_days:
            raise ValueError("need 0 < active_within_days < silent_within_days")
        if self.active_min_days_28d < 0:
            raise ValueError("active_min_days_28d must not be negative")


@dataclass(frozen=True)
class TouchPolicy:
    """How a CSM should touch an account in a stage: a cadence and what each touch is for."""

    stage: str
    cadence_days: int | None  # None: no scheduled touches
    guidance: str


TOUCH_POLICIES: dict[str, TouchPolicy] = {
    ACTIVE: TouchPolicy(
        ACTIVE, 30, "Keep regular contact and deliver value (tips, new features, success stories); no discounts."
    ),
    SILENT: TouchPolicy(
        SILENT, 14, "Light outreach: a check-in and useful content or a training invitation to restart usage."
    ),
    SLEEPING: TouchPolicy(
        SLEEPING, 30, "Limited, high-value rescue: one targeted offer or executive call; do not over-invest."
    ),
    CHURNED: TouchPolicy(CHURNED, None, "Minimal: exit survey and occasional win-back news only."),
}
MOTIONS: dict[str, str] = {
    HIGH_VALUE_AT_RISK: "High-touch CSM: executive outreach, a joint success plan and frequent check-ins.",
    HIGH_VALUE_HEALTHY: "Nurture and expand: QBRs, expansion conversations, reference and advocacy asks.",
    LOW_VALUE_AT_RISK: "Tech-touch rescue: automated re-engagement, targeted trainings and office hours.",
    LOW_VALUE_HEALTHY: "Tech-touch automation: in-app guides, newsletters and community.",
}


def lifecycle_stage(features: pd.DataFrame, thresholds: LifecycleThresholds | None = None) -> pd.DataFrame:
    """Stage, touch cadence and policy per account of `features`.

    An account without a subscription covering the as-of date (no renewal_date: reindex the features over all
    known accounts to see them) is churned; otherwise recency and depth of use decide. Unknown recency counts as
    sleeping, since an account we cannot see using the product is not one we can call active.
    """
    limits = thresholds or LifecycleThresholds()
    recency = features[DAYS_SINCE_LAST_ACTIVITY].to_numpy(dtype="float64", na_value=np.nan)
    depth = features[ACTIVE_DAYS_28D].to_numpy(dtype="float64", na_value=np.nan)
    subscribed = features[RENEWAL_DATE].notna().to_numpy()
    stage = np.select(
        [
            ~subscribed,
            (recency <= limits.active_within_days) & (np.nan_to_num(depth) >= limits.active_min_days_28d),
            recency <= limits.silent_within_days,
        ],
        [CHURNED, ACTIVE, SILENT],
        default=SLEEPING,
    )
    return pd.DataFrame(
        {
            STAGE: stage,
            CADENCE_DAYS: pd.array([TOUCH_POLICIES[s].cadence_days for s in stage], dtype="Int64"),
            TOUCH_POLICY: [TOUCH_POLICIES[s].guidance for s in stage],
        },
        index=features.index,
    )


def quadrant(
    features: pd.DataFrame,
    health_band: pd.Series,
    healthy_bands: Collection[str] = ("green",),
    value_column: str = ARR,
) -> pd.DataFrame:
    """Value x risk quadrant and recommended motion per account.

    High value: ARR at or above the median ARR of the account's segment. Healthy: the band is one of
    `healthy_bands`; a yellow, red or unknown band is at risk (we cannot vouch for what we cannot score).
    """
    value = features[value_column].astype("float64")
    segment = features[SEGMENT].astype("object").fillna("") if SEGMENT in features else pd.Series("", features.index)
    median = value.groupby(segment).transform("median")
    high = (value >= median).to_numpy()
    band = health_band.reindex(features.index)
    at_risk = ~band.isin(list(healthy_bands)).to_numpy()
    name = np.select(
        [high & at_risk, high & ~at_risk, ~high & at_risk],
        [HIGH_VALUE_AT_RISK, HIGH_VALUE_HEALTHY, LOW_VALUE_AT_RISK],
        default=LOW_VALUE_HEALTHY,
    )
    return pd.DataFrame(
        {QUADRANT: name, MOTION: [MOTIONS[q] for q in name], HIGH_VALUE: high, AT_RISK: at_risk},
        index=features.index,
    )
