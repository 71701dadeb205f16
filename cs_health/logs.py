"""Logging hygiene that the service installs itself, so it holds however the app is served.

uvicorn's access log writes each request's path with its query string, and query strings here carry personal
data: `/portfolio?csm=<e-mail>&q=<a name>`, `/api/v1/alerts?csm=<e-mail>`. The filter keeps the parameter names
(what was asked) and drops their values (about whom)."""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
HIDDEN = "***"
PATH_ARG = 2  # uvicorn's access record: (client, method, path with query, HTTP version, status)


def without_query_values(path: str) -> str:
    """`/portfolio?csm=a%40b.c&page=2` -> `/portfolio?csm=***&page=***`."""
    base, separator, query = path.partition("?")
    if not separator:
        return path
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return f"{base}?{'&'.join(f'{name}={HIDDEN}' for name in names)}"


class QueryValuesHidden(logging.Filter):
    """Rewrites the path argument of uvicorn's access records; other records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > PATH_ARG and isinstance(args[PATH_ARG], str):
            record.args = (*args[:PATH_ARG], without_query_values(args[PATH_ARG]), *args[PATH_ARG + 1 :])
        return True


def install_log_filters() -> None:
    """Idempotent: called by create_app(), which may run more than once in a process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, QueryValuesHidden) for existing in logger.filters):
        logger.addFilter(QueryValuesHidden())
