"""The trainings stage of the nightly run, the account's suggestions, the measured effect, and the catalogue.

The rules live in alerts.trainings; this module loads their inputs set-based (one read per table), calls them
once for every account and stores one row per (account, as_of, training); re-running a date replaces it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from alerts.email import TrainingInvitation, render_training
from alerts.trainings import (
    ACTIVE_USERS,
    BAND,
    TENURE_DAYS,
    Suggestion,
    TrainingConfig,
    suggest_trainings,
)
from alerts.trainings import training_effects as measure_effects
from cs_health.accounts.repository import accounts_frame, subscriptions_frame
from cs_health.db.frames import PendingFrame
from cs_health.db.tables import Training
from cs_health.exceptions import Conflict, NotFound
from cs_health.renewals.service import queue_mail
from cs_health.trainings import repository
from cs_health.trainings.schemas import (
    AccountTrainings,
    SuggestionView,
    TrainingEffects,
    TrainingEffectView,
    TrainingFields,
    TrainingIn,
    TrainingView,
)
from models.features import SEATS, compute_features
from models.frames import DAILY_USAGE, USER_ACTIVITY, PortfolioData

ANONYMOUS = ""


@dataclass
class TrainingRunSummary:
    as_of: dt.date
    computed_at: dt.datetime
    accounts: int = 0
    accounts_suggested: int = 0
    suggestions: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    trainings: dict[str, int] = field(default_factory=dict)


def _catalogue_frame(entries: Sequence[Training]) -> pd.DataFrame:
    return pd.DataFrame(
        [(t.training_id, t.title, list(t.features or []), t.url, t.level, t.format) for t in entries],
        columns=["training_id", "title", "features", "url", "level", "format"],
    )


def start_usage(session: Session, as_of: dt.date, config: TrainingConfig | None = None) -> PendingFrame:
    """Begins the stage's one large read (each user's use of each feature over the usage window): started
    before a run writes anything, it runs column-wise in a reader process while the earlier stages work, where
    a session that has written must group it in SQLite (tens of seconds on 10,000 accounts)."""
    since = as_of - dt.timedelta(days=(config or TrainingConfig()).usage_days)
    return repository.start_user_feature_usage(session, since, as_of)


def run_trainings(
    session: Session,
    as_of: dt.date,
    computed_at: dt.datetime,
    *,
    key_features: Mapping[str, Sequence[str]] | None = None,
    config: TrainingConfig | None = None,
    usage: PendingFrame | None = None,
) -> TrainingRunSummary:
    """Suggests trainings to every active account as of `as_of` and stores them (replacing that date's pending
    ones). Run after the health stage: plans without declared key features use the green accounts' top features.
    `usage`: the read start_usage began with the same `config` (the nightly run starts it before it writes)."""
    config = config or TrainingConfig()
    summary = TrainingRunSummary(as_of=as_of, computed_at=computed_at)
    entries = repository.catalogue(session)
    per_user = (usage or start_usage(session, as_of, config))()
    context = compute_features(
        PortfolioData(
            daily_usage=DAILY_USAGE.empty(),
            user_activity=USER_ACTIVITY.empty(),
            accounts=accounts_frame(session),
            subscriptions=subscriptions_frame(session),
        ),
        as_of,
    )  # only segment, plan, seats and tenure are read: the usage frames are empty on purpose
    usage, active = _usage_and_active(per_user)
    accounts = context[["segment", "plan", SEATS, TENURE_DAYS]].copy()
    accounts[ACTIVE_USERS] = active.reindex(accounts.index).fillna(0)
    accounts[BAND] = repository.bands(session, as_of).reindex(accounts.index)
    summary.accounts = len(accounts)
    history_days = max(config.repeat_window_days, config.sent_window_days, config.new_account_days)
    history = repository.history(session, as_of - dt.timedelta(days=history_days), as_of)
    suggestions = suggest_trainings(
        usage,
        accounts.rename_axis("account_id").reset_index(),
        _catalogue_frame(entries),
        history,
        as_of,
        key_features or None,
        config,
    )
    repository.replace_suggestions(session, as_of, [_row(item, as_of) for item in suggestions])
    summary.suggestions = len(suggestions)
    summary.accounts_suggested = len({item.account_id for item in suggestions})
    summary.kinds = dict(Counter(kind for item in suggestions for kind in item.kinds))
    summary.trainings = dict(Counter(item.training_id for item in suggestions))
    return summary


def _usage_and_active(per_user: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Per account and feature: events and distinct identified users; per account: distinct identified users."""
    if per_user.empty:
        return pd.DataFrame(columns=["account_id", "event", "events", "users"]), pd.Series(dtype="float64")
    per_user = per_user.assign(identified=per_user["user_id"].ne(ANONYMOUS), events=per_user["events"].astype(float))
    usage = (
        per_user.groupby(["account_id", "event"])
        .agg(events=("events", "sum"), users=("identified", "sum"))
        .reset_index()
    )
    active = per_user[per_user["identified"]].groupby("account_id")["user_id"].nunique().astype("float64")
    # The ids may arrive as categoricals (a columnar read); the few aggregated rows go on as plain text.
    return usage.astype({"account_id": "str", "event": "str"}), active.set_axis(active.index.astype("str"))


def _row(item: Suggestion, as_of: dt.date) -> dict[str, object]:
    return {
        "account_id": item.account_id,
        "as_of": as_of,
        "training_id": item.training_id,
        "features": list(item.features),
        "reason": item.reason,
        "status": repository.SUGGESTED,
        "delivered_at": None,
    }


