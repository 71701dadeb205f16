"""The web application: `create_app()` builds the REST API and the pages; the scheduler never runs in here."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from cs_health import __version__
from cs_health.config import get_settings
from cs_health.db.engine import database_for
from cs_health.exceptions import CSHealthError
from cs_health.status.service import status
from cs_health.web.templates import render


def error_body(error: CSHealthError) -> dict[str, object]:
    """The one JSON shape of every error the service answers with."""
    return {"error": {"type": type(error).__name__, "message": error.message, "details": error.details}}


def create_app() -> FastAPI:
    app = FastAPI(title="cs-health", version=__version__, description="Customer-success health monitoring.")

    @app.exception_handler(CSHealthError)
    async def domain_error(_request: Request, error: CSHealthError) -> JSONResponse:
        return JSONResponse(error_body(error), status_code=error.status_code)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        import datetime as dt

        database = database_for(get_settings().DATABASE_URL)
        with database.transaction() as session:
            report = status(session, dt.datetime.now(dt.UTC))
        return HTMLResponse(render("home.html", report=report, version=__version__))

    return app
