"""The status report: counts, the last run and import, and how fresh the telemetry is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from cs_health.status import repository
from cs_health.status.runs import ABANDONED, is_abandoned

STALE_AFTER = dt.timedelta(days=7)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value else None


def status(session: Session, now: dt.datetime) -> dict[str, Any]:
    fresh = repository.freshness(session, now.replace(tzinfo=None) - STALE_AFTER)
    run, imported = repository.last_run(session), repository.last_import(session)
    return {
        "counts": repository.counts(session),
        "last_run": None
        if run is None
        else {
            "kind": run.kind,
            "as_of": _iso(run.as_of),
            "status": ABANDONED if is_abandoned(run) else run.status,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
        },
        "last_import": None
        if imported is None
        else {
            "kind": imported.kind,
            "source": imported.source,
            "accepted": imported.accepted,
            "finished_at": _iso(imported.finished_at),
        },
        "freshness": {
            "latest_event_at": _iso(fresh["latest_event_at"]),
            "latest_received_at": _iso(fresh["latest_received_at"]),
            "accounts_without_events_7d": int(fresh["accounts_without_recent_events"] or 0),
        },
    }
