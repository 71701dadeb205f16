"""The web application: `create_app()` builds the REST API and the pages; the scheduler never runs in here."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

from cs_health import __version__
from cs_health.accounts.endpoints import router as accounts_router
from cs_health.audit.endpoints import router as audit_router
from cs_health.churn.endpoints import router as churn_router
from cs_health.config import get_settings
from cs_health.dashboard.endpoints import router as dashboard_router
from cs_health.db.engine import database_for
from cs_health.exceptions import CSHealthError
from cs_health.health.endpoints import router as health_router
from cs_health.ingestion.endpoints import router as ingestion_router
from cs_health.ingestion.endpoints import segment_router
from cs_health.logs import install_log_filters
from cs_health.qbr.endpoints import router as reports_router
from cs_health.renewals.endpoints import router as alerts_router
from cs_health.status.service import status
from cs_health.trainings.endpoints import router as trainings_router
from cs_health.web.templates import render

HTTP_ERROR_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
}


def error_body(error: CSHealthError) -> dict[str, object]:
    """The one JSON shape of every error the service answers with."""
    return {"error": {"type": type(error).__name__, "message": error.message, "details": error.details}}


def create_app() -> FastAPI:
    app = FastAPI(title="cs-health", version=__version__, description="Customer-success health monitoring.")
    install_log_filters()

    @app.exception_handler(CSHealthError)
    async def domain_error(_request: Request, error: CSHealthError) -> JSONResponse:
        return JSONResponse(error_body(error), status_code=error.status_code, headers=getattr(error, "headers", None))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        """Framework errors (unknown route, wrong method, unreadable credentials) in the same shape."""
        kind = HTTP_ERROR_TYPES.get(error.status_code, "HTTPError")
        body = {"error": {"type": kind, "message": str(error.detail), "details": {}}}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def malformed_payload(_request: Request, error: RequestValidationError) -> JSONResponse:
        """A payload that does not match its schema: 422 in the one shape, naming each field and reason."""
        problems = [
            {"field": ".".join(str(part) for part in item["loc"] if part != "body"), "reason": item["msg"]}
            for item in error.errors()
        ]
        message = "; ".join(f"{problem['field']}: {problem['reason']}" for problem in problems)
        body = {"error": {"type": "InvalidInput", "message": message, "details": {"problems": problems}}}
        return JSONResponse(body, status_code=422)

    app.include_router(ingestion_router)
    app.include_router(accounts_router)
    app.include_router(health_router)
    app.include_router(trainings_router)
    app.include_router(alerts_router)
    app.include_router(churn_router)
    app.include_router(reports_router)
    app.include_router(audit_router)
    app.include_router(dashboard_router)
    app.include_router(segment_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        """The dashboard is the front door (it asks for a login first)."""
        return RedirectResponse("/portfolio", status_code=303)

    @app.get("/about", response_class=HTMLResponse, include_in_schema=False)
    def about() -> HTMLResponse:
        """What is loaded and how fresh it is, without logging in (counts only, no customer data)."""
        import datetime as dt

        database = database_for(get_settings().DATABASE_URL)
        with database.transaction() as session:
            report = status(session, dt.datetime.now(dt.UTC))
        return HTMLResponse(render("home.html", report=report, version=__version__))

    return app
