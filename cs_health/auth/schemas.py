"""What the key service hands out: a new key (with its secret, once) and key listings (never a secret)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"  # implies every other scope


class ApiKeyInfo(BaseModel):
    """A stored key as `apikey list` shows it: enough to recognise and revoke it, nothing to use it."""

    prefix: str
    name: str | None
    scopes: list[Scope]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class NewApiKey(BaseModel):
    """A freshly created key; `key` is the only time the secret exists outside the caller's hands."""

    info: ApiKeyInfo
    key: str
