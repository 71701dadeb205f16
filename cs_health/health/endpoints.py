"""`/api/v1/accounts/{account_id}/health...`: the score and its why, the history, and CSM overrides."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from cs_health.accounts import repository as accounts
from cs_health.api_types import PathKey
from cs_health.audit.schemas import Actor
from cs_health.auth.dependencies import AdminKey, ReadKey, SessionDep
from cs_health.exceptions import BadRequest, Forbidden, InvalidInput, NotFound, Unauthorized, error_responses
from cs_health.health import service
from cs_health.health.schemas import HealthHistory, HealthView, OverrideIn, OverrideView

router = APIRouter(prefix="/api/v1/accounts", tags=["health"])
READ_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _require_account(session: SessionDep, account_id: str) -> None:
    if accounts.get(session, account_id) is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)


@router.get("/{account_id}/health", responses=READ_ERRORS)
def get_health(account_id: PathKey, session: SessionDep, _: ReadKey) -> HealthView:
    """The newest health score with the why in plain words, what changed, the path to green and any override."""
    _require_account(session, account_id)
    view = service.health_view(session, account_id, _today())
    if view is None:
        raise NotFound(f"account {account_id!r} has no health score yet: run `cs-health run`", account_id=account_id)
    return view


@router.get("/{account_id}/health/history", responses=READ_ERRORS)
def get_health_history(
    account_id: PathKey,
    session: SessionDep,
    _: ReadKey,
    since: Annotated[dt.date | None, Query(description="first as-of date to include")] = None,
) -> HealthHistory:
    """One point per scored date, oldest first."""
    _require_account(session, account_id)
    return service.health_history(session, account_id, since)


@router.post(
    "/{account_id}/health/override",
    status_code=201,
    responses=error_responses(Unauthorized, Forbidden, NotFound, BadRequest, InvalidInput),
)
def post_override(account_id: PathKey, override: OverrideIn, session: SessionDep, key: AdminKey) -> OverrideView:
    """A CSM's band, with a reason and an expiry date; the model's score is kept and shown beside it."""
    _require_account(session, account_id)
    return service.set_override(session, account_id, override, Actor.api_key(key), dt.datetime.now(dt.UTC))
