"""`/api/v1/accounts`: read routes over accounts (read scope)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from cs_health.accounts import service
from cs_health.accounts.schemas import AccountView
from cs_health.api_types import PathKey
from cs_health.auth.dependencies import ReadKey, SessionDep
from cs_health.exceptions import Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.get("/{account_id}", responses=error_responses(Unauthorized, Forbidden, NotFound))
def get_account(account_id: PathKey, session: SessionDep, _: ReadKey) -> AccountView:
    """One account: its fields, current subscription (ARR, seats, renewal), user count and data freshness."""
    return service.view(session, account_id, today=dt.datetime.now(dt.UTC).date())
