"""`cs-health status`: JSON counts, the last run and import, and data freshness."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cs_health.db.engine import Database
from cs_health.db.tables import Alert, OutboxMessage, PipelineRun
from cs_health.status import runs
from tests.conftest import CliInvoker
from tests.factories import EVENTS, SAMPLES, write_records


def test_status_of_an_empty_database(cli: CliInvoker):
    report = json.loads(cli("status").stdout)
    assert report["counts"] == {
        "accounts": 0,
        "users": 0,
        "subscriptions": 0,
        "events": 0,
        "tickets": 0,
        "alerts_open": 0,
        "outbox_pending": 0,
    }
    assert report["last_run"] is None
    assert report["freshness"]["latest_event_at"] is None


def test_status_counts_runs_alerts_outbox_and_freshness(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])))
    cli("import", "events", str(write_records(tmp_path / "e.csv", EVENTS)))
    moment = dt.datetime(2026, 1, 7, 3, 0)
    with database.transaction() as session:
        session.add(PipelineRun(kind="run", as_of=dt.date(2026, 1, 7), status="succeeded", started_at=moment))
        alert = Alert(
            account_id="acc-1",
            rule="renewal_risk",
            dedup_key="k",
            severity="high",
            status="open",
            title="t",
            message="m",
            as_of=dt.date(2026, 1, 7),
            first_fired_at=moment,
            last_fired_at=moment,
        )
        session.add(alert)
        session.add(
            OutboxMessage(
                kind="alert",
                recipient="ana@cs.example",
                subject="s",
                body_text="b",
                message_id="<1@cs>",
                next_attempt_at=moment,
                created_at=moment,
            )
        )
    report = json.loads(cli("status").stdout)
    assert report["counts"]["alerts_open"] == 1
    assert report["counts"]["outbox_pending"] == 1
    assert report["counts"]["events"] == len(EVENTS)
    assert report["last_run"] == {
        "kind": "run",
        "as_of": "2026-01-07",
        "status": "succeeded",
        "started_at": "2026-01-07T03:00:00",
        "finished_at": None,
    }
    assert report["freshness"]["latest_event_at"] == "2026-01-06T08:00:00"
    assert report["freshness"]["accounts_without_events_7d"] == 2


@pytest.mark.parametrize(
    ("where", "shown"),
    [("a finished process here", "abandoned"), ("a live process here", "running"), ("another host", "running")],
)
def test_a_running_run_is_abandoned_only_when_its_process_is_known_gone(
    cli: CliInvoker, database: Database, where: str, shown: str
):
    """Only this host's processes can be checked; a run on another host keeps its state until its host looks."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    owner = {
        "a finished process here": {**runs.owner(), "pid": ended.pid},
        "a live process here": runs.owner(),
        "another host": {"host": "elsewhere.example", "pid": ended.pid},
    }[where]
    with database.transaction() as session:
        session.add(
            PipelineRun(
                kind="run", as_of=dt.date(2026, 1, 7), status="running", started_at=dt.datetime.now(), stats=owner
            )
        )
    assert json.loads(cli("status").stdout)["last_run"]["status"] == shown
