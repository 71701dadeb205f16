"""The account view: its fields, current subscription, user count and data freshness."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from cs_health.accounts import repository
from cs_health.accounts.schemas import AccountView, Freshness, SubscriptionView
from cs_health.churn.service import churn_view
from cs_health.exceptions import NotFound
from cs_health.health.service import health_view


def view(session: Session, account_id: str, *, today: dt.date) -> AccountView:
    account = repository.get(session, account_id)
    if account is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    term = repository.current_subscription(session, account_id, today)
    return AccountView(
        account_id=account.account_id,
        name=account.name,
        segment=account.segment,
        industry=account.industry,
        csm_email=account.csm_email,
        plan=account.plan,
        tags=account.tags or [],
        created_at=account.created_at,
        source=account.source,
        users=repository.count_contacts(session, account_id),
        subscription=SubscriptionView.model_validate(term, from_attributes=True) if term else None,
        freshness=Freshness(last_event_at=account.last_event_at, last_received_at=account.last_received_at),
        health=health_view(session, account_id, today),
        churn=churn_view(session, account_id),
    )
