"""Domain errors that carry their HTTP status, so one handler renders them all and the CLI prints them plainly."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class CSHealthError(Exception):
    """Base of every error the service raises on purpose."""

    status_code: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    response_headers: ClassVar[dict[str, dict[str, Any]]] = {}  # headers the response carries, for OpenAPI

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @classmethod
    def responses(cls) -> dict[int | str, dict[str, Any]]:
        """The OpenAPI `responses` entry for routes that may raise this error."""
        return {cls.status_code: {"description": cls.title}}


class BadRequest(CSHealthError):
    status_code = 400
    title = "Bad request"


class InvalidInput(CSHealthError):
    """Input that parsed but breaks the data contract (a file, a record, a field)."""

    status_code = 422
    title = "Invalid input"


class NotFound(CSHealthError):
    status_code = 404
    title = "Not found"


class Conflict(CSHealthError):
    status_code = 409
    title = "Conflict"


class ServiceUnavailable(CSHealthError):
    """Something the request needs is missing from this installation (a system library, a service)."""

    status_code = 503
    title = "Service unavailable"


class DatabaseNotReady(CSHealthError):
    """The database exists but has not been created or upgraded by `cs-health init`."""

    status_code = 503
    title = "Database not initialised"


class Unauthorized(CSHealthError):
    """No credentials, or credentials that do not name a live API key (unknown, revoked or expired)."""

    status_code = 401
    title = "Missing or invalid API key"

    def __init__(self, message: str, *, scheme: str = "Bearer", **details: Any) -> None:
        super().__init__(message, **details)
        self.headers = {"WWW-Authenticate": f'{scheme} realm="cs-health"'}


class Forbidden(CSHealthError):
    """A valid key that lacks the scope the route needs."""

    status_code = 403
    title = "API key lacks the required scope"


class PayloadTooLarge(CSHealthError):
    status_code = 413
    title = "Payload too large"


class RateLimited(CSHealthError):
    """An API key over its request rate; `Retry-After` says in how many seconds to try again."""

    status_code = 429
    title = "Too many requests"
    response_headers: ClassVar[dict[str, dict[str, Any]]] = {
        "Retry-After": {"description": "seconds until the key may send again", "schema": {"type": "integer"}}
    }

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.headers = {"Retry-After": str(retry_after)}


class ErrorDetail(BaseModel):
    type: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    """The one JSON shape of every error response: `{"error": {"type", "message", "details"}}`."""

    error: ErrorDetail


def error_responses(*errors: type[CSHealthError]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that may raise each of `errors`, all in the one error shape."""
    merged: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = merged.setdefault(error.status_code, {"description": error.title, "model": ErrorResponse})
        if error.title not in entry["description"]:
            entry["description"] += f"; {error.title}"
        if error.response_headers:
            entry.setdefault("headers", {}).update(error.response_headers)
    return merged
