"""The dashboard over HTTP (in-process): login required, CSRF on every form, cookies, lockout, empty states."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cs_health.config import get_settings
from cs_health.dashboard import auth
from cs_health.db.engine import Database
from tests.dashboard.conftest import (
    ADMIN,
    CSM,
    HOSTILE,
    PASSWORD,
    csrf_token,
    log_in,
    make_alert,
    make_hostile_account,
    make_user,
)

PAGES = ("/portfolio", "/quadrant", "/renewals", "/alerts", "/model", "/accounts/acc-evil", "/logout")


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    auth.THROTTLE.succeeded(ADMIN)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_requires_a_login(client: TestClient, path: str):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_login_sets_a_hardened_cookie_and_goes_back_where_it_was_asked(client: TestClient, database: Database):
    make_user(database)
    first = client.get("/login?next=/alerts")
    assert "HttpOnly" in first.headers["set-cookie"]
    assert "SameSite=lax" in first.headers["set-cookie"]
    assert "Secure" not in first.headers["set-cookie"]
    data = {"email": ADMIN, "password": PASSWORD, "csrf_token": csrf_token(first.text), "next": "/alerts"}
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/alerts"
    assert client.cookies.get(auth.COOKIE)
    assert client.get("/portfolio").status_code == 200
    assert client.post("/login", data=data, follow_redirects=False).status_code == 403  # login rotated the token
    data |= {"next": "https://evil.example/", "csrf_token": csrf_token(client.get("/portfolio").text)}
    assert client.post("/login", data=data, follow_redirects=False).headers["location"] == "/portfolio"


def test_the_cookie_is_secure_behind_https(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CS_HEALTH_BASE_URL", "https://cs.example")
    get_settings.cache_clear()
    assert "Secure" in client.get("/login").headers["set-cookie"]


def test_posts_without_the_right_csrf_token_are_refused(client: TestClient, database: Database):
    make_user(database)
    account_id = make_hostile_account(database)
    alert_id = make_alert(database, account_id)
    token = csrf_token(client.get("/login").text)
    no_token = {"email": ADMIN, "password": PASSWORD}
    assert client.post("/login", data=no_token, follow_redirects=False).status_code == 403
    assert log_in(client).status_code == 303
    posts = {
        f"/accounts/{account_id}/touchpoints": {"kind": "call", "notes": "x"},
        f"/accounts/{account_id}/override": {"band": "green", "reason": "why not", "expires_on": "2099-01-01"},
        f"/alerts/{alert_id}/ack": {},
        "/logout": {},
    }
    for path, data in posts.items():
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
        forged = data | {"csrf_token": token}  # the anonymous session's token, not this one's
        assert client.post(path, data=forged, follow_redirects=False).status_code == 403, path
    assert client.get("/alerts").text.count("Acknowledge") >= 1


def test_forms_post_redirect_get(admin_client: TestClient, database: Database):
    account_id = make_hostile_account(database)
    alert_id = make_alert(database, account_id, title="Seats under-used")
    token = csrf_token(admin_client.get("/portfolio").text)
    done = admin_client.post(
        f"/accounts/{account_id}/touchpoints",
        data={"kind": "demo", "notes": "n", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith("?notice=touchpoint#touchpoints")
    bad = admin_client.post(
        f"/accounts/{account_id}/override",
        data={"band": "purple", "reason": "r", "expires_on": "2000-01-01", "csrf_token": token},
        follow_redirects=False,
    )
    assert bad.headers["location"].endswith("?error=override#override")
    snooze = admin_client.post(
        f"/alerts/{alert_id}/snooze",
        data={"until": "yesterday", "csrf_token": token, "next": "/alerts"},
        follow_redirects=False,
    )
    assert snooze.headers["location"] == "/alerts?error=snooze"
    resolve = admin_client.post(
        f"/alerts/{alert_id}/resolve", data={"csrf_token": token, "next": "//evil.example"}, follow_redirects=False
    )
    assert resolve.headers["location"] == "/portfolio?notice=resolved"
    assert "Alert resolved." in admin_client.get("/portfolio?notice=resolved").text


def test_repeated_failed_logins_lock_the_address(client: TestClient, database: Database):
    make_user(database)
    token = csrf_token(client.get("/login").text)
    wrong = {"email": ADMIN, "password": "wrong password", "csrf_token": token}
    statuses = [client.post("/login", data=wrong).status_code for _ in range(get_settings().LOGIN_MAX_FAILURES)]
    assert statuses == [401] * len(statuses)
    locked = client.post("/login", data=wrong | {"password": PASSWORD})
    assert locked.status_code == 429
    assert "too many failed logins" in locked.text


def test_a_csm_starts_on_their_own_book(client: TestClient, database: Database):
    make_user(database, CSM, "csm")
    make_hostile_account(database)  # its CSM is the admin, not this CSM
    assert log_in(client, CSM).status_code == 303
    mine = client.get("/portfolio").text
    assert "No accounts name you" in mine
    assert 'id="portfolio"' not in mine
    everyone = client.get("/portfolio?scope=all").text
    assert "&lt;img src=x onerror=alert(1)&gt;</a>" in everyone
    assert HOSTILE not in everyone


def test_empty_database_pages_explain_what_to_run(admin_client: TestClient):
    expected = {
        "/portfolio": "cs-health import accounts FILE",
        "/quadrant": "No health scores yet",
        "/renewals": "No renewals in the next 180 days",
        "/alerts": "No alerts yet",
        "/model": "No churn model trained yet",
    }
    for path, text in expected.items():
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert text in response.text, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert admin_client.get("/accounts/nope").status_code == 404
    assert admin_client.get("/static/dashboard.css").headers["content-type"].startswith("text/css")


def test_session_cookies_are_signed_and_expire(tmp_path: object, database_url: str):
    key = auth.secret_key(get_settings())
    assert key == auth.secret_key(get_settings())  # generated once, then reused
    assert (get_settings().DATA_DIR / auth.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    session = auth.WebSession(user_id=7, password="abc")
    value = auth.encode(session, key)
    now = time.time()
    assert auth.decode(value, key, 3600, now) == session
    assert auth.decode(value, b"another key", 3600, now) is None
    assert auth.decode(value.replace(value[3], "A" if value[3] != "A" else "B", 1), key, 3600, now) is None
    assert auth.decode(value, key, 3600, now + 7200) is None
    assert auth.decode("garbage", key, 3600, now) is None


def test_the_model_page_shows_training_effects_once_trainings_were_delivered(
    admin_client: TestClient, database: Database
):
    import datetime as dt

    from cs_health.db.tables import Account, Training, TrainingSuggestion

    sent = dt.date.today() - dt.timedelta(days=45)
    with database.transaction() as session:
        session.add(Account(account_id="acc-t", name="Trained Co", segment="smb", tags=[]))
        session.add(Training(training_id="tr-x", title="Dashboards in depth", features=["dashboard_viewed"]))
        session.flush()
        session.add(
            TrainingSuggestion(
                account_id="acc-t",
                as_of=sent,
                training_id="tr-x",
                features=["dashboard_viewed"],
                reason="dashboard_viewed unused for 30 days",
                status="delivered",
                delivered_at=dt.datetime.combine(sent, dt.time(9)),
            )
        )
    page = admin_client.get("/model")
    assert page.status_code == 200
    assert "Dashboards in depth" in page.text
    assert "No training has been delivered yet" not in page.text


@pytest.mark.usefixtures("needs_pdf")
def test_a_logged_in_csm_can_generate_an_accounts_report(
    admin_client: TestClient, client: TestClient, database: Database
):
    from cs_health.db.tables import Account

    with database.transaction() as session:
        session.add(Account(account_id="acc-r", name="Report Co", segment="smb", tags=[]))
    page = admin_client.get("/accounts/acc-r")
    assert "/accounts/acc-r/reports/" in page.text
    pdf = admin_client.get("/accounts/acc-r/reports/2026-10?kind=monthly&audience=client&format=pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert admin_client.get("/accounts/nobody/reports/2026-10").status_code == 404
    assert "monthly 2026-10 (client, pdf)" in admin_client.get("/accounts/acc-r").text
