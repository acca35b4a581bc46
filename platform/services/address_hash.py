"""The keyed hash that stands where an erased address was (actions, sign-ons, unsubscribes): the same
person acting again still counts once and an objection to mail outlives the data, while nobody
without the secret key can test an address against it. A module of its own so that signing, mail
and erasure all use it without importing each other."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def email_hash(email_normalized: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"chorus.supporter:" + email_normalized.encode(), hashlib.sha256).hexdigest()
