"""A token bucket per API key for the ingestion routes (`POST /api/v1/events` and the Segment `/v1/*` calls).

Each request takes one token; a key's bucket holds up to `burst` tokens and refills at `rate` tokens per second,
so a sender may post `burst` requests at once and `rate` requests per second after that. A request with an empty
bucket is answered 429 with `Retry-After` (whole seconds until a token is back) before its body is read.

The buckets live in this process's memory: each server process (uvicorn worker) limits on its own, and a restart
starts every key with a full bucket. That keeps the hot path free of database writes; a limit shared across
processes would need a shared store.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cs_health.exceptions import RateLimited


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by key id, safe to share between the threads of the request pool."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def wait_seconds(self, key: str, rate: float, burst: int) -> float:
        """Takes one token from `key`'s bucket and returns 0, or, when it is empty, takes nothing and returns the
        seconds until a token is back. A `rate` of 0 disables the limit."""
        if rate <= 0:
            return 0.0
        capacity = float(max(burst, 1))
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=capacity, updated=now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate

    def take(self, key: str, rate: float, burst: int) -> None:
        """Takes one token, or raises RateLimited with the whole seconds to wait (at least 1)."""
        wait = self.wait_seconds(key, rate, burst)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(
                f"too many requests for this API key: at most {rate:g} per second (bursts of {burst}); "
                f"retry in {seconds} s",
                retry_after=seconds,
            )


INGESTION = RateLimiter()
