"""What the API says about archived reports."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

ReportKind = Literal["monthly", "qbr"]
Audience = Literal["client", "internal"]
ReportFormat = Literal["html", "pdf"]


class ReportInfo(BaseModel):
    """One archived report; `url` fetches it (and regenerates it when the file has gone)."""

    kind: str
    period: str
    audience: str
    format: str
    size_bytes: int
    created_at: dt.datetime
    url: str


class ReportList(BaseModel):
    account_id: str
    reports: list[ReportInfo]
