"""The demo's own SQL: is this database a demo one, and wiping it before a fresh demo."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cs_health.db.tables import Account, Base, PipelineRun

DEMO_RUN = "demo"


def account_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def is_demo_database(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(PipelineRun).where(PipelineRun.kind == DEMO_RUN)) > 0


def wipe(session: Session) -> None:
    """Empties every table, children first, in the caller's transaction."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))
