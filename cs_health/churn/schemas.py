"""What the API says about churn: an account's forecast, the model's backtest, and the portfolio outlook."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from cs_health.api_types import UtcDateTime


class ChurnView(BaseModel):
    as_of: dt.date
    probability_30d: float
    probability_90d: float
    probability_renewal: float = Field(description="probability of not renewing at the next renewal date")
    renewal_date: dt.date | None
    arr: float
    arr_at_risk: float = Field(description="probability of not renewing x ARR")
    drivers: list[str] = Field(description="the top reasons for the risk, in plain words")
    is_fallback: bool = Field(description="true while too little history: a documented prior from the health score")
    model_version: str


class ForecastView(BaseModel):
    as_of: dt.date
    method: str
    horizon_end: dt.date
    current_level: float | None = Field(description="mean daily events over the last 28 days")
    projected_level: float | None = Field(description="forecast daily events at the renewal date")
    trend: float | None = Field(description="relative change from now to the renewal date")
    anomaly: bool = Field(description="recent usage fell below the forecast's lower bound")
    weekly: list[dict[str, Any]] = Field(description="weekly points: day, yhat, lower, upper")


class ScorerFigures(BaseModel):
    horizon_days: int
    scorer: str
    roc_auc: float | None
    top_decile_lift: float | None
    brier: float | None
    ece: float | None
    count: int
    positives: int


class ModelView(BaseModel):
    version: str
    trained_as_of: dt.date
    created_at: UtcDateTime
    is_fallback: bool
    note: str | None
    backtest: list[ScorerFigures] = Field(description="churn model vs health score alone vs days to renewal")
    calibration: dict[str, list[dict[str, Any]]] = Field(description="10-bin tables per horizon and scorer")
    backtest_window: dict[str, Any]


class PortfolioView(BaseModel):
    as_of: dt.date | None
    accounts: int
    arr: float
    arr_by_band: dict[str, float]
    arr_at_risk: dict[str, float] = Field(description="expected ARR lost to churn within 30, 90 and 180 days")
    grr_next_quarter: float | None = Field(description="forecast gross revenue retention (churn part)")
    # A pair as a bounded list rather than a tuple: the JSON is the same, and `items` + min/maxItems is read right by
    # every OpenAPI tool, where a tuple's `prefixItems` is not (schemathesis 4 rejects the document).
    grr_interval: list[float] | None = Field(min_length=2, max_length=2, description="GRR forecast [low, high]")
    model_is_fallback: bool | None


class UsagePoint(BaseModel):
    day: dt.date
    events: int
    active_users: int


class UsageView(BaseModel):
    account_id: str
    days: list[UsagePoint]
    features: dict[str, int] = Field(description="events per feature over the period")
    forecast: ForecastView | None
