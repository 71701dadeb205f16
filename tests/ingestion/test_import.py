"""`cs-health import` end to end on a real database: every kind, idempotency, rejects, --strict, --dry-run."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cs_health.db.engine import Database, make_database
from cs_health.db.migrate import upgrade
from cs_health.db.tables import (
    Account,
    Contact,
    DailyUsage,
    ImportRun,
    NpsResponse,
    Subscription,
    Ticket,
    Touchpoint,
    Training,
    UsageEvent,
    UserDailyUsage,
)
from cs_health.ingestion import service as ingestion_service
from cs_health.ingestion.contract import IMPORT_ORDER
from cs_health.ingestion.event_import import PartPlan, plan_parts
from cs_health.ingestion.items import validate_items
from cs_health.ingestion.readers import RawTable
from cs_health.ingestion.service import import_file, store_events
from cs_health.ingestion.stage import MAX_PARTS, EventStage
from tests.conftest import CliInvoker
from tests.factories import EVENTS, SAMPLES, write_csv_text, write_records

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
BOOKKEEPING = {"id", "received_at", "updated_at", "last_received_at"}
TABLES = {
    "accounts": Account,
    "users": Contact,
    "subscriptions": Subscription,
    "events": UsageEvent,
    "tickets": Ticket,
    "nps": NpsResponse,
    "touchpoints": Touchpoint,
    "trainings": Training,
}


def count(database: Database, table: type) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def snapshot(database: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every stored row of the imported kinds and rollups, to compare before and after a re-import."""
    tables = [*TABLES.values(), UserDailyUsage, DailyUsage]
    with database.engine.connect() as connection:
        return {
            table.__tablename__: sorted(
                tuple(str(value) for value in row)
                for row in connection.execute(select(*[c for c in table.__table__.c if c.name not in BOOKKEEPING]))
            )
            for table in tables
        }


def import_all(cli: CliInvoker, folder: Path, suffix: str = ".csv") -> None:
    for kind in IMPORT_ORDER:
        path = write_records(folder / f"{kind}{suffix}", SAMPLES[kind])
        result = cli("import", kind, str(path))
        assert result.exit_code == 0, (kind, result.stdout, result.stderr)


def test_every_kind_imports_and_status_counts_it(cli: CliInvoker, database: Database, tmp_path: Path):
    import_all(cli, tmp_path)
    for kind, table in TABLES.items():
        assert count(database, table) == len(SAMPLES[kind]), kind
    status = json.loads(cli("status").stdout)
    assert status["counts"]["accounts"] == 2
    assert status["counts"]["events"] == len(EVENTS)
    assert status["last_import"]["kind"] == "touchpoints"
    assert status["freshness"]["latest_event_at"].startswith("2026-01-06T08:00")


def test_reimporting_the_same_files_changes_nothing(cli: CliInvoker, database: Database, tmp_path: Path):
    import_all(cli, tmp_path)
    before = snapshot(database)
    import_all(cli, tmp_path)
    assert snapshot(database) == before
    result = cli("import", "events", str(tmp_path / "events.csv"))
    assert f"0 accepted, {len(EVENTS)} duplicates" in result.stdout


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl", ".jsonl.gz", ".parquet"])
def test_every_format_stores_the_same_data(cli: CliInvoker, database: Database, tmp_path: Path, suffix: str):
    import_all(cli, tmp_path / "", ".csv")
    reference = snapshot(database)
    with database.engine.begin() as connection:
        for table in ("daily_usage", "user_daily_usage", "usage_event"):
            connection.execute(text(f"DELETE FROM {table}"))
    other = tmp_path / "other"
    other.mkdir()
    import_all(cli, other, suffix)
    assert snapshot(database) == reference


