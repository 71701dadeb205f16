"""The Segment Tracking API, on the file import's path.

Events are checked by the same rules as the native API's and files' (items.validate_items) and stored by the
same `store_events`, so an event has the same deduplication key whichever way it came (message_id); accounts
and users go through the vectorised validator. A batch keeps its good messages while reporting the bad ones by
their 0-based index in the request.

Segment mapping: `group` upserts an account (groupId; traits name, industry, plan, csm_email, segment, tags),
`identify` upserts a user (userId; traits email, name, role) in the account named by context.groupId,
traits.account_id / groupId or the user's known account, and `track` / `page` / `screen` become events in the
account from context.groupId or the user's account. Groups are applied first, then identifies, then events,
so one batch can introduce an account, its users and their events together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from cs_health.accounts import repository as accounts
from cs_health.api_types import has_nul
from cs_health.db.tables import Account, Contact
from cs_health.ingestion import repository
from cs_health.ingestion.contract import KINDS
from cs_health.ingestion.items import validate_items
from cs_health.ingestion.readers import json_records_table
from cs_health.ingestion.rejects import Reject
from cs_health.ingestion.schemas import ItemError, SegmentResult
from cs_health.ingestion.service import event_run, naive_utc, store_events
from cs_health.ingestion.validation import NUL_REASON, validate

ACCOUNT_TRAITS = {
    "name": "name",
    "industry": "industry",
    "plan": "plan",
    "csm_email": "csm_email",
    "csmEmail": "csm_email",
    "segment": "segment",
    "tags": "tags",
    "created_at": "created_at",
    "createdAt": "created_at",
}
USER_TRAITS = {"email": "email", "name": "name", "role": "role", "created_at": "created_at", "createdAt": "created_at"}
EVENT_TYPES = {"track", "page", "screen"}
IGNORED_TYPES = {"alias"}  # valid Segment calls with nothing to store here
PAGE_EVENT, SCREEN_EVENT = "page_viewed", "screen_viewed"


@dataclass
class _Batch:
    """Segment messages sorted by what they become, each with its index in the request."""

    groups: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    identifies: dict[str, tuple[int, dict[str, Any], str | None]] = field(default_factory=dict)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    ignored: int = 0


def _text(value: Any) -> str | None:
    """Segment ids may be numbers; blank means absent."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _traits(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    traits = message.get("traits")
    if not isinstance(traits, dict):
        traits = {}
    return {target: traits[name] for name, target in names.items() if name in traits}


def _context_group(message: dict[str, Any]) -> str | None:
    context = message.get("context")
    return _text(context.get("groupId")) if isinstance(context, dict) else None


def _sort(messages: list[Any], batch_context: dict[str, Any] | None) -> _Batch:
    batch = _Batch()
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            batch.rejects.append(Reject(index, "message", "not a JSON object"))
            continue
        if batch_context:
            context = message.get("context") if isinstance(message.get("context"), dict) else {}
            message = {**message, "context": {**batch_context, **context}}
        unstorable = next((name for name, value in message.items() if has_nul(name) or has_nul(value)), None)
        if unstorable is not None:  # refused before any lookup: PostgreSQL cannot even compare such text
            batch.rejects.append(Reject(index, str(unstorable), NUL_REASON))
            continue
        kind = _text(message.get("type"))
        if kind == "group":
            group_id = _text(message.get("groupId"))
            if group_id is None:
                batch.rejects.append(Reject(index, "groupId", "is required for a group call"))
                continue
            earlier = batch.groups.get(group_id, (index, {}))[1]  # later traits win, earlier ones are kept
            batch.groups[group_id] = (index, {**earlier, **_traits(message, ACCOUNT_TRAITS)})
        elif kind == "identify":
            user_id = _text(message.get("userId"))
            if user_id is None:
                batch.rejects.append(Reject(index, "userId", "is required for an identify call (anonymous users)"))
                continue
            traits = message.get("traits") if isinstance(message.get("traits"), dict) else {}
            account = _context_group(message) or _text(traits.get("account_id")) or _text(traits.get("groupId"))
            _, earlier, earlier_account = batch.identifies.get(user_id, (index, {}, None))
            merged = {**earlier, **_traits(message, USER_TRAITS)}
            batch.identifies[user_id] = (index, merged, account or earlier_account)
        elif kind in EVENT_TYPES:
            batch.events.append((index, message))
        elif kind in IGNORED_TYPES:
            batch.ignored += 1
        else:
            batch.rejects.append(Reject(index, "type", f"unsupported message type {kind!r}"))
    return batch


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values for the DB-API: datetimes, lists, None for every missing value."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        for name, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[name] = value.to_pydatetime()
    return rows


def _upsert_by_present_fields(
    session: Session, table: Any, rows: list[dict[str, Any]], present: list[set[str]], key: str, always: list[str]
) -> None:
    """Upserts rows, each replacing only the fields its message carried (a trait left out is kept)."""
    by_fields: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row, fields in zip(rows, present, strict=True):
        by_fields.setdefault(frozenset(fields), []).append(row)
    for fields, group in by_fields.items():
        repository.upsert(session, table, group, (key,), [*sorted(fields), *always])