def account_trainings(session: Session, account_id: str) -> AccountTrainings:
    """The account's latest suggestions with their reasons and catalogue entries."""
    if not repository.account_exists(session, account_id):
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    pairs = repository.latest_suggestions(session, account_id)
    return AccountTrainings(
        account_id=account_id,
        as_of=pairs[0][0].as_of if pairs else None,
        suggestions=[
            SuggestionView(
                training=TrainingView.model_validate(training),
                features=list(suggestion.features or []),
                reason=suggestion.reason,
                status=suggestion.status,
                delivered_at=suggestion.delivered_at,
            )
            for suggestion, training in pairs
        ],
    )


def mark_delivered(session: Session, account_id: str, training_id: str, at: dt.datetime) -> None:
    """Records that the account was sent the training (its newest suggestion of it); the effect counts from here."""
    suggestion = repository.newest_suggestion(session, account_id, training_id)
    if suggestion is None:
        raise NotFound(
            f"no suggestion of {training_id!r} to {account_id!r}", account_id=account_id, training_id=training_id
        )
    suggestion.status, suggestion.delivered_at = repository.DELIVERED, at.replace(tzinfo=None)
    session.flush()


def training_effects(session: Session, as_of: dt.date, config: TrainingConfig | None = None) -> TrainingEffects:
    """Per training: share of accounts sent it whose taught features' use rose, against similar accounts not sent."""
    config = config or TrainingConfig()
    entries = repository.catalogue(session)
    history = repository.history(session, None, as_of)
    taught = {feature for entry in entries for feature in entry.features or []}
    if history.empty or not taught:
        usage = pd.DataFrame(columns=["account_id", "day", "event", "users"])
    else:
        first = pd.concat([history["as_of"], history["delivered_at"]]).min()
        usage = repository.daily_feature_usage(
            session, first.date() - dt.timedelta(days=config.effect_days), as_of, taught
        )
    accounts = accounts_frame(session)
    effects = measure_effects(history, usage, accounts, _catalogue_frame(entries), as_of, config)
    titles = {entry.training_id: entry.title for entry in entries}
    return TrainingEffects(
        as_of=as_of,
        effects=[
            TrainingEffectView(
                training_id=effect.training_id,
                title=titles[effect.training_id],
                sent=effect.sent,
                sent_rose=effect.sent_rose,
                similar=effect.similar,
                similar_rose=effect.similar_rose,
                sent_share=effect.sent_share,
                similar_share=effect.similar_share,
                difference=effect.difference,
                enough_data=effect.enough_data,
                summary=effect.summary,
            )
            for effect in effects
        ],
    )


# ---------------------------------------------------------------------------------------------- catalogue


def list_trainings(session: Session) -> list[TrainingView]:
    return [TrainingView.model_validate(entry) for entry in repository.catalogue(session)]


def get_training(session: Session, training_id: str) -> TrainingView:
    return TrainingView.model_validate(_existing(session, training_id))


def create_training(session: Session, training: TrainingIn) -> TrainingView:
    if repository.get_training(session, training.training_id) is not None:
        raise Conflict(f"training {training.training_id!r} already exists", training_id=training.training_id)
    entry = Training(**training.model_dump())
    repository.add_training(session, entry)
    return TrainingView.model_validate(entry)


def update_training(session: Session, training_id: str, fields: TrainingFields) -> TrainingView:
    entry = _existing(session, training_id)
    for name, value in fields.model_dump().items():
        setattr(entry, name, value)
    session.flush()
    return TrainingView.model_validate(entry)


def delete_training(session: Session, training_id: str) -> None:
    """Deletes an entry and its pending suggestions; one already sent to accounts stays (its effect is measured)."""
    entry = _existing(session, training_id)
    if sent := repository.delivered_count(session, training_id):
        raise Conflict(
            f"training {training_id!r} was sent to accounts {sent} times; its effect is still measured",
            training_id=training_id,
        )
    repository.delete_training(session, entry)


def _existing(session: Session, training_id: str) -> Training:
    entry = repository.get_training(session, training_id)
    if entry is None:
        raise NotFound(f"no training {training_id!r}", training_id=training_id)
    return entry


def email_contacts(session: Session, as_of: dt.date, *, roles: Sequence[str], now: dt.datetime) -> int:
    """Sends the day's new suggestions to the account's contacts with `roles` (through the outbox) and marks
    them delivered, which is what the effect measurement counts from. Returns how many e-mails were queued."""
    pending = repository.undelivered_suggestions(session, as_of)
    contacts = repository.contacts_with_roles(session, {account.account_id for _, _, account in pending}, roles)
    queued = 0
    for suggestion, training, account in pending:
        recipients = contacts.get(account.account_id, [])
        if not recipients:
            continue
        for contact in recipients:
            invitation = TrainingInvitation(
                contact_name=contact.name,
                account_name=account.name or account.account_id,
                title=training.title,
                reason=suggestion.reason,
                url=training.url,
                format=training.format,
                csm=account.csm_email,
            )
            key = f"{account.account_id}\n{training.training_id}\n{as_of}\n{contact.email}"
            queue_mail(session, "training", str(contact.email), render_training(invitation), now, key)
            queued += 1
        suggestion.status, suggestion.delivered_at = repository.DELIVERED, now.replace(tzinfo=None)
    session.flush()
    return queued
