"""Members' API keys: made once (only a hash is kept), listed by their first characters, revoked."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from chorus.extensions import db
from chorus.models import ApiKey, Organization
from chorus.models.api import hash_key
from chorus.models.base import utcnow

TOKEN_PREFIX = "chorus_"
PREFIX_LENGTH = 14  # "chorus_" and 7 random characters: enough to tell keys apart in a list
#: last_used_at is written at most this often: a busy key must not update its row per request.
TOUCH_EVERY = timedelta(minutes=1)


def create(org: Organization, name: str = "") -> tuple[ApiKey, str]:
    """A new key for `org`; the token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(org_id=org.id, name=name.strip()[:100], prefix=token[:PREFIX_LENGTH], key_hash=hash_key(token))
    db.session.add(key)
    db.session.commit()
    return key, token


def authenticate(token: str) -> ApiKey | None:
    """The live key with this token, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(token), ApiKey.revoked_at.is_(None)))
    if key is not None:
        now = utcnow()
        if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
            db.session.execute(
                update(ApiKey)
                .where(ApiKey.id == key.id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
    return key


def of(org: Organization) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.org_id == org.id).order_by(ApiKey.created_at.desc())))


def revoke(org: Organization, key_uuid: str) -> bool:
    """Revoke one of `org`'s keys; False if it has no such live key."""
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.org_id == org.id, ApiKey.uuid == key_uuid, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1
