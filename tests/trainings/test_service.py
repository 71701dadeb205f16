"""The trainings stage on a real database: it stores suggestions with reasons and a re-run replaces them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.trainings import TrainingConfig
from cs_health.db.engine import Database
from cs_health.db.tables import Account, DailyUsage, Subscription, Training, TrainingSuggestion, UserDailyUsage
from cs_health.exceptions import Conflict, NotFound
from cs_health.trainings import service
from cs_health.trainings.schemas import TrainingFields, TrainingIn
from tests.trainings.conftest import TODAY

NOW = dt.datetime(2030, 1, 1, 3, 0)


def stored(database: Database, as_of: dt.date) -> dict[tuple[str, str], TrainingSuggestion]:
    with database.sessions() as session:
        rows = session.scalars(select(TrainingSuggestion).where(TrainingSuggestion.as_of == as_of))
        return {(row.account_id, row.training_id): row for row in rows}


def test_the_stage_stores_suggestions_and_a_rerun_replaces_them(demo: Database):
    with demo.transaction() as session:
        summary = service.run_trainings(session, TODAY, NOW)
    assert summary.accounts > 0
    assert summary.suggestions > 0
    first = stored(demo, TODAY)
    assert len(first) == summary.suggestions
    assert all(row.reason and row.status == "suggested" and row.delivered_at is None for row in first.values())
    with demo.sessions() as session:
        catalogue = {t.training_id: set(t.features) for t in session.scalars(select(Training))}
    assert all(set(row.features) <= catalogue[row.training_id] for row in first.values())
    assert all(feature in row.reason for row in first.values() for feature in row.features)

    # Re-running the date gives the same rows, not twice as many.
    with demo.transaction() as session:
        again = service.run_trainings(session, TODAY, NOW)
    assert again.suggestions == summary.suggestions
    assert stored(demo, TODAY).keys() == first.keys()

    # A delivered suggestion is history: a re-run keeps it and does not suggest it again beside it.
    (account, training), *_ = sorted(first)
    with demo.transaction() as session:
        service.mark_delivered(session, account, training, dt.datetime.now(dt.UTC))
    with demo.transaction() as session:
        service.run_trainings(session, TODAY, NOW)
    after = stored(demo, TODAY)
    assert after[(account, training)].status == "delivered"
    assert after[(account, training)].delivered_at is not None

    # Stricter rules on a re-run: the date's pending suggestions are replaced, not merged.
    with demo.transaction() as session:
        strict = service.run_trainings(
            session, TODAY, NOW, config=TrainingConfig(max_gap_trainings=0, inactive_seat_share=0, new_account_days=0)
        )
    assert strict.suggestions == 0
    assert set(stored(demo, TODAY)) == {(account, training)}

    # The next day the repeat window holds back yesterday's suggestions.
    with demo.transaction() as session:
        service.run_trainings(session, TODAY - dt.timedelta(days=1), NOW)
    yesterday = stored(demo, TODAY - dt.timedelta(days=1))
    with demo.transaction() as session:
        service.run_trainings(session, TODAY, NOW)
    assert not set(yesterday) & set(stored(demo, TODAY)) - {(account, training)}


def test_account_trainings_lists_the_latest_with_catalogue_entries(demo: Database):
    with demo.transaction() as session:
        service.run_trainings(session, TODAY - dt.timedelta(days=70), NOW)
        service.run_trainings(session, TODAY, NOW)
    account = sorted(stored(demo, TODAY))[0][0]
    with demo.sessions() as session:
        view = service.account_trainings(session, account)
        assert view.as_of == TODAY
        assert view.suggestions
        assert all(item.training.title and item.reason for item in view.suggestions)
        with pytest.raises(NotFound):
            service.account_trainings(session, "nobody")


def add_account(session: Session, account_id: str, segment: str = "smb") -> None:
    session.add(Account(account_id=account_id, name=account_id, segment=segment, plan="starter", source="import"))
    session.flush()
    session.add(
        Subscription(
            subscription_id=f"sub-{account_id}",
            account_id=account_id,
            start_date=TODAY - dt.timedelta(days=400),
            end_date=TODAY + dt.timedelta(days=300),
            mrr=100,
            arr=1200,
            seats=10,
            plan="starter",
        )
    )


def use(session: Session, account_id: str, day: dt.date, users: int, event: str = "meeting_scheduled") -> None:
    session.add(DailyUsage(account_id=account_id, day=day, event=event, events=users, quantity=users, users=users))
    for number in range(users):
        session.add(
            UserDailyUsage(
                account_id=account_id, day=day, event=event, user_id=f"{account_id}-u{number}", events=1, quantity=1
            )
        )


def test_effects_compare_sent_accounts_with_similar_ones(database: Database):
    delivered = TODAY - dt.timedelta(days=40)
    before, after = delivered - dt.timedelta(days=10), delivered + dt.timedelta(days=10)
    with database.transaction() as session:
        service.create_training(
            session, TrainingIn(training_id="meet", title="Meetings", features=["meeting_scheduled"], level="intro")
        )
        for number, (sent, rose) in enumerate(
            [(True, True), (True, True), (True, False), (False, False), (False, True)]
        ):
            account = f"acc-{number}"
            add_account(session, account)
            use(session, account, before, 2)
            use(session, account, after, 4 if rose else 2)
            session.add(
                TrainingSuggestion(
                    account_id=account,
                    as_of=delivered,
                    training_id="meet",
                    features=["meeting_scheduled"],
                    reason="meeting_scheduled not used",
                    status="delivered" if sent else "suggested",
                    delivered_at=dt.datetime.combine(delivered, dt.time(9)) if sent else None,
                )
            )
    with database.sessions() as session:
        (effect,) = service.training_effects(session, TODAY, TrainingConfig(min_effect_count=2)).effects
        assert (effect.sent, effect.sent_rose, effect.similar, effect.similar_rose) == (3, 2, 2, 1)
        assert effect.difference == pytest.approx(2 / 3 - 1 / 2, abs=1e-4)
        (default,) = service.training_effects(session, TODAY).effects
        assert default.summary.startswith("not enough data")


def test_catalogue_crud(database: Database):
    with database.transaction() as session:
        created = service.create_training(
            session, TrainingIn(training_id="t1", title="One", features=["a", " a", "b"], level="core", format="doc")
        )
        assert created.features == ["a", "b"]
        with pytest.raises(Conflict):
            service.create_training(session, TrainingIn(training_id="t1", title="Again", features=["a"]))
    with database.transaction() as session:
        updated = service.update_training(session, "t1", TrainingFields(title="Uno", features=["c"]))
        assert (updated.title, updated.features, updated.level) == ("Uno", ["c"], None)
        assert [t.training_id for t in service.list_trainings(session)] == ["t1"]
    with database.transaction() as session:
        service.delete_training(session, "t1")
        with pytest.raises(NotFound):
            service.get_training(session, "t1")
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Training)) == 0
