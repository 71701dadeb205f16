"""Field types shared by the REST API's response schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, field_validator


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive timestamps are UTC throughout the service (DESIGN section 4); the API says so explicitly."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# The database stores naive UTC; serialised bare, "2026-11-23T16:09:51" is not an RFC 3339 date-time (no offset),
# so it broke the `format: date-time` that the OpenAPI document promises. It goes out as "...Z".
UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]

# An integer primary key in a path. The Integer columns are 32-bit on PostgreSQL and SQLite's driver overflows past
# 64 bits, so a larger id was a 500; bounded here it is a 422 naming the parameter (and a NotFound below the bound).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

# PostgreSQL cannot store U+0000 in text or JSON (SQLite can): refused at the edge on both, so a value with one is a
# 422 naming the field on either database instead of a driver error (500) on one of them.
WITHOUT_NUL = r"^[^\x00]*$"
PathKey = Annotated[str, Path(pattern=WITHOUT_NUL)]  # an account or training id in a path


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


class RequestBody(BaseModel):
    """Base of the JSON bodies the API reads: no text in them may hold a NUL character."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain a NUL character (U+0000)")
        return value
