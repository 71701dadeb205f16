"""The health view an account page and the API show: the why, the override in force, and the history."""

from __future__ import annotations

import datetime as dt

import pytest

from cs_health.audit.schemas import Actor
from cs_health.db.engine import Database
from cs_health.exceptions import InvalidInput
from cs_health.health.schemas import OverrideIn
from cs_health.health.service import health_history, health_view, set_override
from tests.conftest import CliInvoker

TODAY = dt.date.today()
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def scored(cli: CliInvoker, database: Database) -> None:
    """A small demo portfolio, scored for today and the months before."""
    assert cli("demo", "--accounts", "20", "--months", "12", "--seed", "9", "--no-serve").exit_code == 0


def first_scored_account(database: Database) -> str:
    from sqlalchemy import select

    from cs_health.db.tables import HealthScore

    with database.sessions() as session:
        return session.scalars(select(HealthScore.account_id).where(HealthScore.as_of == TODAY).limit(1)).one()


@pytest.mark.usefixtures("scored")
def test_view_explains_the_score_in_plain_words(database: Database):
    account_id = first_scored_account(database)
    with database.sessions() as session:
        view = health_view(session, account_id, TODAY)
    assert view is not None
    assert view.as_of == TODAY
    assert view.band == view.model_band
    assert view.why
    assert view.components
    assert sum(c.contribution for c in view.components if not c.missing) == pytest.approx(view.score, abs=0.05)
    assert view.lifecycle_stage in {"active", "silent", "sleeping"}
    assert view.touch_policy


@pytest.mark.usefixtures("scored")
def test_override_is_shown_beside_the_model_band_and_lapses(database: Database):
    account_id = first_scored_account(database)
    with database.transaction() as session:
        set_override(
            session,
            account_id,
            OverrideIn(band="red", reason="Champion resigned last week", expires_on=TODAY + dt.timedelta(days=14)),
            Actor.user("ana@cs.example"),
            NOW,
        )
    with database.sessions() as session:
        now_view = health_view(session, account_id, TODAY)
        later_view = health_view(session, account_id, TODAY + dt.timedelta(days=14))
    assert (now_view.band, now_view.override.reason) == ("red", "Champion resigned last week")
    assert now_view.model_band != "unknown"
    assert later_view.override is None
    assert later_view.band == later_view.model_band


@pytest.mark.usefixtures("scored")
def test_an_override_must_expire_in_the_future(database: Database):
    with database.transaction() as session, pytest.raises(InvalidInput, match="expires_on"):
        set_override(
            session, "acc-0001", OverrideIn(band="green", reason="fine", expires_on=TODAY), Actor.user("a@b.c"), NOW
        )


@pytest.mark.usefixtures("scored")
def test_history_has_one_point_per_scored_date_in_order(database: Database):
    account_id = first_scored_account(database)
    with database.sessions() as session:
        history = health_history(session, account_id)
    dates = [point.as_of for point in history.points]
    assert dates == sorted(dates)
    assert len(dates) == len(set(dates)) >= 3
    assert dates[-1] == TODAY


def test_unscored_account_has_no_view(database: Database):
    with database.sessions() as session:
        assert health_view(session, "nobody", TODAY) is None
