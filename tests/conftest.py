"""Fixtures on real parts: SQLite + embedded Redis always; PostgreSQL + the real Redis when they
answer (CI sets CHORUS_TEST_REQUIRE_ALL=1 so a missing one fails instead of skipping); a real
aiosmtpd SMTP server on 127.0.0.1 for mail."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from flask.globals import _cv_app
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from chorus.app import create_app
from chorus.extensions import db, embedded_redis_url
from chorus.services import dashboard

PG_ADMIN_URL = os.environ.get("CHORUS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_DATABASE = f"chorus_test_{os.getpid()}"  # one per run: two runs on one server don't collide
REAL_REDIS_URL = os.environ.get("CHORUS_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE_ALL = os.environ.get("CHORUS_TEST_REQUIRE_ALL") == "1"


def _reachable(check) -> str | None:
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means "not available here"
        return str(error).splitlines()[0]
    return None


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": url, "CHORUS_INSTANCE": str(instance), "SECRET_KEY": "test"})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@dataclass
class Backend:
    name: str
    redis_url: str
    database_url: str = ""
    template: Path | None = None

    def database_for(self, tmp_path: Path) -> str:
        if self.template is not None:  # SQLite: a fresh copy of the migrated file per test
            target = tmp_path / "chorus.db"
            shutil.copy(self.template, target)
            return f"sqlite:///{target}"
        return self.database_url

    def reset(self) -> None:
        Redis.from_url(self.redis_url).flushdb()
        if self.template is None:
            engine = create_engine(self.database_url)
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)  # every table the models define
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        template = base / "template.db"
        _migrate(f"sqlite:///{template}", base / "instance")
        yield Backend("sqlite", embedded_redis_url(str(base)), template=template)
        return

    problem = _reachable(lambda: psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()) or _reachable(
        lambda: Redis.from_url(REAL_REDIS_URL, socket_connect_timeout=3).ping()
    )
    if problem:
        if REQUIRE_ALL:
            pytest.fail(f"PostgreSQL/Redis required (CHORUS_TEST_REQUIRE_ALL=1) but unreachable: {problem}")
        pytest.skip(f"PostgreSQL or Redis not reachable: {problem}")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{PG_DATABASE}"
    _migrate(url, base / "instance")
    yield Backend("postgresql", REAL_REDIS_URL, database_url=url)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


@dataclass
class Mailbox:
    """Messages the SMTP server accepted, and a count of SMTP sessions (to see batching)."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: address -> SMTP answers to give its next RCPT TOs ("451 ...", "550 ..."), then "250 OK"
    answers: dict[str, list[str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before accepting each message (a slow server)
    #: Offer PIPELINING (RFC 2920), as Postfix, Exim and the big relays do; False: a server that does not.
    pipelining: bool = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        scripted = self.answers.get(address.lower())
        if scripted:
            return scripted.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.sessions.add(id(session))
            self.raw.append(envelope.content)
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.raw.clear()
            self.answers.clear()
            self.delay = 0.0
            self.pipelining = True
            self.sessions.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    _controller, box = smtp_server
    box.clear()
    return box


@pytest.fixture
def app_env(backend, tmp_path, smtp_server) -> dict[str, str]:
    """The environment a Chorus process gets in this test (also used for CLI runs)."""
    backend.reset()
    controller, _box = smtp_server
    return {
        "DATABASE_URL": backend.database_for(tmp_path),
        "REDIS_URL": backend.redis_url,
        "MAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "CHORUS_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        "CHORUS_BASE_URL": "http://chorus.test",
        "CHORUS_RATE_LIMITS": "on",
        # A busy test machine must not hold back the mail a test waits for (tests/test_pacing.py does).
        "CHORUS_MAIL_SURGE_WAIT": "0",
    }


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (its own `g` and database session), as in production,
    although the test itself holds an app context to use the database between requests."""

    def open(self, *args, **kwargs):
        outer = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(outer)


@pytest.fixture
def app(app_env, monkeypatch):
    # Only tests that mean to keep a dashboard's figures do: a first count slowed by a busy machine
    # must not freeze the figures another test expects to see move.
    monkeypatch.setattr(dashboard, "SLOW_STATS_SECONDS", 60)
    app = create_app(app_env)
    app.config["TESTING"] = True
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
        redis = app.extensions.get("chorus.redis")
        if redis is not None:
            redis.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cheap_hashing(monkeypatch):
    """Argon2id with the smallest cost: tests that sign many staff in spend their time on the feature
    under test, not on key stretching (the cost parameters travel inside each hash)."""
    from argon2 import PasswordHasher

    from chorus.services import accounts

    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def browser():
    """Chromium, or a clear message: a skip on a developer's machine, a failure in CI."""
    if not os.path.exists(CHROMIUM):
        message = f"browser tests need Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)"
        if REQUIRE_ALL:
            pytest.fail(message + " (CHORUS_TEST_REQUIRE_ALL=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    return browser.new_page()
