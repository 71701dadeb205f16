"""The health stage of the nightly run: features, scorecard, explanations, lifecycle stage and quadrant.

The analytics live in models/; this module loads their inputs set-based, calls them once for every account,
and stores one row per account and as-of date (re-running a date replaces it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from cs_health.audit import service as audit
from cs_health.audit.schemas import Actor, AuditAction
from cs_health.db.base import naive_utc
from cs_health.db.tables import HealthOverride
from cs_health.exceptions import InvalidInput
from cs_health.health import repository
from cs_health.health.schemas import Component, HealthHistory, HealthPoint, HealthView, OverrideIn, OverrideView
from cs_health.run_inputs import PortfolioInputs
from models.features import compute_features
from models.health import explain, score_accounts
from models.lifecycle import CADENCE_DAYS, MOTION, QUADRANT, STAGE, TOUCH_POLICY, lifecycle_stage, quadrant
from models.scorecard import Scorecard, ScorecardError, load_scorecard

TREND_WINDOWS = (7, 30)


@dataclass
class HealthRunSummary:
    as_of: dt.date
    accounts: int = 0
    bands: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    scorecard_version: str = ""


def scorecard_from(path: Path | None) -> Scorecard:
    """The user's scorecard file, or the default; a broken file is a plain error naming what is wrong."""
    try:
        return load_scorecard(path)
    except (ScorecardError, OSError) as error:
        raise InvalidInput(f"scorecard: {error}") from error


def json_ready(value: Any) -> Any:
    """NaN and numpy scalars become JSON (None, int, float), recursively."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()
    return None if value is pd.NaT or value is pd.NA else value


def _records_by_account(components: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Each account's measure rows as records (without account_id), in their order: one to_dict over all rows,
    where a frame per account cost most of the stage on 10,000 accounts."""
    records = components.drop(columns="account_id").to_dict("records")
    by_account: dict[str, list[dict[str, Any]]] = {}
    for account_id, record in zip(components["account_id"].tolist(), records, strict=True):
        by_account.setdefault(account_id, []).append(record)
    return by_account


def run_health(
    session: Session,
    as_of: dt.date,
    *,
    scorecard: Scorecard,
    key_features: Mapping[str, Sequence[str]] | None,
    computed_at: dt.datetime,
    inputs: PortfolioInputs | None = None,
) -> HealthRunSummary:
    """Scores every active account as of `as_of` and stores scores, components, reasons, stage and quadrant
    (from the run's shared `inputs` when given)."""
    data = (inputs or PortfolioInputs(as_of)).get(session)  # read before the first write (see run_inputs)
    audit.note_in_use(
        session, AuditAction.SCORECARD_CHANGED, "scorecard", scorecard, at=computed_at, version=scorecard.version
    )
    features = compute_features(data, as_of, key_features or None)
    summary = HealthRunSummary(as_of=as_of, scorecard_version=scorecard.version)
    if features.empty:
        repository.replace_scores(session, as_of, [])
        return summary
    result = score_accounts(features, scorecard)
    previous = {
        days: frame
        for days in TREND_WINDOWS
        if not (frame := repository.stored_components(session, as_of - dt.timedelta(days=days))).empty
    }
    explanations = explain(result, features, scorecard, previous)
    stages = lifecycle_stage(features)
    quadrants = quadrant(features, result.scores["band"])
    earlier = {days: repository.stored_scores(session, as_of - dt.timedelta(days=days)) for days in TREND_WINDOWS}
    measures = _records_by_account(result.components)
    groups = result.groups.to_dict("index")
    feature_rows = features.to_dict("index")
    rows: list[dict[str, Any]] = []
    for account_id, score_row in result.scores.iterrows():
        score = float(score_row["score"]) if pd.notna(score_row["score"]) else None
        trends = {days: _difference(score, earlier[days].get(account_id)) for days in TREND_WINDOWS}
        rows.append(
            {
                "account_id": account_id,
                "as_of": as_of,
                "score": score,
                "band": score_row["band"] if isinstance(score_row["band"], str) else "unknown",
                "trend_7d": trends[7],
                "trend_30d": trends[30],
                "components": json_ready(
                    {
                        "measures": measures.get(account_id, []),
                        "groups": groups.get(account_id, {}),
                        "explanation": explanations[account_id].to_dict(),
                        "features": feature_rows[account_id],
                        "touch": {
                            "cadence_days": stages.at[account_id, CADENCE_DAYS],
                            "policy": stages.at[account_id, TOUCH_POLICY],
                        },
                        "motion": quadrants.at[account_id, MOTION],
                    }
                ),
                "lifecycle_stage": stages.at[account_id, STAGE],
                "quadrant": quadrants.at[account_id, QUADRANT],
                "scorecard_version": scorecard.version,
                "computed_at": computed_at,
            }
        )
    repository.replace_scores(session, as_of, rows)
    summary.accounts = len(rows)
    summary.bands = result.scores["band"].fillna("unknown").value_counts().to_dict()
    summary.stages = stages[STAGE].value_counts().to_dict()
    return summary


