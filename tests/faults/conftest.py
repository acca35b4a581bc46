"""Fault tests on PostgreSQL and Redis. They stop and cut only servers they start themselves: a
redis-server on a free port, and a TCP proxy in front of the shared PostgreSQL that a test can close
(connections refused) and open again. The shared servers are never touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis

from tests.conftest import _free_port

#: Every test here runs on PostgreSQL only (the `backend` fixture's other half is SQLite).
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


class RedisServer:
    """A redis-server of the test's own, without persistence: stopping it loses everything, as a
    restart of an unpersisted Redis does."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: Redis.from_url(self.url, socket_connect_timeout=0.2).ping(), "redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `close()` drops every connection and refuses new ones
    (as a PostgreSQL that is restarting does), `open()` accepts again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = _free_port()
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            with _quiet():
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): the port refuses at once
            listener.close()
        with self.lock:
            for conn in self.connections:
                with _quiet():
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with _quiet():
            while data := source.recv(65536):
                sink.sendall(data)
        with _quiet():
            sink.shutdown(socket.SHUT_RDWR)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)


def wait_for(check: Callable[[], object], what: str, timeout: float = 30.0) -> object:
    """Poll `check` until it returns something true without raising; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # noqa: BLE001 - not yet
            last, result = error, None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_proxy(backend):
    parts = urlsplit(backend.database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.open()
    yield proxy
    proxy.close()


@pytest.fixture
def app_env(app_env, redis_server, pg_proxy, backend) -> dict[str, str]:
    """The usual environment, with the test's own Redis, PostgreSQL reached through the proxy, and
    short periods, leases and backoffs (settings, so nothing is patched)."""
    parts = urlsplit(backend.database_url)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return {
        **app_env,
        "DATABASE_URL": urlunsplit(parts._replace(netloc=f"{host}:{pg_proxy.port}")),
        "REDIS_URL": redis_server.url,
        "CHORUS_TICK": "1",
        "CHORUS_EVERY_SUPPORTER_MAIL": "1",
        "CHORUS_EVERY_TALLY": "1",
        "CHORUS_MAIL_LEASE": "3",
        "CHORUS_MAIL_BACKOFF": "1",
        "CHORUS_TALLY_SETTLE": "5",
        "CHORUS_RATE_LIMITS": "off",
    }


class Worker:
    """A `chorus worker` process, killed (never left behind) at the end of the test."""

    def __init__(self, env: dict[str, str]):
        script = os.path.join(os.path.dirname(sys.executable), "chorus")
        self.process = subprocess.Popen(
            [script, "worker"], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def workers():
    started: list[Worker] = []

    def start(env: dict[str, str]) -> Worker:
        started.append(Worker(env))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()
