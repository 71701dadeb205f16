"""What the API says about archived reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from cs_health.api_types import UtcDateTime

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
    created_at: UtcDateTime
    url: str


class ReportList(BaseModel):
    account_id: str
    reports: list[ReportInfo]
