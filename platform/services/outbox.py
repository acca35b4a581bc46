"""What the workers' outboxes (letters, supporter mails) share: a connection on which each sent
message's result is committed at once, before the next message goes, so a worker killed mid-batch
repeats at most the message in flight.

The results go on a connection of their own, not through the ORM session, whose every commit would
walk (and expire) all the batch's objects again; and on PostgreSQL they do not wait for the WAL flush
(`synchronous_commit off` on this connection only): a crash of the database server, not of a
worker, may forget the last fraction of a second of "sent" marks, so those messages go out again
(a repeat, never a loss). Supporters' actions are committed by the web processes as before.

On PostgreSQL the connection also autocommits: a result recorded by one statement is one round trip
instead of three (BEGIN, the statement, COMMIT), and `connection.begin()` blocks still read the same
on SQLite, where they make a transaction. The hot marks ("sent") skip SQLAlchemy there too
(`execute_prepared`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
from sqlalchemy import Connection

from chorus.extensions import db


@contextmanager
def results_connection() -> Iterator[Connection]:
    with db.engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET synchronous_commit TO off")
            connection.commit()
            connection.execution_options(isolation_level="AUTOCOMMIT")  # reset when it goes back to the pool
        try:
            yield connection
        finally:
            if postgres and not connection.invalidated:  # back to the pool as it came
                connection.rollback()
                connection.exec_driver_sql("RESET synchronous_commit")
                connection.commit()


def for_psycopg(sql: str) -> str:
    """A statement written with SQLAlchemy's `:name` parameters, in psycopg's `%(name)s` style."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


def execute_prepared(connection: Connection, sql: str, params: dict) -> None:
    """Run one of the outboxes' fixed statements (`for_psycopg`) on the PostgreSQL results connection's
    driver, as a server-side prepared statement, autocommitted: SQLAlchemy's execution path cost
    more than psycopg's own for each message's mark (bench/RESULTS.md)."""
    try:
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute(sql, params, prepare=True)
    except psycopg.OperationalError:
        connection.invalidate()  # as SQLAlchemy does with a connection that broke: the pool replaces it
        raise


class Recorder:
    """Records a sent message's result on a thread of its own while the next message's envelope
    goes out; `wait()` (passed to the transport as `before_accept`) holds the next message back until
    that result is committed, so the server never accepts a message while an earlier one is
    unrecorded: a SIGKILLed worker still repeats at most one, and a PostgreSQL round trip per message
    overlaps two SMTP ones instead of following them. The results connection is used by one thread
    at a time: the caller waits before using it itself."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="chorus-outbox-results")
        self.pending: Future | None = None

    def later(self, record: Callable[[], None]) -> None:
        self.wait()
        self.pending = self.pool.submit(record)

    def wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()  # its error (the database went away) is this batch's

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown()
