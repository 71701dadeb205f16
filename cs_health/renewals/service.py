"""The alert stage of the nightly run and the alert lifecycle.

`run_alerts` evaluates the rules on every account's snapshot at once, reconciles the fired alerts with the stored
ones (dedup key, cooldown, escalation, snooze, auto-resolve) and writes the e-mails to the outbox in the same
transaction as the alerts, so a crash never leaves an alert without its mail or a mail without its alert.

Lifecycle: open -> acknowledged / snoozed (until a date) -> resolved (by hand, or by the run when the condition
clears). While an alert is unresolved, re-firing updates it (fire_count, last_fired_at) instead of adding one;
it is mailed again only when its severity rises above the last mailed one (escalation), when its snooze ended,
or (open alerts) as a reminder once the rule's cooldown has passed since the last mail. A resolved alert that
fires again within the cooldown is reopened silently (no flapping mail) unless it escalated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from alerts.email import (
    ESCALATED,
    NEW,
    REMINDER,
    AlertNotice,
    RenderedMail,
    TrainingNote,
    account_url,
    render_alert,
    render_digest,
)
from alerts.rules import (
    CSM,
    CSM_EMAIL,
    SEVERITY_RANK,
    TEAM,
    FiredAlert,
    Rule,
    RuleError,
    RuleSet,
    evaluate_rules,
    load_rules,
)
from cs_health.audit import service as audit
from cs_health.audit.schemas import AuditAction
from cs_health.config import Settings
from cs_health.db.base import naive_utc
from cs_health.db.tables import Alert, OutboxMessage
from cs_health.exceptions import Conflict, InvalidInput, NotFound
from cs_health.renewals import repository
from cs_health.renewals.schemas import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    SNOOZED,
    AlertFilters,
    AlertPage,
    AlertView,
)

DIGEST, PER_ALERT = "digest", "per_alert"
FEATURE_COLUMNS = (
    "days_to_renewal",
    "renewal_date",
    "arr",
    "seats",
    "seat_utilisation",
    "active_users_28d",
    "touches_90d",
    "champion_active_30d",
    "usage_trend",
    "days_since_last_activity",
)
AUTO_RESOLVER = "cs-health"


@dataclass
class AlertRunSummary:
    as_of: dt.date
    rules: int = 0
    accounts: int = 0
    fired: int = 0
    new: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0
    notified: int = 0
    mails: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)


def rules_from(path: Path | None) -> RuleSet:
    """The default rules overlaid with the user's file; a broken file is a plain error naming rule and field."""
    try:
        return load_rules(path)
    except RuleError as error:
        raise InvalidInput(f"alert rules: {error}") from error


def snapshot(session: Session, as_of: dt.date) -> pd.DataFrame:
    """One row per scored account: health, stage and its previous value, features, churn and anomaly when present."""
    scored = repository.scored_accounts(session, as_of)
    if scored.empty:
        return pd.DataFrame(columns=["account_id"])
    features = pd.DataFrame.from_records(scored.pop("features").tolist(), index=scored.index)
    for column in FEATURE_COLUMNS:
        scored[column] = features[column] if column in features.columns else None
    frame = scored.set_index("account_id")
    numeric = [column for column in FEATURE_COLUMNS if column != "renewal_date"]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")
    frame["renewal_date"] = pd.to_datetime(frame["renewal_date"], errors="coerce").dt.date
    for extra in (
        repository.previous_stages(session, as_of),
        repository.churn_probabilities(session, as_of),
        repository.usage_anomalies(session, as_of),
    ):
        if not extra.empty:
            frame = frame.join(extra.set_index("account_id"), how="left")
    if "usage_anomaly" in frame.columns:
        frame["usage_anomaly"] = frame["usage_anomaly"].astype("object").where(frame["usage_anomaly"].notna())
    return frame.reset_index()


@dataclass
class _Notification:
    alert: Alert
    reason: str
    recipients: tuple[str, ...]
    account_name: str


