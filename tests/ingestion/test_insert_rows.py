"""SQLite's two ways of inserting a batch (executemany in a thread alone in its process, one JSON statement
elsewhere) store the same values and count only the rows that were new."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from cs_health.db.engine import Database
from cs_health.ingestion import repository
from cs_health.ingestion.columns import object_array

ROWS: list[tuple[Any, ...]] = [
    ("acc-1", 2**62 + 7, 1.5, "Zoë 🚀 \"quoted\" 'single'"),
    ("acc-2", -(2**63), 0.0, None),
    ("acc-1", 2**62 + 7, 9.9, "a replay: ignored"),
    ("acc-3", 0, 1e300, '{"nested": [1, 2]}'),
]


def columns(rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    names = ("account_id", "key", "quantity", "note")
    return {name: object_array([row[position] for row in rows]) for position, name in enumerate(names)}


def stored_after_inserting_twice(database: Database) -> tuple[list[int], list[tuple[Any, ...]]]:
    with database.transaction() as session:
        session.execute(
            text(
                "CREATE TEMP TABLE t (account_id TEXT, key INTEGER, quantity REAL, note TEXT, at TEXT, "
                "PRIMARY KEY (account_id, key))"
            )
        )
        counts = [
            repository._insert_rows(session, "t", columns(ROWS), constants={"at": "'2026-12-06'"}),
            repository._insert_rows(session, "t", columns(ROWS[1:]), constants={"at": "'later'"}),
        ]
        stored = session.execute(text("SELECT * FROM t ORDER BY account_id")).all()
        session.execute(text("DROP TABLE t"))  # the pooled connection is used again
    return counts, [tuple(row) for row in stored]


def test_executemany_alone_and_json_beside_other_threads_store_the_same(database: Database, dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("the SQLite insert (PostgreSQL copies into a stage)")
    with repository.alone_in_process():
        alone = stored_after_inserting_twice(database)
    beside = stored_after_inserting_twice(database)
    assert alone == beside
    counts, stored = alone
    assert counts == [3, 0]
    assert stored == [
        ("acc-1", 2**62 + 7, 1.5, "Zoë 🚀 \"quoted\" 'single'", "2026-12-06"),
        ("acc-2", -(2**63), 0.0, None, "2026-12-06"),
        ("acc-3", 0, 1e300, '{"nested": [1, 2]}', "2026-12-06"),
    ]
