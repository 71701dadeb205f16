"""Small, readable input files in the data contract, written in any supported format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd

ACCOUNTS = [
    {
        "account_id": "acc-1",
        "name": "Acme Rockets 🚀",
        "segment": "smb",
        "industry": "aerospace",
        "csm_email": "ana@cs.example",
        "created_at": "2024-01-10T00:00:00Z",
        "tags": "strategic;eu",
    },
    {
        "account_id": "acc-2",
        "name": "Zürich Ünïcode AG",
        "segment": "enterprise",
        "industry": "banking",
        "csm_email": "bo@cs.example",
        "created_at": "2023-06-01",
        "tags": "",
    },
]
USERS = [
    {"user_id": "u-1", "account_id": "acc-1", "email": "jo@acme.example", "name": "Jo", "role": "champion"},
    {"user_id": "u-2", "account_id": "acc-1", "email": "al@acme.example", "name": "Al", "role": "user"},
    {"user_id": "u-3", "account_id": "acc-2", "email": "zo@zur.example", "name": "Zoë", "role": "decision_maker"},
]
SUBSCRIPTIONS = [
    {
        "subscription_id": "s-1",
        "account_id": "acc-1",
        "start_date": "2025-01-01",
        "end_date": "2026-01-01",
        "mrr": "1000",
        "plan": "growth",
        "seats": "10",
        "status": "active",
    },
    {
        "subscription_id": "",
        "account_id": "acc-2",
        "start_date": "2025-06-01",
        "end_date": "2025-12-01",
        "arr": "120000",
        "plan": "enterprise",
        "seats": "100",
        "status": "active",
    },
]
EVENTS = [
    {
        "account_id": "acc-1",
        "event": "login",
        "timestamp": "2026-01-05T09:00:00Z",
        "user_id": "u-1",
        "quantity": "1",
        "message_id": "m-1",
    },
    {
        "account_id": "acc-1",
        "event": "login",
        "timestamp": "2026-01-05T10:00:00Z",
        "user_id": "u-2",
        "quantity": "",
        "message_id": "m-2",
    },
    {
        "account_id": "acc-1",
        "event": "report_exported",
        "timestamp": "2026-01-05T11:00:00+01:00",
        "user_id": "u-1",
        "quantity": "3",
        "message_id": "m-3",
    },
    {
        "account_id": "acc-1",
        "event": "login",
        "timestamp": "2026-01-05T12:00:00Z",
        "user_id": "",
        "quantity": "1",
        "message_id": "m-4",
    },
    {
        "account_id": "acc-2",
        "event": "login",
        "timestamp": "2026-01-06T08:00:00Z",
        "user_id": "u-3",
        "quantity": "2",
        "message_id": "m-5",
    },
]
TICKETS = [
    {
        "ticket_id": "t-1",
        "account_id": "acc-1",
        "opened_at": "2026-01-02T10:00:00Z",
        "closed_at": "2026-01-03T10:00:00Z",
        "priority": "high",
        "csat": "4",
    },
    {
        "ticket_id": "t-2",
        "account_id": "acc-2",
        "opened_at": "2026-01-04T10:00:00Z",
        "closed_at": "",
        "priority": "",
        "csat": "",
    },
]
NPS = [
    {
        "account_id": "acc-1",
        "responded_at": "2026-01-10T10:00:00Z",
        "score": "9",
        "user_id": "u-1",
        "comment": "Love it 💚",
    },
    {"account_id": "acc-2", "responded_at": "2026-01-11T10:00:00Z", "score": "3", "user_id": "u-3", "comment": ""},
]
TOUCHPOINTS = [
    {
        "account_id": "acc-1",
        "at": "2026-01-12T10:00:00Z",
        "kind": "call",
        "csm_email": "ana@cs.example",
        "notes": "kick-off",
    },
    {"account_id": "acc-2", "at": "2026-01-13T10:00:00Z", "kind": "qbr", "csm_email": "bo@cs.example", "notes": ""},
]
TRAININGS = [
    {
        "training_id": "tr-1",
        "title": "Reports 101",
        "features": "report_exported;dashboard_viewed",
        "url": "https://example.com/tr-1",
        "level": "intro",
        "format": "video",
    },
]

SAMPLES: dict[str, list[dict[str, Any]]] = {
    "accounts": ACCOUNTS,
    "users": USERS,
    "subscriptions": SUBSCRIPTIONS,
    "events": EVENTS,
    "tickets": TICKETS,
    "nps": NPS,
    "touchpoints": TOUCHPOINTS,
    "trainings": TRAININGS,
}


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    """Writes records as CSV, JSON Lines or Parquet by the file's suffix, gzipped if it ends in .gz."""
    name = path.name.removesuffix(".gz")
    frame = pd.DataFrame(records, dtype=object)
    if name.endswith(".csv"):
        content = frame.to_csv(index=False).encode("utf-8")
    elif name.endswith(".jsonl"):
        content = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
    elif name.endswith(".parquet"):
        frame.astype(str).to_parquet(path.with_name(name), index=False)
        content = path.with_name(name).read_bytes()
    else:
        raise ValueError(path)
    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)
    return path


def write_csv_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its categorical columns (text from SQLite's columnar reads) as plain text, to compare it
    with a read that gives text."""
    return frame.astype({name: "str" for name, kind in frame.dtypes.items() if isinstance(kind, pd.CategoricalDtype)})
