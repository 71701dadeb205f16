"""What the API says about alerts: the alert with its evidence and state, a page of them, and the actions."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cs_health.api_types import RequestBody, UtcDateTime

Status = Literal["open", "acknowledged", "snoozed", "resolved"]
Severity = Literal["info", "warning", "high", "critical"]
OPEN, ACKNOWLEDGED, SNOOZED, RESOLVED = "open", "acknowledged", "snoozed", "resolved"


class AlertView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: str
    rule: str
    severity: Severity
    status: Status
    title: str = Field(description="one line naming the account and the reason")
    message: str = Field(description="the reason in plain words, with the numbers behind it")
    details: dict[str, Any] = Field(description="the snapshot values the rule looked at")
    dedup_key: str
    as_of: dt.date = Field(description="the as-of date it last fired on")
    first_fired_at: UtcDateTime
    last_fired_at: UtcDateTime
    fire_count: int
    notified_on: dt.date | None
    acknowledged_at: UtcDateTime | None
    acknowledged_by: str | None
    snoozed_until: dt.date | None
    resolved_at: UtcDateTime | None
    resolved_by: str | None


class AlertPage(BaseModel):
    items: list[AlertView]
    total: int
    page: int
    per_page: int


class SnoozeIn(RequestBody):
    """Silence an alert until a date: it is not mailed before then, and comes back open if still firing."""

    until: dt.date


class AlertFilters(BaseModel):
    status: Status | None = None
    severity: Severity | None = None
    rule: str | None = None
    account_id: str | None = None
    csm: str | None = Field(default=None, description="the account's CSM e-mail")
