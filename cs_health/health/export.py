"""`cs-health export scores`: one CSV row per account with the columns of the CLI contract (DESIGN section 5)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy.orm import Session

from cs_health.health import repository

EXPORT_COLUMNS = (
    "account_id",
    "as_of",
    "health_score",
    "band",
    "churn_probability_30d",
    "churn_probability_90d",
    "churn_probability_renewal",
    "renewal_date",
    "arr",
    "arr_at_risk",
    "lifecycle_stage",
    "quadrant",
    "top_drivers",
)


def export_scores(session: Session, as_of: dt.date | None) -> pd.DataFrame:
    """The scores of `as_of` (default: the newest scored date). Churn columns stay empty until a churn model runs."""
    rows = []
    for score in repository.latest_scores(session, as_of):
        features = score.components.get("features", {})
        reasons = score.components.get("explanation", {}).get("reasons", [])
        rows.append(
            {
                "account_id": score.account_id,
                "as_of": score.as_of.isoformat(),
                "health_score": None if score.score is None else round(score.score, 1),
                "band": score.band,
                "renewal_date": (features.get("renewal_date") or "")[:10] or None,
                "arr": features.get("arr"),
                "lifecycle_stage": score.lifecycle_stage,
                "quadrant": score.quadrant,
                "top_drivers": "; ".join(reason.get("measure", "") for reason in reasons),
            }
        )
    return pd.DataFrame(rows).reindex(columns=list(EXPORT_COLUMNS))
