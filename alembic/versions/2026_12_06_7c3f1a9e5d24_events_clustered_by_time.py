"""events clustered by time: usage_event keyed by (timestamp, event_key), no surrogate id

Revision ID: 7c3f1a9e5d24
Revises: f0520cd02ed7
Create Date: 2026-12-06 11:10:00

The unique hash key alone put every new event on a random page of its index; keyed by time first, inserts land
where recent time is. SQLite rebuilds the table (WITHOUT ROWID, rows copied in key order); PostgreSQL swaps the
constraints in place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c3f1a9e5d24"
down_revision: str | None = "f0520cd02ed7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "timestamp, event_key, message_id, account_id, user_id, event, quantity, properties, received_at"


def _columns() -> list[sa.Column]:
    return [
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column(
            "properties", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_usage_event_event_key", "usage_event", type_="unique")
        op.drop_constraint("pk_usage_event", "usage_event", type_="primary")
        op.drop_column("usage_event", "id")
        op.create_primary_key("pk_usage_event", "usage_event", ["timestamp", "event_key"])
        return
    op.rename_table("usage_event", "usage_event_by_id")
    op.create_table(
        "usage_event",
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("event_key", sa.BigInteger(), autoincrement=False, nullable=False),
        *_columns(),
        sa.PrimaryKeyConstraint("timestamp", "event_key", name=op.f("pk_usage_event")),
        sqlite_with_rowid=False,
    )
    op.execute(
        f"INSERT INTO usage_event ({_COLUMNS}) SELECT {_COLUMNS} FROM usage_event_by_id ORDER BY timestamp, event_key"
    )
    op.drop_table("usage_event_by_id")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_usage_event", "usage_event", type_="primary")
        op.add_column("usage_event", sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False))
        op.create_primary_key("pk_usage_event", "usage_event", ["id"])
        op.create_unique_constraint("uq_usage_event_event_key", "usage_event", ["event_key"])
        return
    op.rename_table("usage_event", "usage_event_by_time")
    op.create_table(
        "usage_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        *_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_event")),
        sa.UniqueConstraint("event_key", name=op.f("uq_usage_event_event_key")),
    )
    op.execute(
        f"INSERT OR IGNORE INTO usage_event ({_COLUMNS}) SELECT {_COLUMNS} FROM usage_event_by_time"
        " ORDER BY received_at"
    )
    op.drop_table("usage_event_by_time")
