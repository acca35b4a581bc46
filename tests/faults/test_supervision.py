"""`chorus up` supervises its processes: a killed worker or web process is replaced while the rest
keeps serving, trickling clients do not starve the site, and Ctrl-C stops everything, the embedded
Redis included. Each run is a real `chorus up` from another directory, on SQLite + the embedded Redis
and on PostgreSQL + a redis-server this test starts on a free port. Every wait is bounded."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from chorus.extensions import supervised_redis_socket
from tests.conftest import _free_port

CHORUS = str(Path(sys.executable).parent / "chorus")
PETITION = "/puentes/keep-families-together"


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def get(port: int, path: str, timeout: float = 20) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(), response.getheader("Set-Cookie") or ""
    finally:
        conn.close()


def answers(port: int) -> bool:
    try:
        return get(port, "/", timeout=5)[0] == 200
    except OSError:
        return False


def sign(port: int, email: str) -> int:
    _status, page, _cookie = get(port, PETITION)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urlencode({"csrf_token": token, "first_name": "Ana", "last_name": "Ruiz", "email": email, "country": "US"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", PETITION, body, {"Content-Type": "application/x-www-form-urlencoded"})
        return conn.getresponse().status
    finally:
        conn.close()


def children(supervisor: psutil.Process, kind: str) -> set[int]:
    """Live children whose command line has `kind` (a killed one is a zombie until it is reaped)."""
    found = set()
    for process in supervisor.children():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and kind in " ".join(process.cmdline()):
                found.add(process.pid)
        except psutil.Error:
            pass
    return found


def signs(port: int, email: str) -> bool:
    """One signature accepted (while Redis restarts the site answers 503: not yet)."""
    try:
        return sign(port, email) == 303
    except (OSError, AttributeError):  # no page, or a page without the form
        return False


def mail_to(mailbox, address: str) -> bool:
    return any(address in (m["To"] or "") for m in list(mailbox.messages))


class Trickler:
    """Slow clients: each socket announces a 1 kB body, then sends one byte every 2 seconds."""

    def __init__(self, port: int, count: int = 8) -> None:
        self.sockets = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(
                f"POST {PETITION} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 1000\r\n\r\n".encode()
            )
            self.sockets.append(s)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(2):
            for s in self.sockets:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for s in self.sockets:
            s.close()


@pytest.fixture
def up_env(request, backend, tmp_path, smtp_server):
    """The environment of a `chorus up`: nothing but mail on SQLite (embedded parts, instance in the
    current directory); on PostgreSQL the suite's database and a redis-server of the test's own."""
    controller, _box = smtp_server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHORUS_", "DATABASE_URL", "REDIS_URL"))}
    env.update(MAIL_URL=f"smtp://127.0.0.1:{controller.port}", CHORUS_RATE_LIMITS="off")
    redis_server = None
    if backend.name == "postgresql":
        backend.reset()
        redis_port = _free_port()
        server = shutil.which("redis-server") or "redis-server"
        redis_server = subprocess.Popen([server, "--port", str(redis_port), "--save", ""], stdout=subprocess.DEVNULL)
        env.update(DATABASE_URL=backend.database_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    yield env
    if redis_server is not None:
        redis_server.terminate()
        redis_server.wait(timeout=10)


def test_up_replaces_dead_processes_keeps_serving_slow_clients_and_stops_everything(up_env, tmp_path, mailbox):
    port = _free_port()
    up = subprocess.Popen(
        [CHORUS, "up", "--port", str(port), "--workers", "1", "--web-workers", "2"],
        cwd=tmp_path,  # not the checkout: it must work from any directory
        env=up_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(up.stderr), daemon=True).start()
    try:
        supervisor = psutil.Process(up.pid)
        wait_for(lambda: answers(port), 90, "chorus up to answer")
        redis_pids = children(supervisor, "redis-server")  # the embedded Redis is a supervised child too
        assert len(redis_pids) == (0 if "REDIS_URL" in up_env else 1)

        # A worker killed: the site keeps answering, a new worker takes over and mail still goes out.
        [worker] = children(supervisor, "worker")
        os.kill(worker, signal.SIGKILL)
        assert answers(port)
        wait_for(lambda: children(supervisor, "worker") - {worker}, 30, "a new worker")
        assert sign(port, "after-kill@example.org") == 303
        wait_for(lambda: mail_to(mailbox, "after-kill@example.org"), 60, "the confirmation mail")
        # Workers run below the web's CPU priority: a surge's mail waits for idle cores, not the signing.
        [new_worker] = children(supervisor, "worker")
        web = psutil.Process(min(children(supervisor, "chorus.webserver")))
        assert psutil.Process(new_worker).nice() == min(web.nice() + 10, 19)

        # A web process killed: the other one answers meanwhile, and it is replaced.
        webs = children(supervisor, "chorus.webserver")
        assert len(webs) == 2
        os.kill(min(webs), signal.SIGKILL)
        assert answers(port)
        wait_for(lambda: len(children(supervisor, "chorus.webserver") - webs) == 1, 30, "a new web process")
        assert any("stopped with signal SIGKILL" in line for line in log)

        # The embedded Redis killed: a new one serves on the same socket, and signing and mail resume
        # by themselves (meanwhile the site answers 503, and what was committed waits in the database).
        for redis_pid in redis_pids:
            os.kill(redis_pid, signal.SIGKILL)
            wait_for(lambda: children(supervisor, "redis-server") - redis_pids, 30, "a new embedded Redis")
            wait_for(lambda: signs(port, "after-redis@example.org"), 60, "signing to resume")
            wait_for(lambda: mail_to(mailbox, "after-redis@example.org"), 60, "its confirmation mail")
            assert get(port, f"{PETITION}/tally.json")[0] == 200

        # Eight clients trickling bodies hold no thread: a normal request is still answered.
        trickler = Trickler(port)
        try:
            for _ in range(3):
                assert get(port, "/", timeout=20)[0] == 200
        finally:
            trickler.close()

        # A chunked body is held to the same 2 MB as one with a Content-Length.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        chunks = iter([b"first_name=" + b"a" * 1_000_000] * 3)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"}
        conn.request("POST", PETITION, chunks, headers, encode_chunked=True)
        assert conn.getresponse().status == 413
        conn.close()

        everyone = {p.pid for p in supervisor.children()}
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
        wait_for(lambda: not any(psutil.pid_exists(pid) for pid in everyone), 30, "every child to exit")
        assert not Path(supervised_redis_socket(str(tmp_path / "instance"))).exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(timeout=10)


def test_up_on_a_busy_port_says_so_in_one_line_and_starts_nothing(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [CHORUS, "up", "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "instance").exists()  # no database, no embedded Redis


def test_two_ups_on_one_instance_share_its_redis_and_one_stopping_leaves_the_other_serving(up_env, tmp_path, mailbox):
    if "REDIS_URL" in up_env:
        pytest.skip("the embedded Redis is the instance folder's: SQLite runs only")
    ports = [_free_port(), _free_port()]
    ups = [
        subprocess.Popen(
            [CHORUS, "up", "--port", str(port), "--web-workers", "1"],
            cwd=tmp_path,
            env=up_env,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port in ports:
            wait_for(lambda port=port: answers(port), 90, "both to answer")
        redis = [children(psutil.Process(up.pid), "redis-server") for up in ups]
        assert sorted(len(r) for r in redis) == [0, 1]  # one Redis for the instance, the other joined it
        first = 0 if redis[0] else 1  # the one whose Redis it is stops
        ups[first].send_signal(signal.SIGINT)
        assert ups[first].wait(timeout=60) == 0

        other = ports[1 - first]
        wait_for(lambda: signs(other, "still-here@example.org"), 60, "the other to serve again")
        wait_for(lambda: mail_to(mailbox, "still-here@example.org"), 60, "its confirmation mail")
    finally:
        for up in ups:
            if up.poll() is None:
                up.send_signal(signal.SIGINT)
                up.wait(timeout=60)
