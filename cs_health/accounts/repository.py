"""Every SQL statement about accounts and their contacts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cs_health.db.frames import read_frame
from cs_health.db.tables import Account, Contact, Subscription

_CHUNK = 10_000


def get(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


def current_subscription(session: Session, account_id: str, today: dt.date) -> Subscription | None:
    """The latest-starting term that covers `today`."""
    return session.scalar(
        select(Subscription)
        .where(Subscription.account_id == account_id)
        .where(Subscription.start_date <= today, Subscription.end_date >= today)
        .order_by(Subscription.start_date.desc(), Subscription.end_date.desc())
        .limit(1)
    )


def count_contacts(session: Session, account_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Contact).where(Contact.account_id == account_id)) or 0


def existing_account_ids(session: Session, account_ids: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(account_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(session.scalars(select(Account.account_id).where(Account.account_id.in_(chunk))))
    return found


def contact_accounts(session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    """user_id -> account_id of the known contacts among `user_ids`."""
    wanted = list(dict.fromkeys(user_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = session.execute(select(Contact.user_id, Contact.account_id).where(Contact.user_id.in_(chunk)))
        found.update({user_id: account_id for user_id, account_id in rows})
    return found


def accounts_frame(session: Session) -> pd.DataFrame:
    """Every account's segment, plan, creation time and tags, in one query (the analytics' `accounts` frame)."""
    frame = read_frame(
        session,
        select(Account.account_id, Account.segment, Account.plan, Account.created_at, Account.tags),
        datetimes=["created_at"],
    )
    frame["tags"] = frame["tags"].map(lambda tags: json.loads(tags) if isinstance(tags, str) else tags)
    return frame


def subscriptions_frame(session: Session) -> pd.DataFrame:
    """Every subscription term in one query (the analytics' `subscriptions` frame)."""
    statement = select(
        Subscription.account_id,
        Subscription.start_date,
        Subscription.end_date,
        Subscription.mrr,
        Subscription.arr,
        Subscription.seats,
        Subscription.plan,
        Subscription.status,
    )
    return read_frame(session, statement, datetimes=["start_date", "end_date"])
