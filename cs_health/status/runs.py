"""Which process owns a pipeline run, so a run whose process died (SIGKILL, OOM, a reboot) is not shown as
`running` forever: its row is written before the work starts, in a transaction of its own."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from sqlalchemy.orm import Session

from cs_health.db.tables import PipelineRun
from cs_health.processes import process_alive
from cs_health.status import repository

RUNNING, ABANDONED = "running", "abandoned"


def owner() -> dict[str, Any]:
    """What a run records about the process running it (kept in the run's stats, no schema change needed)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def is_abandoned(run: PipelineRun) -> bool:
    """A `running` run started on this host by a process that no longer exists. Runs of other hosts cannot be
    checked from here and stay `running` until a run on their own host looks at them."""
    recorded = run.stats or {}
    if run.status != RUNNING or recorded.get("host") != socket.gethostname():
        return False
    pid = recorded.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and not process_alive(pid)


def mark_abandoned(session: Session, now: dt.datetime) -> list[int]:
    """Marks this host's dead runs abandoned (with when and why); returns their ids."""
    marked = []
    for run in repository.running_runs(session):
        if is_abandoned(run):
            run.status, run.finished_at = ABANDONED, now
            run.error = f"the process {run.stats.get('pid')} on {run.stats.get('host')} ended without finishing the run"
            marked.append(run.id)
    session.flush()
    return marked
