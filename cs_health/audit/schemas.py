"""Who acts (an `Actor`), what they do (an `AuditAction`), and how the log is read back."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from cs_health.api_types import UtcDateTime


class AuditAction(StrEnum):
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    USER_CREATED = "user.created"
    HEALTH_OVERRIDDEN = "health.overridden"
    SCORECARD_CHANGED = "scorecard.changed"
    ALERT_RULES_CHANGED = "alert_rules.changed"
    SCORES_EXPORTED = "scores.exported"
    REPORT_EXPORTED = "report.exported"


class _Key(Protocol):
    prefix: str
    name: str | None


@dataclass(frozen=True)
class Actor:
    """Who did something: a dashboard user, an API key, someone at the command line, or a scheduled job."""

    kind: str
    id: str
    name: str | None = None

    @classmethod
    def user(cls, email: str) -> Actor:
        return cls("user", email)

    @classmethod
    def api_key(cls, key: _Key) -> Actor:
        return cls("api_key", key.prefix, key.name)

    @classmethod
    def cli(cls) -> Actor:
        """The operating-system user running the command (the CLI has no login of its own)."""
        try:
            return cls("cli", getpass.getuser())
        except (OSError, KeyError):  # no user name in the environment or the password database
            return cls("cli", "unknown")

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls("system", job)

    @property
    def label(self) -> str:
        """How other records name the actor (an override's `created_by`, an alert's `acknowledged_by`)."""
        if self.kind == "user":
            return self.id
        if self.kind == "api_key":
            return f"api-key:{self.id}" + (f" ({self.name})" if self.name else "")
        return f"{self.kind}:{self.id}"


class AuditEventView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDateTime = Field(description="when it happened (UTC)")
    actor_kind: str = Field(description="user, api_key, cli or system")
    actor: str = Field(description="the user's e-mail, the API key's prefix, the OS user or the job")
    actor_name: str | None = Field(description="the API key's name, when it has one")
    action: AuditAction
    target: str | None = Field(description="what was acted on (a key prefix, an e-mail, an account, a file)")
    details: dict[str, Any] = Field(description="what changed; never a secret")


class AuditPage(BaseModel):
    items: list[AuditEventView]
    total: int
    page: int
    per_page: int
