"""Concurrent posters against a real uvicorn server lose nothing and count nothing twice."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import DailyUsage, UsageEvent

POSTERS, BATCHES, SIZE = 6, 5, 200
TIME = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None) - dt.timedelta(hours=2)


def batch(poster: int, number: int) -> list[dict[str, object]]:
    return [
        {
            "account_id": f"acc-{n % 7}",
            "event": "login" if n % 2 else "search",
            "timestamp": (TIME + dt.timedelta(seconds=n)).isoformat(),
            "user_id": f"u-{n % 11}",
            "message_id": f"p{poster}-b{number}-{n}",
        }
        for n in range(SIZE)
    ]


def test_concurrent_posters_lose_nothing(server: str, ingest_key: str, database: Database) -> None:
    def post_all(poster: int) -> tuple[int, int]:
        accepted = duplicates = 0
        with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ingest_key}"}, timeout=None) as client:
            for number in range(BATCHES):
                body = batch(poster, number)
                if number == BATCHES - 1:
                    body += batch(poster, 0)[:10]  # a replay inside the last batch
                response = client.post("/api/v1/events", json=body)
                response.raise_for_status()
                accepted += response.json()["accepted"]
                duplicates += response.json()["duplicates"]
        return accepted, duplicates

    with ThreadPoolExecutor(POSTERS) as pool:
        results = list(pool.map(post_all, range(POSTERS)))
    sent = POSTERS * BATCHES * SIZE
    assert sum(accepted for accepted, _ in results) == sent
    assert sum(duplicates for _, duplicates in results) == POSTERS * 10
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == sent
        assert session.scalar(select(func.sum(DailyUsage.events))) == sent
