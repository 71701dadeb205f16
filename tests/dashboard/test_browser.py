"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real uvicorn server: login,
every page, sorting and filtering, the account 360 forms, the alert inbox, hostile data and CSRF.

The walkthrough saves a full-page screenshot of each page to docs/screenshots/ (1280 px wide)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import Alert, HealthOverride, Touchpoint
from tests.dashboard.conftest import ADMIN, HOSTILE, PASSWORD, make_alert, make_hostile_account, make_user

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def watch_dialogs(page: Any) -> list[str]:
    """Every alert()/confirm() a page opens (none may)."""
    opened: list[str] = []

    def record(dialog: Any) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return opened


def log_in(page: Any, server: str, email: str = ADMIN) -> None:
    page.goto(f"{server}/portfolio")
    assert page.url.startswith(f"{server}/login"), "a page behind the login must send the browser to /login"
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/portfolio")


def money(text: str) -> float:
    text = text.strip().lstrip("$").replace(",", "")
    if text in ("", "–"):
        return -1.0
    return float(text[:-1]) * 1_000_000 if text.endswith("M") else float(text)


def test_a_csm_logs_in_and_works_through_every_page(page: Any, server: str, demo: None, database: Database):
    make_user(database)
    dialogs = watch_dialogs(page)
    page.goto(f"{server}/login")
    shot(page, "login")
    log_in(page, server)

    rows = page.locator("#portfolio tbody tr")
    assert rows.count() == 20
    assert page.get_by_role("link", name="show only mine").is_visible()
    shot(page, "portfolio")

    page.locator("a[data-sort=arr]").click()
    page.wait_for_url("**sort=arr**")
    arr = [money(text) for text in page.locator("#portfolio tbody td:nth-child(2)").all_inner_texts()]
    assert arr == sorted(arr, reverse=True)
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("ARR")

    band = page.locator("#portfolio tbody tr .band").first.inner_text().split()[0]
    page.get_by_label("Band").select_option(band)
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(f"**band={band}**")
    bands = page.locator("#portfolio tbody .band").all_inner_texts()
    assert bands
    assert all(text.split()[0] == band for text in bands)
    assert "sort=arr" in page.url  # filtering keeps the sort

    first = page.locator("#portfolio tbody th a").first
    name = first.inner_text()
    first.click()
    page.wait_for_url("**/accounts/**")
    assert page.locator("h1").inner_text() == name
    account_url = page.url
    account_id = account_url.rsplit("/", 1)[1]
    assert page.locator("#breakdown tbody tr").count() > 0
    assert page.locator("#health svg.chart").count() == 1
    shot(page, "account")

    page.get_by_label("Kind").select_option("qbr")
    page.get_by_label("Notes").fill("Walked through the QBR deck")
    page.get_by_role("button", name="Log touchpoint").click()
    page.wait_for_url("**notice=touchpoint**")
    assert page.get_by_role("status").inner_text() == "Touchpoint logged."
    assert "Walked through the QBR deck" in page.locator("#touchpoint-list").inner_text()

    page.locator("#override input[value=red]").check()
    page.get_by_label("Reason").fill("Champion left last week")
    page.get_by_role("button", name="Save override").click()
    page.wait_for_url("**notice=override**")
    assert "Champion left last week" in page.locator(".override-note").inner_text()
    with database.transaction() as session:
        assert session.scalar(select(HealthOverride.band).where(HealthOverride.account_id == account_id)) == "red"

    alert_id = make_alert(database, account_id, title="Health dropped 20 points")
    page.goto(f"{server}/alerts?scope=all")
    assert page.locator(f"#alert-{alert_id}").is_visible()
    shot(page, "alerts")
    page.locator(f"#alert-{alert_id}").get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**notice=acknowledged**")
    assert page.locator(f"#alert-{alert_id}").count() == 0
    with database.transaction() as session:
        acknowledged = session.get(Alert, alert_id)
        assert acknowledged.status == "acknowledged"
        assert acknowledged.acknowledged_by == ADMIN
    page.goto(f"{server}/alerts?status=acknowledged&scope=all")
    assert page.locator(f"#alert-{alert_id}").is_visible()

    for path, heading, name in (
        ("/quadrant", "Value × risk", "quadrant"),
        ("/renewals", "Renewals", "renewals"),
        ("/model", "Churn model", "model"),
    ):
        response = page.goto(f"{server}{path}")
        assert response.status == 200
        assert page.locator("h1").inner_text().startswith(heading)
        if name == "quadrant":
            assert page.locator(".quadrant").count() == 4
        shot(page, name)

    page.goto(f"{server}/logout")
    page.get_by_role("button", name="Log out of cs-health").click()
    page.wait_for_url("**/login**")
    page.goto(f"{server}/portfolio")
    assert "/login" in page.url
    assert dialogs == []


def test_markup_in_account_data_runs_no_script_on_any_page(page: Any, server: str, database: Database):
    make_user(database)
    account_id = make_hostile_account(database)
    dialogs = watch_dialogs(page)
    log_in(page, server)
    for path in (
        "/portfolio",
        "/portfolio?q=%3Cimg",
        "/quadrant",
        "/renewals",
        "/alerts",
        f"/accounts/{account_id}",
        "/model",
    ):
        response = page.goto(f"{server}{path}")
        assert response.status == 200, path
        main = page.locator("main")
        if path != "/model":
            assert HOSTILE in main.inner_text(), f"{path} must show the name as text"
        assert main.locator("img").count() == 0, path
    assert page.locator("h1").inner_text() == "Churn model"
    assert dialogs == []


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any, server: str, database: Database):
    make_user(database)
    account_id = make_hostile_account(database)
    log_in(page, server)
    page.goto(f"{server}/accounts/{account_id}")
    page.evaluate("document.querySelector('#touchpoints form input[name=csrf_token]').remove()")
    page.get_by_label("Notes").fill("forged")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Log touchpoint").click()
    assert posted.value.status == 403
    with database.transaction() as session:
        count = session.scalar(select(func.count()).select_from(Touchpoint).where(Touchpoint.notes == "forged"))
    assert count == 0