def _store_groups(session: Session, batch: _Batch, now: dt.datetime) -> tuple[int, list[Reject]]:
    if not batch.groups:
        return 0, []
    records = [{"account_id": group_id, **traits} for group_id, (_, traits) in batch.groups.items()]
    locations = [index for index, _ in batch.groups.values()]
    valid = validate(json_records_table(records, locations, KINDS["accounts"].field_names), KINDS["accounts"], now=now)
    by_location = {location: record for location, record in zip(locations, records, strict=True)}
    present = [set(by_location[int(location)]) - {"account_id"} for location in valid.locations]
    frame = valid.frame.assign(updated_at=naive_utc(now), source="segment")
    frame["tags"] = frame["tags"].map(lambda tags: tags or [])
    _upsert_by_present_fields(session, Account.__table__, _rows(frame), present, "account_id", ["updated_at"])
    return len(frame), valid.rejects


def _store_identifies(session: Session, batch: _Batch, now: dt.datetime) -> tuple[int, list[Reject]]:
    if not batch.identifies:
        return 0, []
    known_users = accounts.contact_accounts(session, batch.identifies)
    wanted = {account for _, _, account in batch.identifies.values() if account}
    known_accounts = accounts.existing_account_ids(session, wanted)
    records, locations, rejects = [], [], []
    for user_id, (index, traits, named) in batch.identifies.items():
        account = named or known_users.get(user_id)
        if account is None:
            reason = "no account: send context.groupId (or traits.account_id) for a user cs-health does not know"
            rejects.append(Reject(index, "account_id", reason))
        elif named and account not in known_accounts:
            rejects.append(Reject(index, "account_id", f"unknown account {account!r}; send a group call for it first"))
        else:
            records.append({"user_id": user_id, "account_id": account, **traits})
            locations.append(index)
    if not records:
        return 0, rejects
    valid = validate(json_records_table(records, locations, KINDS["users"].field_names), KINDS["users"], now=now)
    by_location = {location: record for location, record in zip(locations, records, strict=True)}
    present = [set(by_location[int(location)]) - {"user_id", "account_id"} for location in valid.locations]
    _upsert_by_present_fields(session, Contact.__table__, _rows(valid.frame), present, "user_id", ["account_id"])
    return len(valid.frame), [*rejects, *valid.rejects]


def _event_record(message: dict[str, Any], account: str | None, sent_at: Any, now: dt.datetime) -> dict[str, Any]:
    kind = message.get("type")
    properties = message.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else {}
    if kind == "track":
        name = message.get("event")
    else:
        name = PAGE_EVENT if kind == "page" else SCREEN_EVENT
        for key in ("name", "category"):
            if message.get(key) is not None:
                properties.setdefault(key, message[key])
    quantity = properties.get("quantity")
    usable_quantity = isinstance(quantity, (int, float)) and not isinstance(quantity, bool)
    timestamp = message.get("timestamp") or message.get("originalTimestamp") or message.get("sentAt") or sent_at
    return {
        "account_id": account,
        "event": name,
        "timestamp": timestamp or now.isoformat(),
        "user_id": _text(message.get("userId")),
        "quantity": quantity if usable_quantity else None,
        "message_id": _text(message.get("messageId")),
        "properties": properties or None,
    }


def _store_events(
    session: Session, batch: _Batch, sent_at: Any, now: dt.datetime
) -> tuple[int, int, int, list[Reject]]:
    """(new, duplicates, rejected, rejects) for the batch's track/page/screen messages."""
    if not batch.events:
        return 0, 0, 0, []
    users = {_text(message.get("userId")) for _, message in batch.events if not _context_group(message)}
    known_users = accounts.contact_accounts(session, [user for user in users if user])
    records, locations, rejects = [], [], []
    for index, message in batch.events:
        account = _context_group(message) or known_users.get(_text(message.get("userId")) or "")
        if account is None:
            reason = "no account for this event: send context.groupId or identify the user with an account first"
            rejects.append(Reject(index, "account_id", reason))
            continue
        records.append(_event_record(message, account, sent_at, now))
        locations.append(index)
    valid = validate_items(records, now, locations)
    new, duplicates = store_events(session, valid.events, naive_utc(now))
    return new, duplicates, len(batch.events) - len(valid.events), [*rejects, *valid.rejects]


def ingest_segment(
    session: Session,
    messages: list[Any],
    *,
    now: dt.datetime,
    source: str,
    default_type: str | None = None,
    batch_context: dict[str, Any] | None = None,
    sent_at: Any = None,
) -> SegmentResult:
    """Applies Segment messages (groups, then identifies, then events); bad ones are reported, not fatal.
    `default_type` is the call's type for the single-message routes (`/v1/track` ...)."""
    if default_type is not None:
        messages = [{**message, "type": default_type} if isinstance(message, dict) else message for message in messages]
    batch = _sort(messages, batch_context)
    groups, group_rejects = _store_groups(session, batch, now)
    users, user_rejects = _store_identifies(session, batch, now)
    new, duplicates, _, event_rejects = _store_events(session, batch, sent_at, now)
    rejects = sorted([*batch.rejects, *group_rejects, *user_rejects, *event_rejects], key=lambda r: r.location)
    rejected = len({reject.location for reject in rejects})
    if batch.events:
        run = event_run(source, new, duplicates, len(batch.events) - new - duplicates, now)
        repository.record_imports(session, [run])
    return SegmentResult(
        accepted=groups + users + new + batch.ignored,
        duplicates=duplicates,
        rejected=rejected,
        errors=[ItemError.of(reject) for reject in rejects],
    )
