"""The account view of the API; a later issue adds health and churn fields to `AccountView`."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from cs_health.api_types import UtcDateTime
from cs_health.churn.schemas import ChurnView
from cs_health.health.schemas import HealthView


class SubscriptionView(BaseModel):
    """The current term: the latest one covering today; `end_date` is the renewal date."""

    subscription_id: str
    plan: str | None
    start_date: dt.date
    end_date: dt.date = Field(description="renewal date")
    arr: float
    mrr: float
    seats: int | None
    status: str


class Freshness(BaseModel):
    """When the account's newest event happened, and when cs-health last received any of its events."""

    last_event_at: UtcDateTime | None
    last_received_at: UtcDateTime | None


class AccountView(BaseModel):
    account_id: str
    name: str | None
    segment: str | None
    industry: str | None
    csm_email: str | None
    plan: str | None
    tags: list[str]
    created_at: UtcDateTime | None
    source: str
    users: int = Field(description="known end users (contacts) of the account")
    subscription: SubscriptionView | None
    freshness: Freshness
    churn: ChurnView | None = Field(
        default=None, description="the newest churn forecast with its drivers, or null before the first run"
    )
    health: HealthView | None = Field(
        default=None, description="the newest health score with its why, or null before the first `cs-health run`"
    )
