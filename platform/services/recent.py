"""A process's recent copies of what public requests look up on every hit (a member, a campaign, a
campaign's tally metadata): kept a second or two per app, so a crowd costs no query each time and an
edit on another node still shows within that. "Not found" is never kept: a campaign published a
moment later must be found at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Entries one cache holds before it starts again (slugs typed at random must not fill memory).
MAX_ENTRIES = 10_000


def fresh(cache: dict, key, ttl: float, load: Callable[[], T | None]) -> T | None:
    """`load()`'s value as of at most `ttl` seconds ago, kept in `cache` (a dict owned by the app)."""
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = load()
    if found is None:
        cache.pop(key, None)
        return None
    if len(cache) > MAX_ENTRIES:
        cache.clear()
    cache[key] = (now + ttl, found)
    return found
