"""Alert e-mails: one per alert, or one daily digest per recipient; an HTML and a plain-text part each.

One Jinja2 Environment for the package with autoescape on for HTML (an account named `<script>` stays inert)
and StrictUndefined, so a template naming a missing value fails loudly instead of mailing a blank.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
NEW, ESCALATED, REMINDER = "new", "escalated", "reminder"
SEVERITY_COLOURS = {"info": "#2563eb", "warning": "#b45309", "high": "#dc2626", "critical": "#7f1d1d"}
SUBJECT_PREFIX = "[cs-health]"
MAX_SUBJECT = 250
MAX_DIGEST_NAMES = 3
MAX_DIGEST_TRAININGS = 10


@dataclass(frozen=True)
class AlertNotice:
    """What an e-mail says about one alert (plain data; the shell fills it from the alert row)."""

    account_id: str
    account_name: str
    rule: str
    severity: str
    title: str
    message: str
    as_of: dt.date
    account_url: str
    reason: str = NEW  # new, escalated (severity rose) or reminder (still firing after the cooldown or a snooze)

    @property
    def rule_label(self) -> str:
        return self.rule.replace("_", " ")


@dataclass(frozen=True)
class TrainingNote:
    """A training suggested today for one of the recipient's accounts, listed under the digest's alerts."""

    account_name: str
    title: str
    reason: str
    url: str | None
    account_url: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The package's one Jinja2 Environment (HTML templates autoescaped, text ones not)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), disabled_extensions=("txt", "txt.j2"), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def account_url(base_url: str, account_id: str) -> str:
    """The account page in cs-health (`BASE_URL/accounts/{id}`, the id URL-quoted)."""
    return f"{base_url.rstrip('/')}/accounts/{quote(account_id, safe='')}"


def clean_subject(text: str) -> str:
    """One line, no control characters (no header injection), at most MAX_SUBJECT characters."""
    line = re.sub(r"[\x00-\x1f\x7f\s]+", " ", text).strip()
    return line if len(line) <= MAX_SUBJECT else line[: MAX_SUBJECT - 1].rstrip() + "…"


def alert_subject(notice: AlertNotice) -> str:
    """Says the severity, the account and the reason: the rule's title names both."""
    marker = f"escalated to {notice.severity.upper()}" if notice.reason == ESCALATED else notice.severity.upper()
    return clean_subject(f"{SUBJECT_PREFIX} {marker}: {notice.title}")


def render_alert(notice: AlertNotice) -> RenderedMail:
    """The e-mail for one alert."""
    context = {"notice": notice, "colours": SEVERITY_COLOURS}
    templates = environment()
    return RenderedMail(
        subject=alert_subject(notice),
        text=templates.get_template("alert.txt.j2").render(context),
        html=templates.get_template("alert.html.j2").render(context),
    )


def digest_subject(notices: Sequence[AlertNotice], as_of: dt.date) -> str:
    """The count, then the first accounts and their reasons (highest severity first)."""
    count = len(notices)
    named = ", ".join(f"{notice.account_name} ({notice.rule_label})" for notice in notices[:MAX_DIGEST_NAMES])
    more = f" and {count - MAX_DIGEST_NAMES} more" if count > MAX_DIGEST_NAMES else ""
    return clean_subject(f"{SUBJECT_PREFIX} {count} alert{'s' if count != 1 else ''} for {as_of}: {named}{more}")


def render_digest(
    notices: Sequence[AlertNotice], as_of: dt.date, trainings: Sequence[TrainingNote] = ()
) -> RenderedMail:
    """One e-mail listing a recipient's alerts of the run, most severe first, then today's training suggestions
    for their accounts (at most MAX_DIGEST_TRAININGS, so the digest stays readable)."""
    if not notices:
        raise ValueError("a digest needs at least one alert")
    order = {"critical": 0, "high": 1, "warning": 2, "info": 3}
    ranked = sorted(notices, key=lambda notice: (order.get(notice.severity, 9), notice.account_name, notice.rule))
    shown = sorted(trainings, key=lambda note: (note.account_name, note.title))[:MAX_DIGEST_TRAININGS]
    context = {
        "notices": ranked,
        "as_of": as_of,
        "colours": SEVERITY_COLOURS,
        "trainings": shown,
        "more_trainings": len(trainings) - len(shown),
    }
    templates = environment()
    return RenderedMail(
        subject=digest_subject(ranked, as_of),
        text=templates.get_template("digest.txt.j2").render(context),
        html=templates.get_template("digest.html.j2").render(context),
    )


@dataclass(frozen=True)
class TrainingInvitation:
    """A training suggestion as the customer's contact reads it: no scores, no risk, just the why and the link."""

    contact_name: str | None
    account_name: str
    title: str
    reason: str
    url: str | None
    format: str | None
    csm: str | None


def render_training(invitation: TrainingInvitation) -> RenderedMail:
    context = asdict(invitation)
    templates = environment()
    return RenderedMail(
        subject=clean_subject(f"Recommended for {invitation.account_name}: {invitation.title}"),
        text=templates.get_template("training.txt.j2").render(context),
        html=templates.get_template("training.html.j2").render(context),
    )