def test_utf8_names_with_emoji_round_trip(cli: CliInvoker, database: Database, tmp_path: Path):
    import_all(cli, tmp_path)
    with database.sessions() as session:
        assert session.get(Account, "acc-1").name == "Acme Rockets 🚀"
        assert session.get(Account, "acc-1").tags == ["strategic", "eu"]
        assert session.get(Account, "acc-2").name == "Zürich Ünïcode AG"
        assert session.scalar(select(NpsResponse.comment).where(NpsResponse.score == 9)) == "Love it 💚"


def test_event_text_with_quotes_commas_line_breaks_and_backslashes_is_stored_as_sent(
    database: Database, tmp_path: Path
):
    """Events reach PostgreSQL as CSV through COPY and SQLite through an Arrow stage: text that looks like CSV
    syntax, COPY's end-of-data marker or JSON must come back unchanged."""
    tricky = ['say "hi", then\nleave', "\\.", "back\\slash \\N", "é 🚀 ,,", '{"a": [1, "b"]}']
    records = [
        {
            "account_id": f"acc {n}, {text}",
            "event": text,
            "timestamp": "2026-01-05T09:00:00Z",
            "user_id": text,
            "message_id": f"m-{n} {text}",
            "properties": {"note": text},
        }
        for n, text in enumerate(tricky)
    ]
    summary = import_file(database, "events", write_records(tmp_path / "tricky.jsonl", records), now=NOW)
    assert (summary.new, summary.rejected) == (len(records), 0)
    with database.sessions() as session:
        stored = session.execute(select(UsageEvent.event, UsageEvent.user_id, UsageEvent.properties)).all()
        per_user = session.scalars(select(UserDailyUsage.user_id)).all()
    assert sorted(stored) == sorted((text, text, {"note": text}) for text in tricky)
    assert sorted(per_user) == sorted(tricky)


def test_daily_rollups_count_events_quantity_and_distinct_users(cli: CliInvoker, database: Database, tmp_path: Path):
    import_all(cli, tmp_path)
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT account_id, day, event, events, quantity, users FROM daily_usage ORDER BY 1, 2, 3")
        ).all()
    assert [(r[0], str(r[1]), r[2], r[3], r[4], r[5]) for r in rows] == [
        ("acc-1", "2026-01-05", "login", 3, 3.0, 2),
        ("acc-1", "2026-01-05", "report_exported", 1, 3.0, 1),
        ("acc-2", "2026-01-06", "login", 1, 2.0, 1),
    ]


def test_late_events_correct_their_days_rollup(cli: CliInvoker, database: Database, tmp_path: Path):
    import_all(cli, tmp_path)
    late = [
        {"account_id": "acc-1", "event": "login", "timestamp": "2026-01-05T23:00:00Z", "user_id": "u-9"},
        {"account_id": "acc-1", "event": "login", "timestamp": "2026-01-05T23:30:00Z", "user_id": "u-1"},
    ]
    assert cli("import", "events", str(write_records(tmp_path / "late.csv", late))).exit_code == 0
    with database.sessions() as session:
        row = session.get(DailyUsage, ("acc-1", dt.date(2026, 1, 5), "login"))
    assert (row.events, row.users) == (5, 3)


def test_events_without_message_id_deduplicate_by_their_fields(cli: CliInvoker, database: Database, tmp_path: Path):
    records = [{key: value for key, value in event.items() if key != "message_id"} for event in EVENTS]
    path = write_records(tmp_path / "anon.jsonl", records + records[:2])
    result = cli("import", "events", str(path))
    assert f"{len(EVENTS)} accepted, 2 duplicates" in result.stdout
    assert "0 accepted" in cli("import", "events", str(path)).stdout
    assert count(database, UsageEvent) == len(EVENTS)


def test_message_ids_deduplicate_across_files_and_formats(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "events", str(write_records(tmp_path / "a.csv", EVENTS[:3])))
    result = cli("import", "events", str(write_records(tmp_path / "b.parquet", EVENTS)))
    assert "2 accepted, 3 duplicates" in result.stdout
    assert count(database, UsageEvent) == len(EVENTS)


