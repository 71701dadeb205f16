"""Alert e-mails: both parts, subjects that name the account and the reason, inert HTML for hostile names."""

from __future__ import annotations

import datetime as dt

from alerts.email import ESCALATED, AlertNotice, TrainingNote, account_url, render_alert, render_digest

AS_OF = dt.date(2026, 1, 5)


def notice(**changes: object) -> AlertNotice:
    values: dict[str, object] = {
        "account_id": "acc-1",
        "account_name": "Acme",
        "rule": "renewal_risk",
        "severity": "high",
        "title": "Renewal at risk: Acme renews in 45 days",
        "message": "Acme renews on 2026-02-19 (45 days, ARR 50,000).",
        "as_of": AS_OF,
        "account_url": account_url("https://cs.example/", "acc-1"),
    }
    return AlertNotice(**{**values, **changes})


def test_an_alert_mail_has_text_and_html_and_a_subject_naming_account_and_reason():
    mail = render_alert(notice())
    assert mail.subject == "[cs-health] HIGH: Renewal at risk: Acme renews in 45 days"
    assert "ARR 50,000" in mail.text
    assert "https://cs.example/accounts/acc-1" in mail.text
    assert 'href="https://cs.example/accounts/acc-1"' in mail.html


def test_an_escalation_says_so_in_the_subject():
    assert render_alert(notice(reason=ESCALATED, severity="critical")).subject.startswith(
        "[cs-health] escalated to CRITICAL:"
    )


def test_a_hostile_account_name_is_inert_in_html_and_plain_in_text():
    name = "<script>alert(1)</script>"
    url = account_url("https://cs.example", "x/<y>")
    mail = render_alert(
        notice(account_name=name, title=f"Renewal at risk: {name}", account_id="x/<y>", account_url=url)
    )
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert name in mail.text
    assert "/accounts/x%2F%3Cy%3E" in mail.html


def test_the_subject_is_one_line():
    mail = render_alert(notice(title="Renewal\r\nBcc: victim@example.com"))
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject


def test_a_digest_lists_every_alert_most_severe_first():
    notices = [
        notice(severity="info", rule="expansion_signal", title="Expansion: Beta", account_name="Beta"),
        notice(severity="critical", title="Renewal at risk: Acme"),
        notice(severity="warning", rule="health_drop", title="Drop: Gamma", account_name="Gamma"),
        notice(severity="warning", rule="few_touches", title="Touches: Delta", account_name="Delta"),
    ]
    mail = render_digest(notices, AS_OF)
    assert mail.subject == (
        "[cs-health] 4 alerts for 2026-01-05: Acme (renewal risk), Delta (few touches), Gamma (health drop) and 1 more"
    )
    assert mail.text.index("Renewal at risk: Acme") < mail.text.index("Expansion: Beta")
    assert mail.html.count("<h2") == 4


def test_a_digest_lists_todays_training_suggestions_after_the_alerts():
    trainings = [
        TrainingNote(
            account_name="<b>Acme</b>",
            title="Reports 101",
            reason="report_exported used by 1 of 25 seats in the last 30 days; peers: 14 per 25",
            url="https://learn.example/reports-101",
            account_url=account_url("https://cs.example", "acc-1"),
        )
    ]
    mail = render_digest([notice()], AS_OF, trainings)
    assert mail.text.index("Renewal at risk") < mail.text.index("Training suggestions for your accounts today")
    assert "Reports 101 (https://learn.example/reports-101)" in mail.text
    assert "report_exported used by 1 of 25 seats" in mail.html
    assert "&lt;b&gt;Acme&lt;/b&gt;" in mail.html
    assert "Training suggestions" not in render_digest([notice()], AS_OF).text
