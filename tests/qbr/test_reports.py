"""Reports from the database: figures against the stored data, the audience rule, the CLI, the API and the job."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, func, select

from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import Account, ChurnPrediction, HealthScore, OutboxMessage, Report, Ticket
from cs_health.qbr.jobs import generate_monthly_reports
from tests.conftest import CliInvoker, bearer
from tests.qbr.conftest import make_account

pytestmark = pytest.mark.usefixtures("needs_pdf")

RISK_WORDS = ("churn", "ARR at risk", "probability", "ARR AT RISK")


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _last_month(today: dt.date) -> tuple[str, dt.date, dt.date, str]:
    end = today.replace(day=1)
    start = (end - dt.timedelta(days=1)).replace(day=1)
    return f"{start:%Y-%m}", start, end, f"{start:%B %Y}"


def test_demo_reports_match_the_database(cli: CliInvoker, database: Database, tmp_path):
    assert cli("demo", "--accounts", "15", "--months", "12", "--no-serve").exit_code == 0
    label, start, end, title = _last_month(dt.datetime.now(dt.UTC).date())
    with database.transaction() as session:
        account_id = session.scalar(select(func.min(HealthScore.account_id)))
        name = session.get(Account, account_id).name
        stored = session.scalars(
            select(HealthScore.score)
            .where(HealthScore.account_id == account_id, HealthScore.as_of <= end)
            .order_by(HealthScore.as_of.desc())
            .limit(1)
        ).one()
        tickets = session.scalar(
            select(func.count()).where(
                Ticket.account_id == account_id,
                Ticket.opened_at >= dt.datetime.combine(start, dt.time()),
                Ticket.opened_at < dt.datetime.combine(end, dt.time()),
            )
        )

    client_pdf, internal_pdf = tmp_path / "client.pdf", tmp_path / "internal.pdf"
    result = cli("report", account_id, "--period", label, "--format", "pdf", "--out", str(client_pdf))
    assert result.exit_code == 0, result.stderr
    pages = _pages(client_pdf.read_bytes())
    for number, text in enumerate(pages, start=1):
        assert name in text
        assert title in text
        assert f"Page {number} of {len(pages)}" in text
    whole = "\n".join(pages)
    for section in ("At a glance", "Health", "Usage trend", "Value delivered", "Feature adoption", "Support"):
        assert section in whole
    assert f"Health score {stored:.0f} out of 100" in whole
    assert f"Tickets opened {tickets}" in whole
    assert not any(word in whole for word in RISK_WORDS)

    with database.transaction() as session:  # the pipeline may have forecast churn: start from none
        session.execute(delete(ChurnPrediction).where(ChurnPrediction.account_id == account_id))
    result = cli("report", account_id, "--period", label, "--format", "pdf", "--audience", "internal", "--out", "i.pdf")
    assert result.exit_code == 0
    assert "No churn forecast yet" in "\n".join(_pages((tmp_path / "i.pdf").read_bytes()))

    with database.transaction() as session:
        session.add(
            ChurnPrediction(
                account_id=account_id,
                as_of=end,
                probability_30d=0.07,
                probability_90d=0.23,
                probability_renewal=0.41,
                renewal_date=end + dt.timedelta(days=60),
                arr=50_000.0,
                arr_at_risk=20_500.0,
                drivers=[{"text": "renewal in 60 days"}],
                is_fallback=False,
                model_version="test",
            )
        )
    result = cli(
        "report", account_id, "--period", label, "--format", "pdf", "--audience", "internal", "--out", str(internal_pdf)
    )
    assert result.exit_code == 0
    internal = "\n".join(_pages(internal_pdf.read_bytes()))
    assert "Churn probability, 90 days".upper() in internal.upper()
    assert "23%" in internal
    assert "$20,500" in internal
    assert "renewal in 60 days" in internal
    cli("report", account_id, "--period", label, "--format", "pdf", "--out", str(client_pdf))
    assert not any(word in "\n".join(_pages(client_pdf.read_bytes())) for word in (*RISK_WORDS, "$20,500"))

    with database.transaction() as session:
        rows = session.scalars(select(Report).where(Report.account_id == account_id)).all()
    assert {(row.period, row.audience, row.format) for row in rows} == {
        (label, "client", "pdf"),
        (label, "internal", "pdf"),
    }


def test_cli_rejects_bad_input_plainly(cli: CliInvoker, database: Database):
    make_account(database)
    for arguments, message in [
        (["--period", "2026-13"], "period: '2026-13' has month 13"),
        (["--period", "2026-Q3"], "kind: a monthly report needs a month"),
        (["--period", "2026-10", "--format", "docx"], "format: 'docx' is not one of html, pdf"),
        (["--period", "2026-10", "--audience", "board"], "audience: 'board' is not one of client, internal"),
        (["--period", "2026-10", "--kind", "weekly"], "kind: 'weekly' is not one of monthly, qbr"),
    ]:
        result = cli("report", "acc-1", *arguments, "--out", "r.html")
        assert result.exit_code == 2, arguments
        assert result.stderr.strip() == f"error: {message}" or message in result.stderr
    result = cli("report", "nobody", "--period", "2026-10", "--out", "r.html")
    assert result.exit_code == 1
    assert "no account 'nobody'" in result.stderr


def test_too_little_data_and_markup_in_the_name(cli: CliInvoker, database: Database, tmp_path):
    make_account(database, "x-1", name="<script>alert(1)</script>")
    assert cli("report", "x-1", "--period", "2026-10", "--out", "r.html").exit_code == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Not enough data: no product usage was recorded in October 2026" in html
    assert "<svg" not in html
    assert cli("report", "x-1", "--period", "2026-10", "--format", "pdf", "--out", "r.pdf").exit_code == 0
    text = "\n".join(_pages((tmp_path / "r.pdf").read_bytes()))
    assert "<script>alert(1)</script>" in text
    assert "Not enough data" in text
    assert "Tickets opened 1" in text
    assert "High-priority tickets opened 1" in text


def test_api_serves_and_lists_reports(report_client, make_key, database: Database):
    make_account(database)
    read, ingest = make_key("read"), make_key("ingest")
    url = "/api/v1/accounts/acc-1/reports/2026-10"
    assert report_client.get(url).status_code == 401
    assert report_client.get(url, headers=bearer(ingest)).status_code == 403
    assert report_client.get("/api/v1/accounts/nobody/reports/2026-10", headers=bearer(read)).status_code == 404
    assert report_client.get("/api/v1/accounts/nobody/reports", headers=bearer(read)).status_code == 404
    bad = report_client.get("/api/v1/accounts/acc-1/reports/2026-Q9", headers=bearer(read))
    assert bad.status_code == 422
    assert "Q1 to Q4" in bad.json()["error"]["message"]

    response = report_client.get(url, params={"format": "pdf"}, headers=bearer(read))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "Acme" in _pages(response.content)[0]
    html = report_client.get(url, params={"audience": "internal"}, headers=bearer(read))
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "No churn forecast yet" in html.text

    listed = report_client.get("/api/v1/accounts/acc-1/reports", headers=bearer(read)).json()
    assert {(item["period"], item["kind"], item["audience"], item["format"]) for item in listed["reports"]} == {
        ("2026-10", "monthly", "client", "pdf"),
        ("2026-10", "monthly", "internal", "html"),
    }
    again = report_client.get(listed["reports"][0]["url"], headers=bearer(read))
    assert again.status_code == 200


def test_monthly_job_archives_mails_and_reruns_idempotently(database: Database, monkeypatch):
    monkeypatch.setenv("CS_HEALTH_REPORT_RECIPIENT_ROLES", '["champion"]')
    get_settings.cache_clear()
    settings = get_settings()
    make_account(database, "acc-1", champion="jo@acme.example")
    make_account(database, "acc-2", csm_email=None)
    make_account(database, "gone", end=dt.date(2026, 9, 30))

    skipped = generate_monthly_reports(database, settings, dt.date(2026, 11, 3))
    assert not skipped.ran
    assert skipped.reports == 0

    day = dt.date(2026, 11, settings.REPORTS_DAY_OF_MONTH)
    first = generate_monthly_reports(database, settings, day)
    assert (first.period, first.accounts, first.reports, first.mails, first.failed) == ("2026-10", 2, 4, 2, [])
    with database.transaction() as session:
        reports = {(row.account_id, row.audience): (row.id, row.path) for row in session.scalars(select(Report))}
        mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)).all()
        mail_view = [(mail.recipient, [item["filename"] for item in mail.attachments]) for mail in mails]
    assert set(reports) == {("acc-1", "client"), ("acc-1", "internal"), ("acc-2", "client"), ("acc-2", "internal")}
    assert mail_view == [
        ("csm@cs.example", ["2026-10-monthly-client.pdf", "2026-10-monthly-internal.pdf"]),
        ("jo@acme.example", ["2026-10-monthly-client.pdf"]),
    ]
    client_copy = mails[1].attachments[0]["path"]
    assert client_copy == reports[("acc-1", "client")][1]
    assert mails[1].attachments[0]["content_type"] == "application/pdf"
    assert "churn" not in "\n".join(_pages(Path(client_copy).read_bytes())).lower()
    before = {key: Path(path).read_bytes() for key, (_, path) in reports.items()}

    second = generate_monthly_reports(database, settings, day)
    assert (second.reports, second.mails) == (4, 0)
    with database.transaction() as session:
        again = {(row.account_id, row.audience): (row.id, row.path) for row in session.scalars(select(Report))}
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert again == reports
    assert all(Path(path).read_bytes()[:5] == b"%PDF-" for _, path in again.values())
    assert before.keys() == again.keys()
