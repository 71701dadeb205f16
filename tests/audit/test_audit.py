"""The audit log: each audited action leaves one event with who, what and when (and no secret), in the same
transaction as the change; the log reads back through `GET /api/v1/audit` and `cs-health audit`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cs_health.config import get_settings
from cs_health.db.engine import Database
from cs_health.db.tables import Account, ApiKey, AuditEvent
from models.scorecard import DEFAULT_PATH
from tests.conftest import CliInvoker, KeyMaker, bearer
from tests.dashboard.conftest import csrf_token, log_in, make_user
from tests.qbr.conftest import make_account

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "alerts" / "default_rules.toml"


def audit_events(database: Database, action: str | None = None) -> list[AuditEvent]:
    with database.sessions() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            statement = statement.where(AuditEvent.action == action)
        return list(session.scalars(statement))


def new_key(cli: CliInvoker, *args: str) -> str:
    result = cli("apikey", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_key_creation_and_revocation_are_audited_without_the_secret(cli: CliInvoker, database: Database):
    key = new_key(cli, "--scopes", "ingest,read", "--name", "backend", "--expires-days", "30")
    prefix = key.split("_")[1]
    assert cli("apikey", "revoke", prefix).exit_code == 0
    assert cli("apikey", "revoke", prefix).exit_code == 0  # revoking again changes nothing, audits nothing
    assert cli("apikey", "revoke", "nosuchkey").exit_code == 1
    created, revoked = audit_events(database)
    assert (created.action, created.actor_kind, created.target) == ("api_key.created", "cli", prefix)
    assert created.details["scopes"] == ["ingest", "read"]
    assert created.details["name"] == "backend"
    assert created.details["expires_at"].startswith(str(dt.date.today() + dt.timedelta(days=30))[:7])
    assert (revoked.action, revoked.target, revoked.details["name"]) == ("api_key.revoked", prefix, "backend")
    with database.sessions() as session:
        stored_hash = session.scalars(select(ApiKey.key_hash)).one()
    for event in (created, revoked):
        text = json.dumps(event.details)
        assert key.split("_", 2)[2] not in text  # the secret may itself hold "_"
        assert stored_hash.split("$")[-1] not in text


def test_user_creation_is_audited_without_the_password(cli: CliInvoker, database: Database):
    result = cli("user", "create", "ana@cs.example", "--role", "admin", "--password-stdin", input="a long password\n")
    assert result.exit_code == 0
    again = cli("user", "create", "ana@cs.example", "--password-stdin", input="a long password\n")
    assert again.exit_code == 1  # a refused change leaves no audit event
    (event,) = audit_events(database)
    assert (event.action, event.target, event.details) == ("user.created", "ana@cs.example", {"role": "admin"})
    assert "a long password" not in json.dumps(event.details)


def test_overrides_are_audited_with_the_api_key_or_the_dashboard_user(
    client: TestClient, make_key: KeyMaker, database: Database
):
    with database.transaction() as session:
        session.add(Account(account_id="acc-1", name="Acme", csm_email="csm@cs.example", tags=[]))
    admin = make_key("admin")
    expires = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    body = {"band": "red", "reason": "Champion left", "expires_on": expires}
    assert client.post("/api/v1/accounts/acc-1/health/override", json=body, headers=bearer(admin)).status_code == 201
    past = {**body, "expires_on": "2020-01-01"}
    assert client.post("/api/v1/accounts/acc-1/health/override", json=past, headers=bearer(admin)).status_code == 422
    make_user(database)
    assert log_in(client).status_code == 303
    token = csrf_token(client.get("/accounts/acc-1").text)
    form = {"band": "green", "reason": "New champion", "expires_on": expires, "csrf_token": token}
    assert client.post("/accounts/acc-1/override", data=form, follow_redirects=False).status_code == 303
    by_key, by_user = audit_events(database, "health.overridden")
    assert (by_key.actor_kind, by_key.actor, by_key.target) == ("api_key", admin.split("_")[1], "acc-1")
    assert by_key.details == {"band": "red", "reason": "Champion left", "expires_on": expires}
    assert (by_user.actor_kind, by_user.actor, by_user.details["band"]) == ("user", "admin@cs.example", "green")


def test_a_new_scorecard_or_rule_set_in_use_is_audited_once(
    cli: CliInvoker, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def run() -> None:
        get_settings.cache_clear()
        result = cli("run", "--as-of", "2026-01-05")
        assert result.exit_code == 0, result.output

    run()
    run()  # the same scorecard and rules again: nothing new
    scorecard = tmp_path / "scorecard.toml"
    scorecard.write_text(DEFAULT_PATH.read_text().replace('version = "default-2026.1"', 'version = "ours-1"'))
    monkeypatch.setenv("CS_HEALTH_SCORECARD_FILE", str(scorecard))
    run()
    scorecard.write_text(scorecard.read_text().replace("weight = 30", "weight = 35", 1))  # same version, new content
    run()
    rules = tmp_path / "rules.toml"
    rules.write_text(DEFAULT_RULES.read_text().replace("churn_threshold = 0.5", "churn_threshold = 0.6", 1))
    monkeypatch.setenv("CS_HEALTH_ALERT_RULES_FILE", str(rules))
    run()
    run()
    cards = audit_events(database, "scorecard.changed")
    assert [event.details["version"] for event in cards] == ["default-2026.1", "ours-1", "ours-1"]
    assert cards[0].details["previous"] is None
    assert cards[1].details["previous"]["version"] == "default-2026.1"
    assert cards[2].details["previous"]["fingerprint"] == cards[1].details["fingerprint"]
    assert cards[2].details["fingerprint"] != cards[1].details["fingerprint"]
    assert {(event.actor_kind, event.actor) for event in cards} == {("system", "pipeline")}
    rule_sets = audit_events(database, "alert_rules.changed")
    assert len(rule_sets) == 2
    assert rule_sets[1].details["sources"][-1] == str(rules)
    assert "renewal_risk" in rule_sets[1].details["rules"]


def test_exports_are_audited(cli: CliInvoker, make_key: KeyMaker, client: TestClient, database: Database):
    make_account(database)
    assert cli("export", "scores", "--out", "scores.csv").exit_code == 0
    assert cli("report", "acc-1", "--period", "2026-10", "--out", "r.html").exit_code == 0
    reader = make_key("read")
    assert client.get("/api/v1/accounts/acc-1/reports/2026-10", headers=bearer(reader)).status_code == 200
    assert client.get("/api/v1/accounts/nobody/reports/2026-10", headers=bearer(reader)).status_code == 404
    make_user(database)
    assert log_in(client).status_code == 303
    assert client.get("/accounts/acc-1/reports/2026-Q3", params={"format": "html"}).status_code == 200
    (scores,) = audit_events(database, "scores.exported")
    assert (scores.actor_kind, scores.target, scores.details["accounts"]) == ("cli", "scores.csv", 0)
    by_cli, by_key, by_user = audit_events(database, "report.exported")
    assert [event.actor_kind for event in (by_cli, by_key, by_user)] == ["cli", "api_key", "user"]
    assert {event.target for event in (by_cli, by_key, by_user)} == {"acc-1"}
    assert by_cli.details == {"period": "2026-10", "kind": "monthly", "audience": "client", "format": "html"}
    assert (by_user.details["period"], by_user.details["kind"]) == ("2026-Q3", "qbr")


def test_the_api_reads_the_log_for_admins_filtered_and_paged(
    client: TestClient, cli: CliInvoker, make_key: KeyMaker, database: Database
):
    for name in ("one", "two", "three"):
        new_key(cli, "--name", name)
    admin, reader = make_key("admin"), make_key("read")
    assert client.get("/api/v1/audit").status_code == 401
    assert client.get("/api/v1/audit", headers=bearer(reader)).status_code == 403
    page = client.get("/api/v1/audit", params={"per_page": 2}, headers=bearer(admin)).json()
    assert (page["total"], len(page["items"])) == (5, 2)
    assert page["items"][0]["id"] > page["items"][1]["id"]  # newest first
    second = client.get("/api/v1/audit", params={"per_page": 2, "page": 3}, headers=bearer(admin)).json()
    assert len(second["items"]) == 1
    named = client.get("/api/v1/audit", params={"action": "api_key.created"}, headers=bearer(admin)).json()
    assert {item["actor_name"] for item in named["items"]} == {None}  # CLI events carry no key name
    assert sorted(item["details"]["name"] or "" for item in named["items"]) == ["", "", "one", "three", "two"]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert client.get("/api/v1/audit", params={"since": future}, headers=bearer(admin)).json()["total"] == 0
    today = client.get("/api/v1/audit", params={"since": str(dt.date.today())}, headers=bearer(admin)).json()
    assert today["total"] == 5
    bad = client.get("/api/v1/audit", params={"action": "nope", "since": "yesterday"}, headers=bearer(admin))
    assert bad.status_code == 422
    fields = {problem["field"] for problem in bad.json()["error"]["details"]["problems"]}
    assert fields == {"query.action", "query.since"}
    early = client.get("/api/v1/audit", params={"since": "0001-01-01T00:00:00+05:00"}, headers=bearer(admin))
    assert (early.status_code, early.json()["error"]["details"]) == (422, {"field": "since"})
    assert client.get("/api/v1/audit", params={"page": 10**30}, headers=bearer(admin)).status_code == 422


def test_the_cli_prints_the_log_as_a_table(cli: CliInvoker, database: Database):
    key = new_key(cli, "--name", "backend")
    assert cli("apikey", "revoke", key.split("_")[1]).exit_code == 0
    result = cli("audit")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.strip().splitlines()
    assert header.split("\t") == ["at", "actor", "action", "target", "details"]
    assert [row.split("\t")[2] for row in rows] == ["api_key.revoked", "api_key.created"]
    assert all(row.split("\t")[1].startswith("cli:") for row in rows)
    only = cli("audit", "--action", "api_key.created", "--since", str(dt.date.today()))
    assert [row.split("\t")[2] for row in only.stdout.strip().splitlines()[1:]] == ["api_key.created"]
    limited = cli("audit", "--limit", "1")
    assert len(limited.stdout.strip().splitlines()) == 2
    assert "1 older events not shown" in limited.stderr
    assert cli("audit", "--since", "2026-13-01").exit_code == 2
    assert cli("audit", "--action", "nope").exit_code == 2
    assert "audit" in cli("--help").stdout
