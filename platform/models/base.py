"""Column helpers shared by the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer

#: 64-bit ids on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


def as_utc(moment: datetime) -> datetime:
    """`moment` with its zone: SQLite hands back naive datetimes, UTC by construction (every stored time
    is), and a date given without a zone is read as UTC's."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def Timestamp() -> DateTime:  # noqa: N802 - reads like a column type at the call site
    return DateTime(timezone=True)
