"""Fixed-window rate limits in Redis (CHORUS_RATE_LIMITS=off turns them off for load tests)."""

from __future__ import annotations

from flask import current_app

from chorus.extensions import redis_store


def allow(bucket: str, limit: int, window_seconds: int) -> bool:
    """Count one hit in `bucket`; False once more than `limit` hits fell in the current window."""
    if not current_app.config["CHORUS_RATE_LIMITS"]:
        return True
    key = f"chorus:rate:{bucket}"
    pipe = redis_store.client.pipeline(transaction=False)
    pipe.set(key, 0, ex=window_seconds, nx=True)  # starts the window (EXPIRE NX needs Redis 7)
    pipe.incr(key)
    _, hits = pipe.execute()
    return hits <= limit
