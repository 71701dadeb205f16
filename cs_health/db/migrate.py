"""Creates or upgrades the schema with Alembic, so `cs-health init` and the tests share one path."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from alembic import command
from cs_health.exceptions import DatabaseNotReady

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(engine: Engine) -> Config:
    if not MIGRATIONS_DIR.is_dir():
        raise DatabaseNotReady(
            f"migrations folder not found at {MIGRATIONS_DIR}; install cs-health from its source tree"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Brings the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except CommandError as error:
        raise DatabaseNotReady(f"cannot upgrade the database schema (at {before}): {error}") from error
    return before, current_revision(engine)


def ensure_ready(engine: Engine) -> None:
    """Refuses to work on a database that `cs-health init` has not brought up to date."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        state = "has no schema" if current is None else f"is at revision {current}, not {head}"
        raise DatabaseNotReady(f"the database {state}: run `cs-health init` first")