def run_alerts(session: Session, as_of: dt.date, *, settings: Settings, now: dt.datetime) -> AlertRunSummary:
    """The alert stage for `as_of`: evaluate, reconcile, auto-resolve, and write the mail to the outbox.

    Re-running a date is idempotent: the alerts are refreshed, nothing is counted or mailed twice. Dates older
    than ALERT_MAIL_MAX_AGE_DAYS (backfills) record alerts without mailing."""
    moment = naive_utc(now)
    rules = rules_from(settings.ALERT_RULES_FILE)
    audit.note_in_use(
        session,
        AuditAction.ALERT_RULES_CHANGED,
        "alert_rules",
        rules.rules,
        at=moment,
        rules=list(rules.names),
        sources=list(rules.sources),
    )
    frame = snapshot(session, as_of)
    summary = AlertRunSummary(as_of=as_of, rules=len(rules), accounts=len(frame))
    fired = evaluate_rules(frame, rules) if len(frame) else []
    by_key: dict[str, FiredAlert] = {}
    for alert in fired:
        by_key.setdefault(alert.dedup_key, alert)
    summary.fired = len(by_key)
    for alert in by_key.values():
        summary.by_rule[alert.rule] = summary.by_rule.get(alert.rule, 0) + 1
        summary.by_severity[alert.severity] = summary.by_severity.get(alert.severity, 0) + 1

    rule_of = {rule.name: rule for rule in rules}
    longest = max((rule.cooldown_days for rule in rules), default=0)
    stored: dict[str, Alert] = {}
    for alert in repository.alerts_to_reconcile(session, rule_of, as_of - dt.timedelta(days=longest)):
        stored[alert.dedup_key] = alert  # ordered by id: the newest per key wins
    mail_allowed = (moment.date() - as_of).days <= settings.ALERT_MAIL_MAX_AGE_DAYS
    names = dict(zip(frame["account_id"], frame["account_name"], strict=True)) if len(frame) else {}
    csms = dict(zip(frame["account_id"], frame[CSM_EMAIL], strict=True)) if len(frame) else {}

    created: list[Alert] = []
    to_notify: list[tuple[Alert, str, Rule]] = []
    for key, fired_alert in by_key.items():
        rule = rule_of[fired_alert.rule]
        existing = stored.get(key)
        if existing is not None and existing.as_of > as_of:
            continue  # a newer date already decided this alert (an older date being re-run)
        reason = _reconcile(existing, fired_alert, rule, as_of, moment, summary)
        if existing is None or reason == "create":
            record = _new_alert(fired_alert, as_of, moment)
            created.append(record)
            summary.new += 1
            to_notify.append((record, NEW, rule))
        elif reason:
            to_notify.append((existing, reason, rule))

    for key, existing in stored.items():
        rule = rule_of.get(existing.rule)
        if (
            rule is not None
            and rule.auto_resolve
            and existing.status != RESOLVED
            and key not in by_key
            and existing.as_of <= as_of
        ):
            existing.status, existing.resolved_at = RESOLVED, moment
            existing.resolved_by = f"{AUTO_RESOLVER} (condition cleared on {as_of.isoformat()})"
            summary.resolved += 1
    repository.add_all(session, created)

    if not mail_allowed:
        return summary
    notifications = []
    for record, reason, rule in to_notify:
        record.notified_on, record.notified_severity = as_of, record.severity
        recipients = _recipients(rule, csms.get(record.account_id), settings.ALERT_TEAM_EMAIL)
        name = names.get(record.account_id)
        notifications.append(
            _Notification(record, reason, recipients, name if isinstance(name, str) and name else record.account_id)
        )
    summary.notified = len(notifications)
    trainings = _training_notes(session, as_of, names, csms, settings.BASE_URL)
    messages = _mails(session, notifications, as_of, settings, moment, trainings)
    repository.add_all(session, messages)
    for message in messages:  # the Message-ID names the row, so it is set once the row has its id
        digest = hashlib.sha256(f"{message.recipient}\n{message.subject}\n{as_of}".encode()).hexdigest()[:12]
        message.message_id = f"<outbox-{message.id}.{digest}@cs-health>"
    session.flush()
    summary.mails = len(messages)
    return summary


