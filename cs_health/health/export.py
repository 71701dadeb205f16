"""`cs-health export scores`: one CSV row per account with the columns of the CLI contract (DESIGN section 5)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy.orm import Session

from cs_health.churn import repository as churn_repository
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
    """The scores of `as_of` (default: the newest scored date) with that date's churn forecast; the drivers are
    the churn model's when it ran, else the measures that cost the health score most."""
    rows = []
    scores = repository.latest_scores(session, as_of)
    churn = {p.account_id: p for p in churn_repository.predictions(session, scores[0].as_of)} if scores else {}
    for score in scores:
        features = score.components.get("features", {})
        reasons = [reason.get("text", "") for reason in score.components.get("explanation", {}).get("reasons", [])]
        prediction = churn.get(score.account_id)
        rows.append(
            {
                "account_id": score.account_id,
                "as_of": score.as_of.isoformat(),
                "health_score": None if score.score is None else round(score.score, 1),
                "band": score.band,
                "churn_probability_30d": _rounded(prediction.probability_30d) if prediction else None,
                "churn_probability_90d": _rounded(prediction.probability_90d) if prediction else None,
                "churn_probability_renewal": _rounded(prediction.probability_renewal) if prediction else None,
                "renewal_date": (features.get("renewal_date") or "")[:10] or None,
                "arr": None if features.get("arr") is None else round(features["arr"], 2),
                "arr_at_risk": prediction.arr_at_risk if prediction else None,
                "lifecycle_stage": score.lifecycle_stage,
                "quadrant": score.quadrant,
                "top_drivers": "; ".join(prediction.drivers if prediction else reasons),
            }
        )
    return pd.DataFrame(rows).reindex(columns=list(EXPORT_COLUMNS))


def _rounded(probability: float) -> float:
    return round(probability, 4)