def _difference(score: float | None, before: float | None) -> float | None:
    if score is None or before is None or not math.isfinite(before):
        return None
    return round(score - before, 1)


def _override_view(override: HealthOverride) -> OverrideView:
    return OverrideView(
        band=override.band,
        reason=override.reason,
        expires_on=override.expires_on,
        created_by=override.created_by,
        created_at=override.created_at,
    )


def health_view(session: Session, account_id: str, today: dt.date) -> HealthView | None:
    """The newest score of an account with its explanation and any override in force today (None if unscored)."""
    score = repository.newest_score(session, account_id)
    if score is None:
        return None
    override = repository.active_overrides(session, today, account_id).get(account_id)
    components = score.components
    explanation = components.get("explanation", {})
    touch = components.get("touch", {})
    return HealthView(
        as_of=score.as_of,
        score=score.score,
        band=override.band if override else score.band,
        model_band=score.band,
        override=_override_view(override) if override else None,
        trend_7d=score.trend_7d,
        trend_30d=score.trend_30d,
        why=explanation.get("summary", ""),
        reasons=explanation.get("reasons", []),
        missing_measures=explanation.get("missing", []),
        changes=explanation.get("changes", []),
        path_to_green=explanation.get("path_to_target", []),
        lifecycle_stage=score.lifecycle_stage,
        touch_cadence_days=touch.get("cadence_days"),
        touch_policy=touch.get("policy"),
        quadrant=score.quadrant,
        motion=components.get("motion"),
        components=[Component(**component) for component in components.get("measures", [])],
        scorecard_version=score.scorecard_version,
    )


def health_history(session: Session, account_id: str, since: dt.date | None = None) -> HealthHistory:
    points = [
        HealthPoint(
            as_of=row.as_of,
            score=row.score,
            band=row.band,
            lifecycle_stage=row.lifecycle_stage,
            scorecard_version=row.scorecard_version,
        )
        for row in repository.score_history(session, account_id, since)
    ]
    return HealthHistory(account_id=account_id, points=points)


def set_override(
    session: Session, account_id: str, override: OverrideIn, actor: Actor, now: dt.datetime
) -> OverrideView:
    """Records (and audits) a CSM's band with its reason; the model's score is kept beside it and it lapses at
    `expires_on`."""
    if override.expires_on <= now.date():
        raise InvalidInput("expires_on: must be after today", field="expires_on")
    record = HealthOverride(
        account_id=account_id,
        band=override.band,
        reason=override.reason,
        expires_on=override.expires_on,
        created_by=actor.label,
        created_at=naive_utc(now),
    )
    repository.add_override(session, record)
    details = {"band": override.band, "reason": override.reason, "expires_on": override.expires_on}
    audit.record(session, actor, AuditAction.HEALTH_OVERRIDDEN, at=now, target=account_id, details=details)
    return _override_view(record)
