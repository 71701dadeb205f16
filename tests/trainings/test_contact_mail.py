"""With TRAININGS_EMAIL_CONTACTS on, the day's suggestions are e-mailed to the account's contacts and marked
delivered; re-running the date sends nothing twice. Off (the default), nothing goes to customers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import Contact, OutboxMessage, TrainingSuggestion
from tests.conftest import CliInvoker

TODAY = dt.datetime.now(dt.UTC).date()


def training_mails(database: Database) -> list[OutboxMessage]:
    with database.sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "training")))


def test_suggestions_go_to_champions_and_admins_once(
    cli: CliInvoker, database: Database, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CS_HEALTH_TRAININGS_EMAIL_CONTACTS", "true")
    get_settings.cache_clear()
    assert cli("demo", "--accounts", "20", "--months", "12", "--seed", "5", "--no-serve").exit_code == 0
    mails = training_mails(database)
    assert mails
    with database.sessions() as session:
        allowed = set(session.scalars(select(Contact.email).where(Contact.role.in_(["champion", "admin"]))))
        delivered = session.scalar(
            select(func.count())
            .select_from(TrainingSuggestion)
            .where(TrainingSuggestion.as_of == TODAY, TrainingSuggestion.status == "delivered")
        )
    assert {mail.recipient for mail in mails} <= allowed
    assert delivered
    assert all("Why:" in mail.body_text and "churn" not in mail.body_text.lower() for mail in mails)
    assert cli("run", "--as-of", TODAY.isoformat()).exit_code == 0
    assert len(training_mails(database)) == len(mails)


def test_by_default_no_training_mail_goes_to_customers(cli: CliInvoker, database: Database):
    assert cli("demo", "--accounts", "15", "--months", "12", "--seed", "5", "--no-serve").exit_code == 0
    assert training_mails(database) == []