def _reconcile(
    existing: Alert | None, fired: FiredAlert, rule: Rule, as_of: dt.date, now: dt.datetime, summary: AlertRunSummary
) -> str | None:
    """Updates a stored alert that fired again; returns why to mail it (None: silent), or "create" for a new one."""
    if existing is None:
        return "create"
    if existing.status == RESOLVED and (as_of - existing.as_of).days >= rule.cooldown_days:
        return "create"
    rerun = existing.as_of == as_of
    was_resolved = existing.status == RESOLVED
    existing.severity, existing.title, existing.message = fired.severity, fired.title, fired.message
    existing.details = fired.details
    if not rerun:
        existing.fire_count += 1
        existing.last_fired_at, existing.as_of = now, as_of
    escalated = SEVERITY_RANK[fired.severity] > SEVERITY_RANK.get(existing.notified_severity or "", -1)
    if was_resolved:
        existing.status, existing.resolved_at, existing.resolved_by = OPEN, None, None
        existing.acknowledged_at = existing.acknowledged_by = None
        summary.reopened += 1
        return ESCALATED if escalated and existing.notified_severity else None
    summary.updated += 1
    if existing.status == SNOOZED:
        if existing.snoozed_until is not None and as_of < existing.snoozed_until:
            return None  # a snoozed alert does not mail until its snooze ends
        existing.status, existing.snoozed_until = OPEN, None
        return REMINDER
    if existing.notified_on is None:
        return NEW  # recorded during a backfill, never mailed yet
    if escalated:
        return ESCALATED
    if existing.status == OPEN and (as_of - existing.notified_on).days >= rule.cooldown_days:
        return REMINDER
    return None


def _new_alert(fired: FiredAlert, as_of: dt.date, now: dt.datetime) -> Alert:
    return Alert(
        account_id=fired.account_id,
        rule=fired.rule,
        dedup_key=fired.dedup_key,
        severity=fired.severity,
        status=OPEN,
        title=fired.title,
        message=fired.message,
        details=fired.details,
        as_of=as_of,
        first_fired_at=now,
        last_fired_at=now,
        fire_count=1,
    )


def _recipients(rule: Rule, csm_email: Any, team: str | None) -> tuple[str, ...]:
    addresses: list[str] = []
    for recipient in rule.recipients:
        address = csm_email if recipient == CSM else team if recipient == TEAM else recipient
        if isinstance(address, str) and "@" in address and address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    return tuple(addresses)


def _training_notes(
    session: Session, as_of: dt.date, names: dict[str, Any], csms: dict[str, Any], base_url: str
) -> dict[str, list[TrainingNote]]:
    """Today's training suggestions, by the owning CSM's address (lower case), for the digest."""
    notes: dict[str, list[TrainingNote]] = defaultdict(list)
    for account_id, title, reason, url in repository.suggestions_of(session, as_of):
        csm = csms.get(account_id)
        if not isinstance(csm, str) or not csm:
            continue
        name = names.get(account_id)
        notes[csm.lower()].append(
            TrainingNote(
                account_name=name if isinstance(name, str) and name else account_id,
                title=title,
                reason=reason,
                url=url,
                account_url=account_url(base_url, account_id),
            )
        )
    return notes


def _mails(
    session: Session,
    notifications: list[_Notification],
    as_of: dt.date,
    settings: Settings,
    now: dt.datetime,
    trainings: dict[str, list[TrainingNote]] | None = None,
) -> list[OutboxMessage]:
    """Per-alert mails for users who chose them; one digest per other recipient (unknown ones included)."""
    everyone = {address for item in notifications for address in item.recipients}
    preferences = repository.mail_preferences(session, everyone)
    per_alert: list[tuple[str, _Notification]] = []
    digests: dict[str, list[_Notification]] = defaultdict(list)
    for item in notifications:
        for address in item.recipients:
            preference, disabled = preferences.get(address.lower(), (DIGEST, False))
            if disabled:
                continue
            if preference == PER_ALERT:
                per_alert.append((address, item))
            else:
                digests[address].append(item)
    messages = []
    for address, item in per_alert:
        rendered = render_alert(_notice(item, as_of, settings.BASE_URL))
        messages.append(_outbox("alert", address, rendered.subject, rendered.text, rendered.html, now, item.alert.id))
    for address, items in digests.items():
        notices = [_notice(item, as_of, settings.BASE_URL) for item in items]
        rendered = render_digest(notices, as_of, (trainings or {}).get(address.lower(), []))
        alert_id = items[0].alert.id if len(items) == 1 else None
        messages.append(_outbox("digest", address, rendered.subject, rendered.text, rendered.html, now, alert_id))
    return messages