def test_events_for_an_unknown_account_create_it(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "events", str(write_records(tmp_path / "e.csv", EVENTS)))
    with database.sessions() as session:
        created = session.get(Account, "acc-2")
    assert created is not None
    assert created.source == "event"
    assert created.tags == []


def test_rejected_records_exit_2_name_line_and_field_and_go_to_a_rejects_file(
    cli: CliInvoker, database: Database, tmp_path: Path
):
    path = write_csv_text(
        tmp_path / "events.csv",
        "account_id,event,timestamp,quantity\n"
        "acc-1,login,2026-01-05T09:00:00Z,1\n"
        "acc-1,login,yesterday,1\n"
        ",login,2026-01-05T09:00:00Z,1\n"
        "acc-1,login,2026-01-05T10:00:00Z,lots\n",
    )
    result = cli("import", "events", str(path))
    assert result.exit_code == 2
    assert "1 accepted" in result.stdout
    assert "3 rejected" in result.stdout
    assert f"{path}:3: timestamp: not an ISO 8601 timestamp: 'yesterday'" in result.stderr
    assert f"{path}:4: account_id: is required but empty" in result.stderr
    assert f"{path}:5: quantity: not a number: 'lots'" in result.stderr
    with (tmp_path / "events.csv.rejects.csv").open(newline="", encoding="utf-8") as handle:
        rejects = list(csv.DictReader(handle))
    assert [(row["line"], row["field"]) for row in rejects] == [
        ("3", "timestamp"),
        ("4", "account_id"),
        ("5", "quantity"),
    ]
    assert json.loads(rejects[0]["record"])["timestamp"] == "yesterday"
    assert count(database, UsageEvent) == 1


def test_only_the_first_twenty_rejects_are_printed(cli: CliInvoker, tmp_path: Path):
    lines = "".join(f"acc-1,login,bad-{n}\n" for n in range(25))
    result = cli("import", "events", str(write_csv_text(tmp_path / "e.csv", "account_id,event,timestamp\n" + lines)))
    assert result.stderr.count("not an ISO 8601 timestamp") == 20
    assert "and 5 more problems" in result.stderr


def test_strict_accepts_nothing_when_anything_is_invalid(cli: CliInvoker, database: Database, tmp_path: Path):
    path = write_csv_text(tmp_path / "a.csv", "account_id,csm_email\nacc-1,ok@x.example\nacc-2,not-an-email\n")
    result = cli("import", "accounts", str(path), "--strict")
    assert result.exit_code == 2
    assert count(database, Account) == 0
    assert "nothing was imported" in result.stderr


def test_dry_run_reports_but_writes_nothing(cli: CliInvoker, database: Database, tmp_path: Path):
    result = cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])), "--dry-run")
    assert result.exit_code == 0
    assert "2 would accept" in result.stdout
    assert count(database, Account) == 0
    assert count(database, ImportRun) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("account_id,event\nacc-1,login\n", "required column(s) timestamp missing"),
    ],
)
def test_file_level_problems_exit_2_with_a_plain_message(cli: CliInvoker, tmp_path: Path, content: str, message: str):
    result = cli("import", "events", str(write_csv_text(tmp_path / "events.csv", content)))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_zero_byte_gzip_and_header_only_csv(cli: CliInvoker, database: Database, tmp_path: Path):
    (tmp_path / "e.csv.gz").write_bytes(b"")
    assert cli("import", "events", str(tmp_path / "e.csv.gz")).exit_code == 2
    header_only = cli("import", "events", str(write_csv_text(tmp_path / "h.csv", "account_id,event,timestamp\n")))
    assert header_only.exit_code == 0
    assert "0 accepted" in header_only.stdout
    assert count(database, UsageEvent) == 0


def test_users_of_unknown_accounts_are_rejected(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])))
    users = [*SAMPLES["users"], {"user_id": "u-x", "account_id": "acc-404"}]
    result = cli("import", "users", str(write_records(tmp_path / "u.csv", users)))
    assert result.exit_code == 2
    assert "unknown account 'acc-404'" in result.stderr
    assert count(database, Contact) == len(SAMPLES["users"])


