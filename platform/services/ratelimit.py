"""Fixed-window rate limits in Redis (CHORUS_RATE_LIMITS=off turns them off for load tests)."""

from __future__ import annotations

from flask import current_app

from chorus.extensions import redis_store


def _key(bucket: str) -> str:
    return f"chorus:rate:{bucket}"


def hit(bucket: str, window_seconds: int) -> int:
    """Count one hit in `bucket`'s current window and return the count so far."""
    pipe = redis_store.client.pipeline(transaction=False)
    pipe.set(_key(bucket), 0, ex=window_seconds, nx=True)  # starts the window (EXPIRE NX needs Redis 7)
    pipe.incr(_key(bucket))
    return pipe.execute()[1]


def count(bucket: str) -> int:
    if not current_app.config["CHORUS_RATE_LIMITS"]:
        return 0
    return int(redis_store.client.get(_key(bucket)) or 0)


def reset(bucket: str) -> None:
    redis_store.client.delete(_key(bucket))


def allow(bucket: str, limit: int, window_seconds: int) -> bool:
    """Count one hit in `bucket`; False once more than `limit` hits fell in the current window."""
    if not current_app.config["CHORUS_RATE_LIMITS"]:
        return True
    return hit(bucket, window_seconds) <= limit


def retry_after(bucket: str) -> int:
    """Seconds until `bucket`'s window ends (for a Retry-After header)."""
    return max(1, int(redis_store.client.ttl(_key(bucket))))