def _notice(item: _Notification, as_of: dt.date, base_url: str) -> AlertNotice:
    alert = item.alert
    return AlertNotice(
        account_id=alert.account_id,
        account_name=item.account_name,
        rule=alert.rule,
        severity=alert.severity,
        title=alert.title,
        message=alert.message,
        as_of=as_of,
        account_url=account_url(base_url, alert.account_id),
        reason=item.reason,
    )


def queue_mail(session: Session, kind: str, recipient: str, mail: RenderedMail, now: dt.datetime, key: str) -> None:
    """Puts one e-mail in the outbox, in the caller's transaction; `key` makes its Message-ID stable, so the same
    mail queued twice is one row."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    message = _outbox(kind, recipient, mail.subject, mail.text, mail.html, now, None)
    message.message_id = f"<{kind}-{digest}@cs-health>"
    repository.add_all(session, [message])


def _outbox(
    kind: str, recipient: str, subject: str, text: str, html: str, now: dt.datetime, alert_id: int | None
) -> OutboxMessage:
    return OutboxMessage(
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=[],
        message_id=f"<pending-{uuid.uuid4().hex}@cs-health>",  # replaced by the row's own once it has an id
        status=repository.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        alert_id=alert_id,
    )


# --- the lifecycle through the API --------------------------------------------------------------------------------


def list_alerts(session: Session, filters: AlertFilters, page: int, per_page: int) -> AlertPage:
    items, total = repository.list_alerts(session, filters, (page - 1) * per_page, per_page)
    return AlertPage(
        items=[AlertView.model_validate(item) for item in items], total=total, page=page, per_page=per_page
    )


def _alert(session: Session, alert_id: int) -> Alert:
    alert = repository.get_alert(session, alert_id, for_update=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", alert_id=alert_id)
    return alert


def get_alert(session: Session, alert_id: int) -> AlertView:
    alert = repository.get_alert(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", alert_id=alert_id)
    return AlertView.model_validate(alert)


def _not_resolved(alert: Alert, action: str) -> None:
    if alert.status == RESOLVED:
        raise Conflict(f"alert {alert.id} is resolved; it cannot be {action}", alert_id=alert.id, status=alert.status)


def acknowledge(session: Session, alert_id: int, actor: str, now: dt.datetime) -> AlertView:
    """Someone owns it: it stays listed and mails again only if it escalates."""
    alert = _alert(session, alert_id)
    _not_resolved(alert, "acknowledged")
    alert.status, alert.snoozed_until = ACKNOWLEDGED, None
    alert.acknowledged_at, alert.acknowledged_by = now.replace(tzinfo=None), actor
    session.flush()
    return AlertView.model_validate(alert)


def snooze(session: Session, alert_id: int, until: dt.date, actor: str, now: dt.datetime) -> AlertView:
    """Silence until `until`: no mail before then; if it still fires then, it is open (and mailed) again."""
    if until <= now.date():
        raise InvalidInput("until: must be after today", field="until")
    alert = _alert(session, alert_id)
    _not_resolved(alert, "snoozed")
    alert.status, alert.snoozed_until = SNOOZED, until
    alert.acknowledged_at, alert.acknowledged_by = now.replace(tzinfo=None), actor
    session.flush()
    return AlertView.model_validate(alert)


def resolve(session: Session, alert_id: int, actor: str, now: dt.datetime) -> AlertView:
    """Done by hand; if the condition still holds, the next run reopens it (silently inside the cooldown)."""
    alert = _alert(session, alert_id)
    _not_resolved(alert, "resolved again")
    alert.status, alert.resolved_at, alert.resolved_by = RESOLVED, now.replace(tzinfo=None), actor
    alert.snoozed_until = None
    session.flush()
    return AlertView.model_validate(alert)
