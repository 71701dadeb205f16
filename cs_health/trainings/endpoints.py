"""`/api/v1/trainings` (the catalogue: read scope to read, admin to change; the measured effects) and
`/api/v1/accounts/{account_id}/trainings` (the account's latest suggestions with reasons)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cs_health.api_types import PathKey
from cs_health.auth.dependencies import AdminKey, ReadKey, SessionDep
from cs_health.exceptions import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, error_responses
from cs_health.trainings import service
from cs_health.trainings.schemas import AccountTrainings, TrainingEffects, TrainingFields, TrainingIn, TrainingView

router = APIRouter(prefix="/api/v1", tags=["trainings"])
AUTH = (Unauthorized, Forbidden)
BODY = (BadRequest,)  # a body that is not JSON at all (FastAPI answers 400 before validating it)


@router.get("/accounts/{account_id}/trainings", responses=error_responses(*AUTH, NotFound))
def account_trainings(account_id: PathKey, session: SessionDep, _: ReadKey) -> AccountTrainings:
    """The account's latest training suggestions, each with its reason in plain words and its catalogue entry."""
    return service.account_trainings(session, account_id)


@router.get("/trainings", responses=error_responses(*AUTH))
def list_trainings(session: SessionDep, _: ReadKey) -> list[TrainingView]:
    """The training catalogue."""
    return service.list_trainings(session)


@router.get("/trainings/effects", responses=error_responses(*AUTH))
def training_effects(
    session: SessionDep, _: ReadKey, as_of: Annotated[dt.date | None, Query(description="default: today")] = None
) -> TrainingEffects:
    """Per training: the share of accounts sent it whose taught features' use rose in the 30 days after, against
    similar accounts not sent it; "not enough data" below the minimum counts."""
    return service.training_effects(session, as_of or dt.datetime.now(dt.UTC).date())


@router.get("/trainings/{training_id}", responses=error_responses(*AUTH, NotFound))
def get_training(training_id: PathKey, session: SessionDep, _: ReadKey) -> TrainingView:
    return service.get_training(session, training_id)


@router.post("/trainings", status_code=status.HTTP_201_CREATED, responses=error_responses(*AUTH, *BODY, Conflict))
def create_training(training: TrainingIn, session: SessionDep, _: AdminKey) -> TrainingView:
    """Adds a catalogue entry (admin scope); 409 when the id exists."""
    return service.create_training(session, training)


@router.put("/trainings/{training_id}", responses=error_responses(*AUTH, *BODY, NotFound))
def update_training(training_id: PathKey, fields: TrainingFields, session: SessionDep, _: AdminKey) -> TrainingView:
    """Replaces a catalogue entry's fields (admin scope)."""
    return service.update_training(session, training_id, fields)


@router.delete(
    "/trainings/{training_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTH, NotFound, Conflict),
)
def delete_training(training_id: PathKey, session: SessionDep, _: AdminKey) -> Response:
    """Deletes an entry and its pending suggestions (admin scope); 409 once it was sent to an account."""
    service.delete_training(session, training_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