def test_reimport_with_changes_updates_only_the_columns_given(cli: CliInvoker, database: Database, tmp_path: Path):
    cli("import", "accounts", str(write_records(tmp_path / "a.csv", SAMPLES["accounts"])))
    renamed = [{"account_id": "acc-1", "name": "Acme Renamed"}]
    result = cli("import", "accounts", str(write_records(tmp_path / "b.csv", renamed)))
    assert "(0 new, 1 updated)" in result.stdout
    with database.sessions() as session:
        account = session.get(Account, "acc-1")
    assert (account.name, account.segment, account.tags) == ("Acme Renamed", "smb", ["strategic", "eu"])


def test_commands_before_init_say_so(cli: CliInvoker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cs_health.config import get_settings

    monkeypatch.setenv("CS_HEALTH_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    result = cli("status")
    assert result.exit_code == 1
    assert "run `cs-health init` first" in result.stderr


def test_a_message_id_repeated_in_one_file_is_counted_once_in_the_rollups(
    cli: CliInvoker, database: Database, tmp_path: Path
):
    repeated = [*EVENTS, EVENTS[0], EVENTS[0]]
    result = cli("import", "events", str(write_records(tmp_path / "e.csv", repeated)))
    assert f"{len(EVENTS)} accepted, 2 duplicates" in result.stdout
    with database.engine.connect() as connection:
        total = connection.execute(text("SELECT SUM(events) FROM daily_usage")).scalar_one()
        per_user = connection.execute(text("SELECT SUM(events) FROM user_daily_usage")).scalar_one()
    assert total == per_user == len(EVENTS)


def test_an_import_leaves_no_stage_behind_even_when_it_fails(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """SQLite file imports stage their parts in scratch databases beside the data; they go away afterwards, and
    an import whose first part fails stores nothing, and stops writing the parts behind it."""
    if database.dialect != "sqlite":
        pytest.skip("the scratch stage is SQLite's")
    folder = Path(make_url(str(database.engine.url)).database or "").parent
    path = write_records(tmp_path / "events.jsonl", EVENTS)
    import_file(database, "events", path, now=NOW)
    assert not list(folder.glob(".cs-health-stage-*"))

    merges: list[object] = []

    def failing_rollup(*args: object, **kwargs: object) -> None:
        merges.append(args)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingestion_service.repository, "merge_rollup", failing_rollup)
    stored = count(database, UsageEvent)
    more = [event | {"message_id": f"{event['message_id']}-again"} for event in EVENTS]
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_file(database, "events", write_records(tmp_path / "more.jsonl", more), now=NOW, chunk_rows=1)
    assert count(database, UsageEvent) == stored
    assert not list(folder.glob(".cs-health-stage-*"))
    # the parts queued behind the failed one are dropped: at most the two after it had been handed to the writer
    assert 1 <= len(merges) <= 3 < len(EVENTS)


def test_an_import_counts_only_its_own_events_when_another_writer_commits_while_it_stages(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file import stages its events for seconds before inserting them; an HTTP request storing events in the
    meantime must neither fail the import nor be counted, or rolled up, as the import's own."""
    if database.dialect != "sqlite":
        pytest.skip("the scratch stage is SQLite's")
    write = EventStage.write
    other = [dict(EVENTS[0], message_id="from-http", user_id="u-http")]

    def stage_while_another_writer_commits(stage: EventStage, *args: Any, **kwargs: Any) -> None:
        write(stage, *args, **kwargs)
        with database.transaction() as session:
            store_events(session, validate_items(other, NOW).events, NOW.replace(tzinfo=None))

    monkeypatch.setattr(EventStage, "write", stage_while_another_writer_commits)
    summary = import_file(database, "events", write_records(tmp_path / "events.jsonl", EVENTS), now=NOW)
    assert (summary.new, summary.duplicates) == (len(EVENTS), 0)
    assert count(database, UsageEvent) == len(EVENTS) + 1
    with database.sessions() as session:
        per_user = session.scalar(select(func.sum(UserDailyUsage.events)))
        per_account = session.scalar(select(func.sum(DailyUsage.events)))
    assert per_user == per_account == len(EVENTS) + 1


def usage(database: Database) -> dict[str, list[tuple[object, ...]]]:
    return {name: rows for name, rows in snapshot(database).items() if "usage" in name}


def test_a_file_in_parts_stores_what_it_stores_in_one(database: Database, tmp_path: Path):
    """Parts are stored in time order, each while the next one is validated: which events are new, which replay
    wins (the first in the file) and the rollups come out as for the whole file at once, and again on re-import."""
    start = dt.datetime(2026, 5, 1)
    records = [
        {
            "account_id": f"acc-{n % 3}",
            "event": ["login", "export"][n % 2],
            "timestamp": (start + dt.timedelta(hours=(n * 37) % 90)).isoformat() + "Z",  # in no time order
            "user_id": f"u-{n % 4}",
            "quantity": n % 5,
            "message_id": f"m-{n}",
        }
        for n in range(30)
    ]
    records += [
        records[3] | {"user_id": "u-later"},  # a replay in a later part: the first one wins
        records[20] | {"timestamp": (start + dt.timedelta(days=9)).isoformat() + "Z"},  # same id, other time
        {key: value for key, value in records[5].items() if key != "message_id"},  # anonymous, twice
        {key: value for key, value in records[5].items() if key != "message_id"},
        records[7] | {"timestamp": "not yet"},
    ]
    path = write_records(tmp_path / "events.jsonl", records)
    reference = make_database(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference.engine)
    whole = import_file(reference, "events", path, now=NOW)
    in_parts = import_file(database, "events", path, now=NOW, chunk_rows=4)
    assert (in_parts.new, in_parts.duplicates, in_parts.rejected) == (whole.new, whole.duplicates, whole.rejected)
    assert (whole.new, whole.duplicates, whole.rejected) == (32, 2, 1)
    assert usage(database) == usage(reference)
    assert [reject.location for reject in in_parts.rejects] == [len(records)]
    again = import_file(database, "events", path, now=NOW, chunk_rows=4)
    assert (again.new, again.duplicates) == (0, 34)
    assert usage(database) == usage(reference)


def events_in_parts(tmp_path: Path, bad_last: bool) -> Path:
    """40 events over several parts of 5; with `bad_last`, the file's last record (in the last part) is invalid."""
    start = dt.datetime(2026, 5, 1)
    records: list[dict[str, Any]] = [
        {"account_id": f"acc-{n % 3}", "event": "login", "timestamp": (start + dt.timedelta(hours=n)).isoformat()}
        for n in range(40)
    ]
    if bad_last:
        records[-1] = records[-1] | {"timestamp": "not yet"}
    return write_records(tmp_path / "events.jsonl", records)


def test_a_strict_events_import_in_parts_stores_all_when_every_part_passes(database: Database, tmp_path: Path):
    """--strict judges every part first, then validates each again as it stores it."""
    summary = import_file(
        database, "events", events_in_parts(tmp_path, bad_last=False), now=NOW, strict=True, chunk_rows=5
    )
    assert (summary.stored, summary.new, summary.rejected) == (True, 40, 0)
    assert count(database, UsageEvent) == 40
    assert count(database, ImportRun) == 1


@pytest.mark.parametrize("flag", ["strict", "dry_run"])
def test_an_events_import_judged_in_parts_stores_nothing_for_one_bad_record_in_its_last_part(
    database: Database, tmp_path: Path, flag: str
):
    path = events_in_parts(tmp_path, bad_last=True)
    summary = import_file(database, "events", path, now=NOW, chunk_rows=5, **{flag: True})
    assert (summary.stored, summary.accepted, summary.rejected) == (False, 39, 1)
    assert [reject.location for reject in summary.rejects] == [40]
    assert (count(database, UsageEvent), count(database, DailyUsage), count(database, ImportRun)) == (0, 0, 0)


def test_parts_follow_time_and_keep_file_order_within_a_part():
    """Each part's events are later than the part's before (so parts fill the time-clustered event table in
    sequence), events of one time share a part (so the first of an event's replays in the file wins), records
    keep their file order within a part, and records without a readable time come last."""
    rng = np.random.default_rng(7)
    hours = rng.integers(0, 40, 300)  # many events share a time
    stamps = [f"2026-05-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z" for hour in hours]
    stamps[17] = stamps[250] = "not a time"
    raw = RawTable(pd.DataFrame({"timestamp": stamps}), np.arange(300), "line")
    plan = plan_parts(raw, part_rows=40)
    assert plan.order is not None
    assert sorted(plan.order.tolist()) == list(range(300))
    assert 2 < len(plan.bounds) <= MAX_PARTS
    parts = [plan.order[start:stop] for start, stop in plan.bounds]
    for part in parts:
        assert part.tolist() == sorted(part.tolist())
    times = [
        pd.to_datetime(pd.Series(stamps).iloc[part], errors="coerce", utc=True, format="ISO8601") for part in parts
    ]
    for earlier, later in itertools.pairwise(times):
        assert earlier.max() < later.dropna().min()
    assert set(parts[-1].tolist()) >= {17, 250}
    assert times[-1].isna().sum() == 2


def test_a_file_without_timestamps_or_small_enough_is_one_part_in_file_order():
    frame = pd.DataFrame({"account_id": ["a"] * 10})
    assert plan_parts(RawTable(frame, np.arange(10), "line"), part_rows=2) == PartPlan(None, [(0, 10)])
    frame["timestamp"] = "2026-05-01T00:00:00Z"
    assert plan_parts(RawTable(frame, np.arange(10), "line"), part_rows=10) == PartPlan(None, [(0, 10)])


def test_an_events_import_reports_its_progress_part_by_part_through_to_the_commit(database: Database, tmp_path: Path):
    """The count of events stored after each part (a SQLite file takes events in parts), then the commit, which a
    count says nothing about; the bar no longer sits at 100 % in silence while the file is committed."""
    reports: list[tuple[int, int, str | None]] = []
    path = write_records(tmp_path / "events.jsonl", EVENTS)
    import_file(
        database,
        "events",
        path,
        now=NOW,
        chunk_rows=2,
        on_progress=lambda done, total, phase=None: reports.append((done, total, phase)),
    )
    assert [phase for _, _, phase in reports if phase] == ["committing"]
    counts = [done for done, _, phase in reports if not phase]
    in_parts = database.dialect == "sqlite"  # PostgreSQL takes a file in one part
    assert counts == sorted(set(counts))
    assert counts[-1] == len(EVENTS)
    assert len(counts) > 1 if in_parts else len(counts) == 1
    assert {total for _, total, _ in reports} == {len(EVENTS)}


def test_postgresql_stages_live_as_long_as_their_connection_and_are_emptied_at_each_commit(database: Database):
    """Created per transaction (ON COMMIT DROP), the stage tables wrote PostgreSQL's catalog twice a transaction,
    bloat at tens of HTTP groups a second; they now last as long as the connection and lose their rows at commit."""
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL's stages (SQLite stages in attached files or its own temp table)")
    stages: list[int] = []
    with database.engine.connect() as connection:
        for n in range(2):
            event = {"account_id": "acc-1", "event": "login", "timestamp": "2026-05-01T10:00:00Z", "message_id": f"{n}"}
            with Session(bind=connection) as session:
                assert store_events(session, validate_items([event], NOW).events, NOW.replace(tzinfo=None)) == (1, 0)
                stages.append(session.scalar(text("SELECT 'pg_temp.incoming_event'::regclass::oid")))
                session.commit()
            assert connection.scalar(text("SELECT COUNT(*) FROM incoming_event")) == 0
            connection.rollback()
    assert stages[0] == stages[1]
    assert count(database, UsageEvent) == 2
