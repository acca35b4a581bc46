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
on SQLite, where they make a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
