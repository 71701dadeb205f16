"""What the API says about trainings: catalogue entries, an account's suggestions with reasons, and effects."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cs_health.api_types import RequestBody, UtcDateTime

Level = Literal["intro", "core", "advanced"]
Format = Literal["doc", "video", "webinar", "course"]


class TrainingFields(RequestBody):
    title: str = Field(min_length=1, max_length=300)
    features: list[str] = Field(min_length=1, description="the event names (features) the training teaches")
    url: str | None = Field(default=None, max_length=2_000)
    level: Level | None = None
    format: Format | None = None

    @field_validator("features")
    @classmethod
    def _clean(cls, features: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(name.strip() for name in features if name.strip()))
        if not cleaned:
            raise ValueError("at least one feature")
        return cleaned


class TrainingIn(TrainingFields):
    training_id: str = Field(min_length=1, max_length=128)


class TrainingView(TrainingIn):
    model_config = ConfigDict(from_attributes=True)


class SuggestionView(BaseModel):
    training: TrainingView
    features: list[str] = Field(description="the under-used features this training addresses (empty: onboarding)")
    reason: str
    status: str
    delivered_at: UtcDateTime | None


class AccountTrainings(BaseModel):
    """The account's latest suggestions (those of its newest suggestion date), with the catalogue entries."""

    account_id: str
    as_of: dt.date | None
    suggestions: list[SuggestionView]


class TrainingEffectView(BaseModel):
    training_id: str
    title: str
    sent: int = Field(description="accounts sent the training at least 30 days ago (in segments with a comparison)")
    sent_rose: int
    similar: int = Field(description="similar accounts (same segment, suggested it) never sent it")
    similar_rose: int
    sent_share: float | None
    similar_share: float | None = Field(description="weighted to the sent accounts' segment mix")
    difference: float | None
    enough_data: bool
    summary: str


class TrainingEffects(BaseModel):
    as_of: dt.date
    effects: list[TrainingEffectView]
