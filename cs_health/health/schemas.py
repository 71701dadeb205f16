"""What the API says about health: the score, its band (and any CSM override), the reasons in plain words,
what changed, the path to green, stage and quadrant, and the history."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from cs_health.api_types import RequestBody, UtcDateTime

Band = Literal["green", "yellow", "red"]


class OverrideIn(RequestBody):
    """A CSM's judgement over the model's: the band, why, and until when (it lapses by itself)."""

    band: Band
    reason: str = Field(min_length=3, max_length=2_000)
    expires_on: dt.date


class OverrideView(BaseModel):
    band: str
    reason: str
    expires_on: dt.date
    created_by: str
    created_at: UtcDateTime


class Component(BaseModel):
    """One measure of the scorecard for this account: raw value, 0-100 points, share of the total, contribution."""

    measure: str
    group: str
    raw: float | None
    points: float | None
    weight: float | None
    contribution: float | None
    missing: bool


class HealthView(BaseModel):
    as_of: dt.date
    score: float | None = Field(description="the model's 0-100 score")
    band: str = Field(description="the band in force: the CSM override while it lasts, else the model's")
    model_band: str
    override: OverrideView | None
    trend_7d: float | None = Field(description="points against 7 days before")
    trend_30d: float | None
    why: str = Field(description="in plain words, why the account has this score")
    reasons: list[dict[str, Any]]
    missing_measures: list[str]
    changes: list[dict[str, Any]]
    path_to_green: list[dict[str, Any]]
    lifecycle_stage: str | None
    touch_cadence_days: int | None
    touch_policy: str | None
    quadrant: str | None
    motion: str | None
    components: list[Component]
    scorecard_version: str


class HealthPoint(BaseModel):
    as_of: dt.date
    score: float | None
    band: str
    lifecycle_stage: str | None
    scorecard_version: str


class HealthHistory(BaseModel):
    account_id: str
    points: list[HealthPoint]
