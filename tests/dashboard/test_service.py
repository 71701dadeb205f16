"""The dashboard service on a real database: a demo portfolio for the summaries, hand-made rows for the edges."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from cs_health.audit.schemas import Actor
from cs_health.dashboard import service
from cs_health.dashboard.schemas import PAGE_SIZE, DashboardUserView, OverrideForm, PortfolioQuery, TouchpointForm
from cs_health.db.engine import Database
from cs_health.db.tables import ChurnModelRecord, DashboardUser, Touchpoint
from cs_health.exceptions import Conflict, InvalidInput, NotFound
from tests.dashboard.conftest import ADMIN, HOSTILE, NOW, make_alert, make_hostile_account

TODAY = NOW.date()
ADMIN_USER = DashboardUserView(id=1, email=ADMIN, role="admin")


def statements_during(database: Database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_the_portfolio_page_is_read_set_based_whatever_the_number_of_accounts(database: Database, demo: None):
    seen = statements_during(database)
    with database.transaction() as session:
        page = service.portfolio(session, PortfolioQuery(), ADMIN_USER, TODAY)
    assert page.total == page.accounts_in_database == 20
    assert len(page.rows) == 20
    # page + count + filter options + newest dates: a fixed handful, never one per account
    assert len([sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]) <= 12


def test_sorting_filtering_and_scope(database: Database, demo: None):
    with database.transaction() as session:
        by_arr = service.portfolio(session, PortfolioQuery(sort="arr", order="desc"), ADMIN_USER, TODAY)
        arr = [row.arr for row in by_arr.rows if row.arr is not None]
        assert arr == sorted(arr, reverse=True)
        missing = [row.arr is None for row in by_arr.rows]
        assert missing == sorted(missing)  # accounts without ARR sort last either way
        band = by_arr.rows[0].band
        filtered = service.portfolio(session, PortfolioQuery(band=band), ADMIN_USER, TODAY)
        assert filtered.total >= 1
        assert {row.band for row in filtered.rows} == {band}
        soon = service.portfolio(session, PortfolioQuery(renewal_days=90), ADMIN_USER, TODAY)
        horizon = TODAY + dt.timedelta(days=90)
        assert all(row.renewal_date is not None and TODAY <= row.renewal_date <= horizon for row in soon.rows)
        csm = by_arr.rows[0].csm_email
        me = DashboardUserView(id=2, email=csm.upper(), role="csm")
        mine = service.portfolio(session, PortfolioQuery(), me, TODAY)
        assert mine.scope == "mine"
        assert mine.total >= 1
        assert {row.csm_email for row in mine.rows} == {csm}
        assert service.portfolio(session, PortfolioQuery(scope="all"), me, TODAY).total == 20
        name = by_arr.rows[0].name
        assert [row.name for row in service.portfolio(session, PortfolioQuery(q=name[:6]), ADMIN_USER, TODAY).rows]


def test_bad_query_values_fall_back_to_defaults_and_the_page_is_clamped(database: Database, demo: None):
    query = PortfolioQuery.model_validate({"sort": "drop table", "order": "sideways", "band": "<b>", "page": "999"})
    assert (query.sort, query.order, query.band) == ("renewal", "asc", "")
    with database.transaction() as session:
        page = service.portfolio(session, query, ADMIN_USER, TODAY)
    assert page.query.page == page.pages == 1
    assert len(page.rows) == 20
    assert PAGE_SIZE == 50


def test_quadrants_and_renewals_add_up(database: Database, demo: None):
    with database.transaction() as session:
        quadrants = service.quadrants(session, ADMIN_USER, None, TODAY)
        portfolio = service.portfolio(session, PortfolioQuery(), ADMIN_USER, TODAY)
        renewals = service.renewals(session, ADMIN_USER, None, TODAY)
    scored = [row for row in portfolio.rows if row.quadrant]
    assert sum(cell.accounts for cell in quadrants.cells) == len(scored)
    assert sum(cell.arr for cell in quadrants.cells) == pytest.approx(sum(row.arr or 0 for row in scored))
    assert all(cell.motion for cell in quadrants.cells)
    assert quadrants.chart_svg.startswith("<svg")
    assert renewals.months
    assert renewals.arr == pytest.approx(sum(month.arr for month in renewals.months))
    horizon = TODAY + dt.timedelta(days=180)
    assert all(TODAY <= row.renewal_date <= horizon for month in renewals.months for row in month.rows)
    assert [month.month for month in renewals.months] == sorted(month.month for month in renewals.months)
    assert (renewals.arr_at_risk is not None) == renewals.predictions  # at risk only where churn is predicted


def test_churn_predictions_feed_portfolio_renewals_and_the_account(database: Database):
    account_id = make_hostile_account(database)
    with database.transaction() as session:
        row = service.portfolio(session, PortfolioQuery(), ADMIN_USER, TODAY).rows[0]
        renewals = service.renewals(session, ADMIN_USER, None, TODAY)
        page = service.account_page(session, account_id, TODAY)
    assert (row.name, row.band, row.churn_90d, row.quadrant) == (HOSTILE, "red", 0.5, "high_value_at_risk")
    assert renewals.arr_at_risk == pytest.approx(36_000)
    assert [driver.label for driver in page.churn.drivers] == [HOSTILE, "Renewal in 40 days"]
    assert page.health.path_to_green == [{"text": HOSTILE}]
    assert [alert.title for alert in page.alerts] == [f"Renewal at risk: {HOSTILE}"]
    assert page.touchpoints[0].notes == HOSTILE
    assert page.contacts_total == 1
    assert "&lt;img" in page.history_svg
    assert "<img" not in page.history_svg


def test_alert_actions_follow_the_lifecycle(database: Database):
    account_id = make_hostile_account(database)
    alert_id = make_alert(database, account_id, title="Usage anomaly")
    with database.transaction() as session:
        assert service.act_on_alert(session, alert_id, "ack", ADMIN, NOW).status == "acknowledged"
        with pytest.raises(InvalidInput):
            service.act_on_alert(session, alert_id, "snooze", ADMIN, NOW, until=TODAY)
        snoozed = service.act_on_alert(session, alert_id, "snooze", ADMIN, NOW, until=TODAY + dt.timedelta(days=3))
        assert (snoozed.status, snoozed.snoozed_until) == ("snoozed", TODAY + dt.timedelta(days=3))
        inbox = service.alerts(session, ADMIN_USER, None, "snoozed", TODAY)
        assert [alert.id for alert in inbox.alerts] == [alert_id]
        assert inbox.counts["open"] == 1
        assert service.act_on_alert(session, alert_id, "resolve", ADMIN, NOW).resolved_by == ADMIN
        with pytest.raises(Conflict):
            service.act_on_alert(session, alert_id, "ack", ADMIN, NOW)
        with pytest.raises(NotFound):
            service.act_on_alert(session, 999_999, "ack", ADMIN, NOW)


def test_touchpoints_and_overrides_from_the_account_page(database: Database):
    account_id = make_hostile_account(database)
    with database.transaction() as session:
        service.log_touchpoint(session, account_id, TouchpointForm(kind="QBR", notes=" deck "), ADMIN, NOW)
        with pytest.raises(InvalidInput):
            service.log_touchpoint(session, account_id, TouchpointForm(kind="carrier pigeon"), ADMIN, NOW)
        with pytest.raises(NotFound):
            service.log_touchpoint(session, "nope", TouchpointForm(kind="call"), ADMIN, NOW)
        form = OverrideForm(band="green", reason="New champion", expires_on=TODAY + dt.timedelta(days=10))
        service.override(session, account_id, form, ADMIN, NOW)
        row = service.portfolio(session, PortfolioQuery(), ADMIN_USER, TODAY).rows[0]
        assert (row.band, row.model_band, row.overridden) == ("green", "red", True)
        assert service.portfolio(session, PortfolioQuery(band="green"), ADMIN_USER, TODAY).total == 1
        stored = session.scalars(select(Touchpoint).where(Touchpoint.notes == "deck")).one()
        assert (stored.kind, stored.csm_email) == ("qbr", ADMIN)


def test_the_model_page_reads_the_stored_backtest(database: Database):
    with database.transaction() as session:
        assert service.model_page(session).version is None
        calibration = [{"bin": i, "n": 10 + i, "mean_predicted": (i + 0.5) / 10, "observed": i / 10} for i in range(10)]
        session.add(
            ChurnModelRecord(
                trained_as_of=TODAY,
                version="churn-1",
                backtest={
                    "churn_model": {"roc_auc": 0.81, "top_decile_lift": 3.2, "brier": 0.07, "calibration": calibration},
                    "health_score": {"roc_auc": 0.7, "top_decile_lift": 2.1, "brier": None},
                    "churn_events": 42,
                },
                created_at=NOW.replace(tzinfo=None),
            )
        )
        session.flush()
        page = service.model_page(session)
    titles = [section.title for section in page.sections]
    assert titles == ["Churn model", "Health score alone"]
    assert page.sections[0].metrics[0].name == "ROC AUC"
    assert page.sections[0].metrics[0].value == 0.81
    assert page.sections[0].calibration_svg.startswith("<svg")
    assert page.sections[1].calibration_svg is None
    assert page.other == {"churn_events": 42}


def test_users_are_created_with_hashed_passwords_and_checked(database: Database):
    with database.transaction() as session:
        created = service.create_user(session, " Ana@CS.example ", "csm", "long enough pw", NOW, actor=Actor.cli())
        assert created.email == "ana@cs.example"
        stored = session.scalars(select(DashboardUser)).one()
        assert stored.password_hash.startswith("$argon2")
        assert "long enough" not in stored.password_hash
        with pytest.raises(Conflict):
            service.create_user(session, "ANA@cs.example", "csm", "long enough pw", NOW, actor=Actor.cli())
        for email, role, password in (
            ("b@x.io", "boss", "long enough pw"),
            ("b@x.io", "csm", "short"),
            ("nope", "csm", "x" * 12),
        ):
            with pytest.raises(InvalidInput):
                service.create_user(session, email, role, password, NOW, actor=Actor.cli())


def test_the_account_page_charts_the_stored_usage_forecast(database: Database, demo: None):
    from sqlalchemy import select

    from cs_health.db.tables import UsageForecast

    with database.sessions() as session:
        account_id = session.scalars(select(UsageForecast.account_id).limit(1)).one()
        page = service.account_page(session, account_id, dt.date.today())
    assert page.has_forecast
    assert "forecast" in page.usage_svg
