"""Domain errors that carry their HTTP status, so one handler renders them all and the CLI prints them plainly."""

from __future__ import annotations

from typing import Any, ClassVar


class CSHealthError(Exception):
    """Base of every error the service raises on purpose."""

    status_code: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

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


class DatabaseNotReady(CSHealthError):
    """The database exists but has not been created or upgraded by `cs-health init`."""

    status_code = 503
    title = "Database not initialised"


class AwaitsCapability(CSHealthError):
    """A contract command whose capability a later issue builds."""

    status_code = 501
    title = "Not available yet"
