"""`cs-health import events` killed with SIGKILL while it writes a large file: no partial batch is visible (the
stored events and both rollups agree), and importing the same file again completes it with exactly its events."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from cs_health.db.engine import Database
from cs_health.db.tables import DailyUsage, ImportRun, UsageEvent, UserDailyUsage
from cs_health.ingestion.stage import STAGE_PREFIX
from tests.conftest import CliInvoker
from tests.crash.conftest import load
from tests.crash.support import USAGE, cli_process, database_copy, kill, run_cli, snapshot, wait_until, writing

pytestmark = pytest.mark.slow


def counts(database: Database) -> tuple[int, int, int, int]:
    """(stored events, events in the daily rollup, events in the per-user rollup, import records)."""
    with database.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(UsageEvent)) or 0,
            session.scalar(select(func.coalesce(func.sum(DailyUsage.events), 0))) or 0,
            session.scalar(select(func.coalesce(func.sum(UserDailyUsage.events), 0))) or 0,
            session.scalar(select(func.count()).select_from(ImportRun).where(ImportRun.kind == "events")) or 0,
        )


def test_an_import_killed_mid_file_leaves_no_partial_batch_and_a_reimport_completes_it(
    cli: CliInvoker,
    database: Database,
    database_url: str,
    portfolio_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    load(cli, portfolio_files, kinds=("accounts", "users", "subscriptions"))
    events_file = portfolio_files["events"]
    in_file = pd.read_parquet(events_file, columns=["message_id"])["message_id"]
    assert in_file.is_unique
    monkeypatch.setenv("CS_HEALTH_IMPORT_CHUNK_ROWS", "10000")  # several chunks, so the kill lands between two
    with database_copy(database_url, tmp_path) as clean_url:
        clean = run_cli("import", "events", str(events_file), url=clean_url)
        assert clean.returncode == 0, clean.stderr
        expected = snapshot(clean_url, USAGE)
    assert len(expected["usage_event"]) == len(in_file)

    process = cli_process("import", "events", str(events_file), url=database_url)
    wait_until(lambda: writing(database_url), process, "the import started writing events")
    kill(process)

    stored, daily, per_user, imports = counts(database)
    assert stored == daily == per_user  # whatever is visible is whole: every stored event is rolled up, once
    assert stored < len(in_file)
    assert imports == 0  # the killed import is not recorded as done

    stages = Path(make_url(database_url).database or "").parent.glob(f"{STAGE_PREFIX}*")
    killed_stages = list(stages) if database.dialect == "sqlite" else []
    assert len(killed_stages) == (1 if database.dialect == "sqlite" else 0)  # the killed import left its stage

    again = run_cli("import", "events", str(events_file), url=database_url)
    assert again.returncode == 0, again.stderr
    assert not any(stage.exists() for stage in killed_stages)  # the next import did
    assert counts(database)[:3] == (len(in_file),) * 3
    assert snapshot(database_url, USAGE) == expected
