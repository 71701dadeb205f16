"""What the dashboard pages show, and the portfolio's query parameters (lenient: a bad value falls back to the
default instead of answering a person with a 422)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from cs_health.health.schemas import HealthHistory, HealthView

PAGE_SIZE = 50
SORTS = ("name", "arr", "score", "trend", "band", "churn", "renewal", "stage", "csm", "segment")
BANDS = ("green", "yellow", "red", "unknown")
RENEWAL_WINDOWS = (30, 90, 180)
ALERT_STATUSES = ("open", "acknowledged", "snoozed", "resolved")
TOUCHPOINT_KINDS = ("call", "email", "meeting", "qbr", "training", "demo", "content", "check-in")
Role = Literal["csm", "admin"]
Scope = Literal["mine", "all"]


def _choice(value: Any, allowed: tuple[Any, ...], default: Any) -> Any:
    return value if value in allowed else default


class PortfolioQuery(BaseModel):
    """The portfolio's sorting, filters and page, all from the query string so the page works without JavaScript."""

    sort: str = "renewal"
    order: Literal["asc", "desc"] = "asc"
    band: str = ""
    stage: str = ""
    segment: str = ""
    csm: str = ""
    quadrant: str = ""
    renewal_days: int | None = None
    q: str = Field(default="", max_length=200)
    scope: Scope | None = None
    page: int = 1

    @field_validator("sort", mode="before")
    @classmethod
    def _sort(cls, value: Any) -> str:
        return _choice(value, SORTS, "renewal")

    @field_validator("order", mode="before")
    @classmethod
    def _order(cls, value: Any) -> str:
        return _choice(value, ("asc", "desc"), "asc")

    @field_validator("band", mode="before")
    @classmethod
    def _band(cls, value: Any) -> str:
        return _choice(value, BANDS, "")

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, value: Any) -> str | None:
        return _choice(value, ("mine", "all"), None)

    @field_validator("renewal_days", mode="before")
    @classmethod
    def _renewal_days(cls, value: Any) -> int | None:
        try:
            return _choice(int(value), RENEWAL_WINDOWS, None)
        except (TypeError, ValueError):
            return None

    @field_validator("page", mode="before")
    @classmethod
    def _page(cls, value: Any) -> int:
        try:
            return min(max(int(value), 1), 100_000)
        except (TypeError, ValueError):
            return 1

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, value: Any) -> str:
        return str(value or "").strip()[:200]

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view with `changes` (for sort headers and pager links); defaults left out."""
        values = self.model_dump() | changes
        return {key: value for key, value in values.items() if value not in ("", None) and (key, value) != ("page", 1)}


class DashboardUserView(BaseModel):
    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class PortfolioRow(BaseModel):
    account_id: str
    name: str | None
    segment: str | None
    csm_email: str | None
    arr: float | None
    renewal_date: dt.date | None
    score: float | None
    trend_7d: float | None
    band: str
    model_band: str | None
    overridden: bool
    lifecycle_stage: str | None
    quadrant: str | None
    churn_90d: float | None
    churn_renewal: float | None
    arr_at_risk: float | None


class FilterOptions(BaseModel):
    segments: list[str]
    stages: list[str]
    csms: list[str]
    quadrants: list[str]


class PortfolioPage(BaseModel):
    query: PortfolioQuery
    scope: Scope
    rows: list[PortfolioRow]
    total: int
    pages: int
    scored_on: dt.date | None
    predicted_on: dt.date | None
    accounts_in_database: int
    options: FilterOptions


class QuadrantCell(BaseModel):
    quadrant: str
    label: str
    motion: str
    accounts: int
    arr: float
    top: list[PortfolioRow]


class QuadrantPage(BaseModel):
    scope: Scope
    scored_on: dt.date | None
    cells: list[QuadrantCell]
    chart_svg: str | None
    charted: int
    unplaced: int


class RenewalRow(BaseModel):
    account_id: str
    name: str | None
    csm_email: str | None
    renewal_date: dt.date
    arr: float
    band: str | None
    probability_renewal: float | None
    arr_at_risk: float | None


class RenewalMonth(BaseModel):
    month: str
    label: str
    renewals: int
    arr: float
    arr_at_risk: float | None
    rows: list[RenewalRow]


class RenewalsPage(BaseModel):
    scope: Scope
    start: dt.date
    end: dt.date
    months: list[RenewalMonth]
    arr: float
    arr_at_risk: float | None
    predictions: bool


class AlertRow(BaseModel):
    id: int
    account_id: str
    account_name: str | None
    csm_email: str | None
    rule: str
    severity: str
    status: str
    title: str
    message: str
    as_of: dt.date
    last_fired_at: dt.datetime
    fire_count: int
    snoozed_until: dt.date | None
    acknowledged_by: str | None
    due: bool = Field(description="snoozed until a date that has passed: needs a look again")


class AlertsPage(BaseModel):
    scope: Scope
    status: str
    counts: dict[str, int]
    alerts: list[AlertRow]


class Driver(BaseModel):
    label: str
    detail: str | None = None


class SuggestionRow(BaseModel):
    title: str
    url: str | None
    level: str | None
    format: str | None
    reason: str
    status: str
    as_of: dt.date


class TouchpointRow(BaseModel):
    at: dt.datetime
    kind: str
    csm_email: str | None
    notes: str | None


class ContactRow(BaseModel):
    name: str | None
    email: str | None
    role: str | None


class ReportRow(BaseModel):
    kind: str
    period: str
    audience: str
    format: str
    created_at: dt.datetime


class ChurnView(BaseModel):
    as_of: dt.date
    probability_30d: float
    probability_90d: float
    probability_renewal: float
    renewal_date: dt.date | None
    arr_at_risk: float
    is_fallback: bool
    model_version: str
    drivers: list[Driver]


class AccountPage(BaseModel):
    account_id: str
    name: str | None
    segment: str | None
    industry: str | None
    plan: str | None
    csm_email: str | None
    tags: list[str]
    arr: float | None
    seats: int | None
    renewal_date: dt.date | None
    users: int
    health: HealthView | None
    history: HealthHistory
    history_svg: str | None
    usage_svg: str | None
    has_forecast: bool
    churn: ChurnView | None
    alerts: list[AlertRow]
    suggestions: list[SuggestionRow]
    touchpoints: list[TouchpointRow]
    contacts: list[ContactRow]
    contacts_total: int
    reports: list[ReportRow]


class Metric(BaseModel):
    name: str
    value: float | None


class BacktestView(BaseModel):
    title: str
    metrics: list[Metric]
    calibration_svg: str | None
    calibration: list[dict[str, float | None]]


class ModelPage(BaseModel):
    version: str | None
    trained_as_of: dt.date | None
    created_at: dt.datetime | None
    notes: str | None
    sections: list[BacktestView]
    other: dict[str, Any]


class OverrideForm(BaseModel):
    band: Literal["green", "yellow", "red"]
    reason: str = Field(min_length=3, max_length=2_000)
    expires_on: dt.date


class TouchpointForm(BaseModel):
    kind: str = Field(min_length=1, max_length=16)
    notes: str = Field(default="", max_length=5_000)
