"""Column helpers shared by the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.types import TypeDecorator

#: 64-bit ids on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


def as_utc(moment: datetime) -> datetime:
    """`moment` with its zone: a date given without one (typed by a client, or read back by SQL that
    bypasses the column types) is read as UTC's."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Timestamp(TypeDecorator):
    """A moment with its zone, on both databases: SQLite keeps no zone and hands back naive datetimes
    (UTC by construction: every stored time is), which this reads as UTC; PostgreSQL's come back aware
    and pay nothing extra. So code compares what it loads with utcnow() without asking where from."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect, coltype):
        parse = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return parse

        def aware(value):
            value = parse(value) if parse else value
            return None if value is None else as_utc(value)

        return aware
