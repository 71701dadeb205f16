"""Writing and reading the audit log. Callers record in the transaction of the change itself, so an action and
its audit event are committed, or rolled back, together. Flushes, never commits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from cs_health.audit import repository
from cs_health.audit.schemas import Actor, AuditAction, AuditEventView, AuditPage
from cs_health.db.base import naive_utc
from cs_health.db.tables import AuditEvent
from cs_health.exceptions import InvalidInput

SECRET_FIELDS = frozenset({"key", "secret", "password", "password_hash", "key_hash", "token", "hash"})
PIPELINE = Actor.system("pipeline")


def plain(value: Any) -> Any:
    """JSON-ready, recursively: dataclasses and mappings become objects (sorted keys), sets sorted lists, dates ISO.
    Dataclass fields left out of comparison (parsed trees, caches) are left out here too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in sorted(value.items(), key=lambda pair: str(pair[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def fingerprint(value: Any) -> str:
    """A short, stable digest of a configuration's content: equal content, equal fingerprint."""
    canonical = json.dumps(plain(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _check_no_secrets(details: Mapping[str, Any]) -> None:
    """A programming error, not a user's: the audit log must never hold a credential."""
    leaked = SECRET_FIELDS.intersection(name.lower() for name in details)
    if leaked:
        raise ValueError(f"audit details must not carry secrets: {', '.join(sorted(leaked))}")


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    *,
    at: dt.datetime,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Appends one event to the log in the caller's transaction."""
    details = dict(details or {})
    _check_no_secrets(details)
    event = AuditEvent(
        at=naive_utc(at),
        actor_kind=actor.kind,
        actor=actor.id,
        actor_name=actor.name,
        action=action.value,
        target=target,
        details=plain(details),
    )
    return repository.add(session, event)


def note_in_use(
    session: Session, action: AuditAction, target: str, content: Any, *, at: dt.datetime, **details: Any
) -> AuditEvent | None:
    """Records that the configuration `target` in use now differs from the one last recorded (the first use counts
    as a change from nothing); None when it is the same. `content` is fingerprinted, so an edit that keeps the
    version label is still seen."""
    current = fingerprint(content)
    last = repository.latest(session, action.value, target)
    if last is not None and last.details.get("fingerprint") == current:
        return None
    previous = None
    if last is not None:
        previous = {name: value for name, value in last.details.items() if name != "previous"}
    return record(
        session,
        PIPELINE,
        action,
        at=at,
        target=target,
        details={**details, "fingerprint": current, "previous": previous},
    )


def page(
    session: Session, action: AuditAction | None, since: dt.datetime | None, page_number: int, per_page: int
) -> AuditPage:
    """Newest first; `since` is inclusive (a naive time is UTC)."""
    try:
        start = naive_utc(since) if since else None
    except OverflowError as error:  # 0001-01-01 with a positive offset has no UTC time
        raise InvalidInput("since: out of the range of dates", field="since") from error
    rows, total = repository.events(
        session, action.value if action else None, start, (page_number - 1) * per_page, per_page
    )
    return AuditPage(
        items=[AuditEventView.model_validate(row) for row in rows], total=total, page=page_number, per_page=per_page
    )
