"""What the HTTP ingestion routes take and answer.

The request models document the payloads in OpenAPI only: the hot path parses the body with orjson and
validates the list with items.validate_items (plain Python for plainly valid events, the vectorised validator
for the rest), never one pydantic model per event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cs_health.ingestion.contract import MAX_QUANTITY
from cs_health.ingestion.rejects import Reject


class EventIn(BaseModel):
    """One event of the data contract; other top-level fields are kept in `properties`."""

    model_config = ConfigDict(extra="allow")

    account_id: str
    event: str
    timestamp: dt.datetime = Field(description="ISO 8601; naive means UTC; at most a day in the future")
    user_id: str | None = None
    quantity: float | None = Field(default=1.0, ge=0, le=MAX_QUANTITY)
    message_id: str | None = Field(default=None, description="deduplication key shared with file imports")
    properties: dict[str, Any] | None = None


class ItemError(BaseModel):
    """Why one item of the request was refused; `index` is its 0-based position in the request's list."""

    index: int
    field: str
    reason: str

    @classmethod
    def of(cls, reject: Reject) -> ItemError:
        return cls(index=reject.location, field=reject.field, reason=reject.reason)


class BatchResult(BaseModel):
    """`accepted` events are new, `duplicates` were stored before (same message_id), `rejected` broke the
    contract and are listed in `errors` (an item can break several rules)."""

    accepted: int
    duplicates: int
    rejected: int
    errors: list[ItemError]


class SegmentMessage(BaseModel):
    """A Segment Tracking API message (track, identify, group, page, screen); documentation only."""

    model_config = ConfigDict(extra="allow")

    type: str | None = None
    messageId: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    groupId: str | None = None
    event: str | None = None
    name: str | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    timestamp: str | None = None
    originalTimestamp: str | None = None
    sentAt: str | None = None


class SegmentBatch(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[SegmentMessage]
    context: dict[str, Any] | None = None
    sentAt: str | None = None


class SegmentResult(BatchResult):
    """Segment's `{"success": true}`, plus what happened to each message; `accepted` counts stored messages
    (new events, upserted accounts and users)."""

    success: bool = True
