"""Field types shared by the REST API's response schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator


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
