"""The CSM's daily digest carries the day's training suggestions for their accounts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import OutboxMessage, TrainingSuggestion
from tests.conftest import CliInvoker


def test_the_digest_lists_todays_training_suggestions(cli: CliInvoker, database: Database):
    assert cli("demo", "--accounts", "25", "--months", "12", "--seed", "3", "--no-serve").exit_code == 0
    today = dt.datetime.now(dt.UTC).date()
    with database.sessions() as session:
        suggested = session.scalar(
            select(func.count()).select_from(TrainingSuggestion).where(TrainingSuggestion.as_of == today)
        )
        digests = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    assert suggested
    assert digests
    with_trainings = [
        digest for digest in digests if "Training suggestions for your accounts today" in digest.body_text
    ]
    assert with_trainings
    assert all("Training suggestions" in digest.body_html for digest in with_trainings)
