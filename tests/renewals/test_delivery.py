"""Delivery through the outbox to a real SMTP server: both parts arrive, nothing twice, outages wait and retry,
competing scheduler processes never double-send, and without SMTP mail lands in .eml files."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.db.tables import OutboxMessage
from cs_health.renewals.jobs import OUTBOX_JOB_ID, deliver_outbox
from cs_health.renewals.service import run_alerts
from cs_health.scheduler import lease, run_leased
from tests.conftest import CliInvoker
from tests.renewals.conftest import AS_OF, NOW
from tests.renewals.support import SmtpServer, make_scored_account


def portfolio(database: Database, count: int = 1, name: str = "Acme", as_of: dt.date = AS_OF) -> None:
    with database.transaction() as session:
        for number in range(count):
            make_scored_account(
                session,
                f"acc-{number}",
                as_of,
                name=name if count == 1 else f"{name} {number}",
                csm_email=f"csm{number}@cs.example",
                band="red",
                score=30.0,
                days_to_renewal=45.0,
                renewal_date="2026-02-19",
            )


def run(database: Database, settings: Settings, as_of: dt.date = AS_OF, now: dt.datetime = NOW) -> None:
    with database.transaction() as session:
        run_alerts(session, as_of, settings=settings, now=now)


def rows(database: Database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_renewal_risk_mail_arrives_with_both_parts(database: Database, settings: Settings, smtp: SmtpServer):
    portfolio(database)
    run(database, settings)
    summary = deliver_outbox(database, settings, now=NOW)
    assert (summary.sent, summary.retrying, summary.failed) == (1, 0, 0)
    [message] = smtp.messages
    assert message["To"] == "csm0@cs.example"
    assert "Acme" in message["Subject"]
    assert "renewal risk" in message["Subject"]
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert "Renewal at risk: Acme renews in 45 days" in message.get_body(("plain",)).get_content()
    assert "https://cs.example/accounts/acc-0" in message.get_body(("html",)).get_content()
    [row] = rows(database)
    assert (row.status, row.attempts, row.message_id) == ("sent", 1, message["Message-ID"])


def test_rerunning_the_same_date_sends_nothing_new(database: Database, settings: Settings, smtp: SmtpServer):
    portfolio(database)
    run(database, settings)
    deliver_outbox(database, settings, now=NOW)
    run(database, settings)
    later = deliver_outbox(database, settings, now=NOW + dt.timedelta(hours=1))
    assert later.attempted == 0
    assert len(smtp.messages) == 1


def test_a_hostile_account_name_is_inert_in_the_html_part(database: Database, settings: Settings, smtp: SmtpServer):
    portfolio(database, name="<script>alert(1)</script>")
    run(database, settings)
    deliver_outbox(database, settings, now=NOW)
    [message] = smtp.messages
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in message.get_body(("plain",)).get_content()


def test_during_an_outage_mail_waits_with_backoff_then_goes_out_once(
    database: Database, settings: Settings, smtp: SmtpServer
):
    portfolio(database, count=3)
    run(database, settings)
    smtp.stop()
    first = deliver_outbox(database, settings, now=NOW)
    assert (first.sent, first.retrying) == (0, 3)
    for row in rows(database):
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + dt.timedelta(seconds=60))
        assert row.last_error
    assert deliver_outbox(database, settings, now=NOW + dt.timedelta(seconds=30)).attempted == 0  # backing off

    smtp.start()
    smtp.handler.refuse = True  # back, but refusing (451): still waits, with a doubled delay
    second = deliver_outbox(database, settings, now=NOW + dt.timedelta(seconds=60))
    assert second.retrying == 3
    assert {row.next_attempt_at for row in rows(database)} == {NOW + dt.timedelta(seconds=180)}
    assert "451" in rows(database)[0].last_error

    smtp.handler.refuse = False
    third = deliver_outbox(database, settings, now=NOW + dt.timedelta(seconds=180))
    assert third.sent == 3
    assert deliver_outbox(database, settings, now=NOW + dt.timedelta(days=1)).attempted == 0
    ids = [message["Message-ID"] for message in smtp.messages]
    assert sorted(ids) == sorted(row.message_id for row in rows(database))
    assert {row.status for row in rows(database)} == {"sent"}


def test_a_message_is_given_up_after_the_last_attempt_but_kept(
    database: Database, settings: Settings, smtp: SmtpServer
):
    portfolio(database)
    run(database, settings)
    smtp.stop()
    limited = settings.model_copy(update={"OUTBOX_MAX_ATTEMPTS": 2})
    deliver_outbox(database, limited, now=NOW)
    summary = deliver_outbox(database, limited, now=NOW + dt.timedelta(hours=1))
    assert summary.failed == 1
    [row] = rows(database)
    assert (row.status, row.attempts) == ("failed", 2)


def test_a_crashed_senders_claim_runs_out_and_the_message_goes_out(
    database: Database, settings: Settings, smtp: SmtpServer
):
    from cs_health.renewals.jobs import claim_due

    portfolio(database)
    run(database, settings)
    assert len(claim_due(database, NOW, claim_seconds=600)) == 1  # claimed, then the sender "crashed"
    assert deliver_outbox(database, settings, now=NOW + dt.timedelta(seconds=60)).attempted == 0
    assert deliver_outbox(database, settings, now=NOW + dt.timedelta(seconds=601)).sent == 1
    assert len(smtp.messages) == 1


def test_competing_scheduler_processes_never_double_send(database: Database, settings: Settings, smtp: SmtpServer):
    portfolio(database, count=12)
    run(database, settings)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler(holder: str) -> None:
        try:
            start.wait()
            for _ in range(5):
                run_leased(
                    database, OUTBOX_JOB_ID, lambda: deliver_outbox(database, settings, now=NOW, limit=4), holder=holder
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=scheduler, args=(f"holder-{number}",)) for number in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [message["Message-ID"] for message in smtp.messages]
    assert len(ids) == len(set(ids)) == 12
    assert {row.status for row in rows(database)} == {"sent"}


def test_the_lease_admits_one_holder_at_a_time(database: Database):
    clock = {"now": NOW}

    def now() -> dt.datetime:
        return clock["now"]

    with lease(database, "job", "a", seconds=60, clock=now) as first:
        assert first
        with lease(database, "job", "b", seconds=60, clock=now) as second:
            assert not second
        with lease(database, "job", "a", seconds=60, clock=now) as again:
            assert again  # the holder may renew its own lease
    with lease(database, "job", "b", seconds=60, clock=now) as after_release:
        assert after_release
    # a holder that crashed (never released) loses the lease once it expires
    from cs_health.auth.dependencies import write_transaction
    from cs_health.renewals import repository

    with write_transaction(database) as session:
        assert repository.acquire_lease(session, "crash", "dead", NOW, NOW + dt.timedelta(seconds=60))
    with lease(database, "crash", "alive", clock=now) as blocked:
        assert not blocked
    clock["now"] = NOW + dt.timedelta(seconds=61)
    with lease(database, "crash", "alive", clock=now) as taken:
        assert taken


def test_outbox_send_without_smtp_writes_eml_files_and_says_where(cli: CliInvoker, database: Database, tmp_path: Path):
    settings = Settings(BASE_URL="https://cs.example")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    portfolio(database, count=2, as_of=now.date())
    run(database, settings, as_of=now.date(), now=now)
    result = cli("outbox", "send")
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "data" / "mail"
    assert f"2 written to files in {folder}" in result.stdout
    assert len(list(folder.glob("*.eml"))) == 2
    again = cli("outbox", "send")
    assert "0 sent" in again.stdout
    assert "0 written" in again.stdout
    assert {row.status for row in rows(database)} == {"written"}


def test_two_scheduler_processes_started_together_do_not_double_send(
    database: Database, database_url: str, settings: Settings, smtp: SmtpServer
):
    """Real OS processes, each running the scheduler's outbox job repeatedly against the same database."""
    portfolio(database, count=10)
    run(database, settings)
    environment = {
        **os.environ,
        "CS_HEALTH_DATABASE_URL": database_url,
        "CS_HEALTH_SMTP_HOST": "127.0.0.1",
        "CS_HEALTH_SMTP_PORT": str(smtp.port),
    }
    program = "from cs_health.scheduler import outbox_job\nfor _ in range(4):\n    outbox_job()\n"
    processes = [
        subprocess.Popen([sys.executable, "-c", program], env=environment, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in processes:
        _, errors = process.communicate()
        assert process.returncode == 0, errors
    ids = [message["Message-ID"] for message in smtp.messages]
    assert len(ids) == len(set(ids)) == len(rows(database))
    assert {row.status for row in rows(database)} == {"sent"}
