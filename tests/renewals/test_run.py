"""The alert stage: new alerts with their mail in the outbox, dedup and cooldown, escalation, snooze, resolve."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from cs_health.config import Settings
from cs_health.db.engine import Database
from cs_health.db.tables import Alert, DashboardUser, OutboxMessage
from cs_health.renewals.service import acknowledge, resolve, run_alerts, snooze
from tests.renewals.conftest import AS_OF, NOW
from tests.renewals.support import make_scored_account


def day(offset: int) -> tuple[dt.date, dt.datetime]:
    return AS_OF + dt.timedelta(days=offset), NOW + dt.timedelta(days=offset)


def score_renewal_risk(database: Database, offset: int, **changes: object) -> None:
    """acc-r: red with its renewal within 120 days; acc-g: green and far from renewal (fires nothing)."""
    as_of, _ = day(offset)
    values = {"band": "red", "score": 30.0, "days_to_renewal": 45.0 - offset, "renewal_date": "2026-02-19"}
    with database.transaction() as session:
        make_scored_account(session, "acc-r", as_of, name="Acme", **{**values, **changes})
        make_scored_account(session, "acc-g", as_of, name="Green Co")


def alerts_of(database: Database, rule: str = "renewal_risk") -> list[Alert]:
    with database.transaction() as session:
        return list(session.scalars(select(Alert).where(Alert.rule == rule).order_by(Alert.id)))


def outbox(database: Database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def run(database: Database, settings: Settings, offset: int):
    as_of, now = day(offset)
    with database.transaction() as session:
        return run_alerts(session, as_of, settings=settings, now=now)


def test_a_renewal_risk_alert_and_its_mail_are_written_together(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    summary = run(database, settings, 0)
    assert summary.accounts == 2
    assert summary.by_rule["renewal_risk"] == 1
    [alert] = alerts_of(database)
    assert (alert.account_id, alert.severity, alert.status, alert.fire_count) == ("acc-r", "high", "open", 1)
    assert alert.title == "Renewal at risk: Acme renews in 45 days"
    assert alert.details["band"] == "red"
    [mail] = outbox(database)
    assert (mail.kind, mail.recipient, mail.status) == ("digest", "ana@cs.example", "pending")
    assert "Acme" in mail.subject
    assert "renewal risk" in mail.subject
    assert mail.message_id.startswith(f"<outbox-{mail.id}.")
    assert "https://cs.example/accounts/acc-r" in mail.body_text


def test_rerunning_a_date_changes_nothing_and_mails_nothing(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    before = [(alert.id, alert.fire_count) for alert in alerts_of(database)]
    again = run(database, settings, 0)
    assert again.mails == 0
    assert [(alert.id, alert.fire_count) for alert in alerts_of(database)] == before
    assert len(outbox(database)) == 1


def test_refiring_inside_the_cooldown_updates_the_open_alert(database: Database, settings: Settings):
    for offset in range(3):
        score_renewal_risk(database, offset)
        summary = run(database, settings, offset)
    [alert] = alerts_of(database)
    assert alert.fire_count == 3
    assert alert.last_fired_at == NOW + dt.timedelta(days=2)
    assert alert.as_of == AS_OF + dt.timedelta(days=2)
    assert summary.new == 0
    assert summary.updated == 1
    assert len(outbox(database)) == 1


def test_an_open_alert_is_mailed_again_after_its_cooldown(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    score_renewal_risk(database, 7)
    run(database, settings, 7)
    assert len(alerts_of(database)) == 1
    assert len(outbox(database)) == 2


def test_escalation_inside_the_cooldown_notifies_again(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    score_renewal_risk(database, 1, days_to_renewal=25.0)
    summary = run(database, settings, 1)
    [alert] = alerts_of(database)
    assert (alert.severity, alert.notified_severity, alert.fire_count) == ("critical", "critical", 2)
    assert summary.notified == 1
    mails = outbox(database)
    assert len(mails) == 2
    assert "escalated" in mails[1].body_text


def test_a_snoozed_alert_stays_quiet_until_its_snooze_ends(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    [alert] = alerts_of(database)
    with database.transaction() as session:
        snooze(session, alert.id, AS_OF + dt.timedelta(days=3), "tester", NOW)
    score_renewal_risk(database, 1, days_to_renewal=25.0)  # escalates, but snoozed
    run(database, settings, 1)
    assert len(outbox(database)) == 1
    assert alerts_of(database)[0].status == "snoozed"
    score_renewal_risk(database, 3, days_to_renewal=25.0)
    run(database, settings, 3)
    [alert] = alerts_of(database)
    assert alert.status == "open"
    assert len(outbox(database)) == 2


def test_an_acknowledged_alert_mails_only_when_it_escalates(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    with database.transaction() as session:
        acknowledge(session, alerts_of(database)[0].id, "tester", NOW)
    score_renewal_risk(database, 8)
    run(database, settings, 8)
    assert len(outbox(database)) == 1
    score_renewal_risk(database, 9, days_to_renewal=20.0)
    run(database, settings, 9)
    assert len(outbox(database)) == 2
    assert alerts_of(database)[0].status == "acknowledged"


def test_an_alert_resolves_itself_when_the_condition_clears(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    score_renewal_risk(database, 1, band="green", score=85.0)
    summary = run(database, settings, 1)
    [alert] = alerts_of(database)
    assert summary.resolved >= 1
    assert alert.status == "resolved"
    assert alert.resolved_by == "cs-health (condition cleared on 2026-01-06)"


def test_refiring_soon_after_resolution_reopens_silently(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    run(database, settings, 0)
    with database.transaction() as session:
        resolve(session, alerts_of(database)[0].id, "tester", NOW)
    score_renewal_risk(database, 1)
    summary = run(database, settings, 1)
    [alert] = alerts_of(database)
    assert (alert.status, alert.fire_count, summary.reopened) == ("open", 2, 1)
    assert len(outbox(database)) == 1


def test_users_who_want_each_alert_get_one_mail_per_alert(database: Database, settings: Settings):
    with database.transaction() as session:
        session.add(
            DashboardUser(
                email="Ana@cs.example", role="csm", password_hash="x", mail_preference="per_alert", created_at=NOW
            )
        )
    score_renewal_risk(database, 0, touches_90d=1.0)  # renewal risk and the six-touch rule
    run(database, settings, 0)
    mails = outbox(database)
    assert {mail.kind for mail in mails} == {"alert"}
    assert len(mails) == len({mail.alert_id for mail in mails}) >= 2


def test_backfilled_dates_record_alerts_without_mail(database: Database, settings: Settings):
    score_renewal_risk(database, 0)
    with database.transaction() as session:
        run_alerts(session, AS_OF, settings=settings, now=NOW + dt.timedelta(days=30))
    assert len(alerts_of(database)) == 1
    assert outbox(database) == []
