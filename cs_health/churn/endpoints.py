"""`/api/v1/model`, `/api/v1/portfolio` and `/api/v1/accounts/{account_id}/usage`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from cs_health.accounts import repository as accounts
from cs_health.api_types import PathKey
from cs_health.auth.dependencies import ReadKey, SessionDep
from cs_health.churn import service
from cs_health.churn.schemas import ModelView, PortfolioView, UsageView
from cs_health.exceptions import Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1", tags=["churn"])
READ_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


@router.get("/model", responses=READ_ERRORS)
def get_model(session: SessionDep, _: ReadKey) -> ModelView:
    """The churn model in use and its out-of-time backtest next to the health score and days to renewal."""
    view = service.model_view(session)
    if view is None:
        raise NotFound("no churn model yet: run `cs-health train` (or `cs-health run`, which trains the first)")
    return view


@router.get("/portfolio", responses=error_responses(Unauthorized, Forbidden))
def get_portfolio(
    session: SessionDep,
    _: ReadKey,
    as_of: Annotated[dt.date | None, Query(description="a scored date; default the newest")] = None,
) -> PortfolioView:
    """ARR by health band, ARR at risk in 30/90/180 days, and the forecast GRR of the next quarter."""
    return service.portfolio_view(session, as_of)


@router.get("/accounts/{account_id}/usage", responses=READ_ERRORS)
def get_usage(
    account_id: PathKey,
    session: SessionDep,
    _: ReadKey,
    days: Annotated[int, Query(ge=7, le=730, description="days of history")] = 180,
) -> UsageView:
    """Daily events and active users, per feature totals, and the usage forecast to the renewal date."""
    if accounts.get(session, account_id) is None:
        raise NotFound(f"no account {account_id!r}", account_id=account_id)
    return service.usage_view(session, account_id, days=days, today=dt.datetime.now(dt.UTC).date())
