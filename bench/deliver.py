"""Benchmark (not a test): delivering 100,000 confirmed letters with `chorus worker` processes to an SMTP sink.

The issue's target: 100,000 confirmed letters to an aiosmtpd sink with 2 workers on this machine, all
delivered within 3 minutes, none lost, no duplicate without kills; with 5 SIGKILLs during the run,
none lost and at most 5 repeats (each kill may repeat at most the one message in flight).

1. drops and creates the PostgreSQL database of --database-url (through the admin database `test`),
   FLUSHDB the Redis db of --redis-url (13), and runs `chorus db upgrade`;
2. starts an SMTP sink (aiosmtpd, in a child process of its own, so its asyncio loop does not
   compete with this process's bookkeeping) on a free 127.0.0.1 port. It keeps only the
   X-Chorus-Delivery header of each message (a count per delivery uuid) and each recipient's arrival
   time (for bench/sign.py --mail-sink);
3. inserts an organization, a letter campaign with --targets fixed targets (officials at
   example.org) through the ORM, then --letters confirmed actions, one queued delivery each (round
   robin over the targets, due now) and their "letter confirmed" events, with COPY; then ANALYZE;
4. starts --workers `chorus worker` processes (each enqueues one `deliver_letters` job at start; its
   ticker enqueues more while anything is outstanding) with CHORUS_DOMAIN_RATE set very high (all
   targets share one domain) and CHORUS_DELIVERY_LEASE = --lease, and counts `sent` deliveries every
   0.5 s until all are sent or --time-limit passes;
5. with --kills K: SIGKILLs one worker (alternating) each time another 1/(K+1) of the letters has
   been sent, and starts a replacement at once;
6. stops the workers, asks the sink for its counts and compares them with the deliveries' uuids:
   `lost` letters never reached the sink, `duplicates` = messages − distinct letters.

One JSON document goes to stdout, progress to stderr. Every loop is bounded in count and in time,
and child processes are stopped on every exit path (errors, Ctrl-C, SIGTERM).

    .venv/bin/python bench/deliver.py                     # 100,000 letters, 2 workers, no kill
    .venv/bin/python bench/deliver.py --kills 5           # the same with 5 SIGKILLs (lease 10 s)
    .venv/bin/python bench/deliver.py -n 5000 --kills 5   # a quick check
    .venv/bin/python bench/deliver.py --profile-dir /tmp/prof --profile-seconds 30
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import emit, rss_mb

ROOT = Path(__file__).resolve().parent.parent
TARGET_LETTERS = 100_000
TARGET_SECONDS = 180
MAX_LETTERS = 1_000_000
COPY_BATCH = 20_000
POLL_SECONDS = 0.5
#: Never touch what the tests and the other benchmarks use.
FORBIDDEN_DATABASES = {
    "chorus_test",
    "chorus_bench",
    "chorus_bench_export",
    "test",
    "postgres",
    "template0",
    "template1",
}
FORBIDDEN_REDIS_DBS = {14, 15}
CAMPAIGN = "bench-deliver"
LETTER_BODY = (
    "I am writing as a constituent to ask you to fund legal counsel for every child who faces an "
    "immigration court alone. Children as young as three are asked to defend themselves against trained "
    "government attorneys, in a language many of them do not speak. Counsel makes the difference between "
    "a fair hearing and none: represented children are several times more likely to be allowed to stay "
    "and far more likely to attend every hearing. The cost is modest and the programme already exists in "
    "several counties. Please include it in this year's budget and tell me where you stand."
)
OWN_BODY = (
    "As a parent and a teacher I see every week what uncertainty does to children. I ask you to act "
    "before the session ends: fund counsel, and visit one of the shelters in our district to see why."
)
FIRST_NAMES = ("Ana", "José", "Mei", "Olu", "Zoë", "Sam", "Priya", "Łukasz", "Fatima", "Liam")


def log(message: str) -> None:
    print(f"[deliver] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The SMTP sink: a child process running one asyncio loop; the parent talks to it over a Pipe.


def sink_main(conn, delay: float = 0.0) -> None:
    """Accept every message, keep only X-Chorus-Delivery (a count per uuid), answer 'stats'/'dump'/'stop'.
    With `delay`, each message's final reply waits that long (a slow receiving server). It offers
    PIPELINING, as Postfix, Exim and the big relays do (aiosmtpd reads pipelined commands in order but
    does not say so); the bare smtplib loop cannot pipeline, and goes one command at a time."""
    import asyncio
    import logging
    import resource

    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    header = b"\nX-Chorus-Delivery:"

    class Handler:
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}
            self.messages = 0
            self.bytes = 0
            self.missing = 0
            self.first = self.last = None
            #: (recipient, arrival time) of every message, for bench/sign.py's mail lag
            self.arrivals: list[tuple[str, float]] = []

        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            if delay:
                await asyncio.sleep(delay)
            content = envelope.content
            now = time.time()
            self.first = self.first or now
            self.last = now
            self.messages += 1
            self.bytes += len(content)
            self.arrivals.extend((recipient.lower(), now) for recipient in envelope.rcpt_tos)
            start = content.find(header)
            if start < 0:
                self.missing += 1
                return "250 OK"
            end = content.find(b"\n", start + len(header))
            for value in content[start + len(header) : end].decode("ascii", "replace").split(","):
                key = value.strip()
                self.counts[key] = self.counts.get(key, 0) + 1
            return "250 OK"

    handler = Handler()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="sink.bench", loop=loop), "127.0.0.1", 0)
    )
    conn.send(server.sockets[0].getsockname()[1])

    def stats() -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "messages": handler.messages,
            "bytes": handler.bytes,
            "distinct": len(handler.counts),
            "missing_header": handler.missing,
            "first_message_at": handler.first,
            "last_message_at": handler.last,
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        }

    def on_command() -> None:
        try:
            command = conn.recv()
        except EOFError:
            loop.stop()
            return
        if command == "stats":
            conn.send(stats())
        elif command == "dump":
            conn.send({**stats(), "counts": handler.counts})
        elif command == "arrivals":
            conn.send({**stats(), "arrivals": handler.arrivals})
        else:
            loop.stop()

    loop.add_reader(conn.fileno(), on_command)
    try:
        loop.run_forever()
    finally:
        server.close()


class Sink:
    def __init__(self, delay: float = 0.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=sink_main, args=(child, delay), name="chorus-bench-sink", daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(30):
            raise RuntimeError("the SMTP sink did not start within 30 s")
        self.port = self.conn.recv()

    def ask(self, command: str, timeout: float = 60) -> dict:
        self.conn.send(command)
        if not self.conn.poll(timeout):
            raise RuntimeError(f"the SMTP sink did not answer {command!r} within {timeout:.0f} s")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            if self.process.is_alive():
                self.conn.send("stop")
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def bare_smtplib_loop(sink: Sink, size: int, count: int, seconds: float) -> dict:
    """The reference for letters/s: pre-rendered messages of `size` bytes sent one after the other over
    one smtplib connection to the same sink, for at most `count` messages and `seconds` seconds."""
    import smtplib

    filler = "x" * 76 + "\r\n"
    head = "From: bench@example.org\r\nTo: target@example.org\r\nSubject: A letter\r\n"
    messages = []
    for i in range(count):
        text = head + f"Message-ID: <bare-{i}@bench>\r\n\r\n"
        body = filler * max(0, (size - len(text)) // len(filler))
        messages.append((text + body).encode())
    before = sink.ask("stats")
    load = os.getloadavg()
    sent = 0
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as smtp:
        for message in messages:
            smtp.sendmail("bench@example.org", ["target@example.org"], message)
            sent += 1
            if time.monotonic() - started > seconds:
                break
    elapsed = time.monotonic() - started
    after = sink.ask("stats")
    return {
        "messages": sent,
        "received_by_sink": after["messages"] - before["messages"],
        "message_bytes": len(messages[0]) if messages else 0,
        "seconds": round(elapsed, 2),
        "letters_per_s": round(sent / elapsed, 1) if elapsed else 0.0,
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------------------------------
# The world.


def check_targets(database_url: str, redis_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    if not name or name in FORBIDDEN_DATABASES:
        raise SystemExit(f"deliver: refusing to drop database {name!r}; use one of its own (chorus_bench_deliver)")
    redis_parts = urlsplit(redis_url)
    if int(redis_parts.path.lstrip("/") or 0) in FORBIDDEN_REDIS_DBS:
        raise SystemExit(f"deliver: refusing to FLUSHDB {redis_url} (the tests' or another benchmark's)")
    for host in (urlsplit(database_url).hostname, redis_parts.hostname):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"deliver: only local services are allowed, not {host!r}")


def libpq_url(database_url: str, dbname: str | None = None) -> str:
    parts = urlsplit(database_url)._replace(scheme="postgresql")
    return parts._replace(path=f"/{dbname}").geturl() if dbname else parts.geturl()


def fresh_world(args, env: dict[str, str]) -> None:
    import psycopg
    from redis import Redis

    name = urlsplit(args.database_url).path.lstrip("/")
    with psycopg.connect(libpq_url(args.database_url, args.admin_db), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with Redis.from_url(args.redis_url) as r:
        r.flushdb()
    chorus = str(Path(sys.executable).parent / "chorus")
    done = subprocess.run([chorus, "db", "upgrade"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"chorus db upgrade failed: {done.stderr.strip()[-2000:]}")


def drop_database(args) -> None:
    import psycopg

    name = urlsplit(args.database_url).path.lstrip("/")
    with psycopg.connect(libpq_url(args.database_url, args.admin_db), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(args, env: dict[str, str]) -> dict:
    """Organization, campaign and targets through the ORM; actions, deliveries and events with COPY."""
    import psycopg

    from chorus.app import create_app
    from chorus.extensions import db
    from chorus.models import Campaign, CampaignHost, CampaignTarget, Official, Organization
    from chorus.models.api import person_uuid_for

    app = create_app(env)
    with app.app_context():
        org = Organization(slug="bench-org", name="Bench Coalition")
        db.session.add(org)
        db.session.flush()
        campaign = Campaign(
            slug=CAMPAIGN,
            kind="letter",
            owner_org_id=org.id,
            title="Fund counsel for children",
            summary="Write to your representatives.",
            body="Write a letter.",
            status="live",
            require_confirmation=False,
            letter_subject="Fund legal counsel for children",
            letter_greeting="Dear Representative,",
            letter_body=LETTER_BODY,
            letter_closing="Respectfully,",
            targeting="fixed",
            delivery_mode="individual",
            hosts=[CampaignHost(org_id=org.id, accepted=True)],
        )
        for t in range(args.targets):
            official = Official(
                name=f"Official {t + 1}",
                title="Senator",
                office=f"District {t + 1}",
                email=f"official{t + 1}@example.org",
            )
            campaign.targets.append(CampaignTarget(official=official))
        db.session.add(campaign)
        db.session.commit()
        campaign_id, org_id = campaign.id, org.id
        official_ids = [t.official_id for t in campaign.targets]
        db.engine.dispose()

    now = datetime.now(UTC)
    # Confirmed before the run, outside the tally's settle window: signing counted them then, so the
    # workers' tally ticker has nothing to catch up (rows written by COPY bypass the signing service,
    # and with `now` the ticker re-read them all every 5 s: 18 % of a worker's CPU, not delivery's).
    confirmed_at = now - timedelta(hours=1)
    started = time.perf_counter()
    action_columns = (
        "id, uuid, campaign_id, org_id, email, email_normalized, person_uuid, first_name, last_name, postal_code, "
        "country, "
        "comment, subject, body, language, status, created_at, confirmed_at"
    )
    delivery_columns = (
        "id, uuid, action_id, official_id, campaign_id, status, attempts, next_attempt_at, lease_until, "
        "last_error, created_at, sent_at, message_id"
    )
    with psycopg.connect(libpq_url(args.database_url)) as conn, conn.cursor() as cursor:
        for start in range(1, args.letters + 1, COPY_BATCH):
            ids = range(start, min(start + COPY_BATCH, args.letters + 1))
            with cursor.copy(f"COPY actions ({action_columns}) FROM STDIN") as copy:
                for i in ids:
                    email = f"supporter{i}@example.net"
                    own = i % 3 == 0  # a third write their own subject and text
                    copy.write_row(
                        (i, str(uuid.uuid4()), campaign_id, org_id, email, email, person_uuid_for(email),
                         FIRST_NAMES[i % 10], f"Writer{i}",
                         f"{94000 + i % 1000}", "US", "", "Please act on counsel" if own else "",
                         OWN_BODY if own else "", "en", "confirmed", confirmed_at, confirmed_at)
                    )  # fmt: skip
            with cursor.copy(f"COPY deliveries ({delivery_columns}) FROM STDIN") as copy:
                for i in ids:
                    copy.write_row(
                        (i, str(uuid.uuid4()), i, official_ids[i % len(official_ids)], campaign_id, "queued", 0, now,
                         None, "", now, None, "")
                    )  # fmt: skip
            with cursor.copy("COPY delivery_events (delivery_id, at, status, detail) FROM STDIN") as copy:
                for i in ids:
                    copy.write_row((i, now, "queued", "letter confirmed"))
            conn.commit()
            if (start - 1) % (5 * COPY_BATCH) == 0 and start > 1:
                log(f"  inserted {start - 1:,} letters")
        for table in ("actions", "deliveries"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {args.letters})")
        conn.commit()
        conn.autocommit = True
        for table in ("actions", "deliveries", "delivery_events"):
            conn.execute(f"ANALYZE {table}")
    return {
        "campaign_id": campaign_id,
        "targets": len(official_ids),
        "insert_seconds": round(time.perf_counter() - started, 2),
    }


# --------------------------------------------------------------------------------------------------
# Measuring from outside: the database, /proc, Redis.


class Observer:
    """One autocommit connection for the counts, plus CPU and memory of our processes from /proc."""

    def __init__(self, args) -> None:
        import psycopg

        self.dbname = urlsplit(args.database_url).path.lstrip("/")
        self.conn = psycopg.connect(libpq_url(args.database_url), autocommit=True)
        self.backend_cpu: dict[int, float] = {}
        self.worker_cpu: dict[int, float] = {}
        self.worker_hwm: dict[int, float] = {}

    def sent(self) -> int:
        return self.conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]

    def in_flight(self) -> int:
        return self.conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sending'").fetchone()[0]

    def statuses(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())

    def db_stats(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched, tup_returned "
            "FROM pg_stat_database WHERE datname = %s",
            (self.dbname,),
        ).fetchone()
        keys = ("commits", "rollbacks", "rows_inserted", "rows_updated", "rows_fetched", "rows_returned")
        return dict(zip(keys, row, strict=True))

    def sample_processes(self, workers: list[subprocess.Popen]) -> None:
        """CPU seconds and VmHWM of the workers, CPU seconds of this database's server backends."""
        import psutil

        for proc in workers:
            try:
                p = psutil.Process(proc.pid)
                times = p.cpu_times()
                self.worker_cpu[proc.pid] = times.user + times.system
                self.worker_hwm[proc.pid] = max(self.worker_hwm.get(proc.pid, 0.0), rss_mb("VmHWM", proc.pid))
            except (psutil.Error, OSError):
                pass
        pids = [
            r[0]
            for r in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
            ).fetchall()
        ]
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                self.backend_cpu[pid] = times.user + times.system
            except psutil.Error:
                pass

    def close(self) -> None:
        self.conn.close()


def rq_summary(redis_url: str) -> dict:
    """What the delivery jobs reported (each returns delivery.Report as a dict), and the queues left."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

    with Redis.from_url(redis_url) as r:
        queue = Queue("delivery", connection=r)
        finished = FinishedJobRegistry(queue=queue).get_job_ids()
        totals: Counter = Counter()
        errors: list[str] = []
        runs_that_sent = 0
        for job in Job.fetch_many(finished, connection=r):
            result = job.return_value() if job else None
            if not isinstance(result, dict):
                continue
            runs_that_sent += bool(result.get("sent"))
            for key in ("sent", "failed", "retrying", "deferred", "batches"):
                totals[key] += int(result.get(key, 0))
            errors += result.get("errors", [])
        return {
            "delivery_jobs_finished": len(finished),
            "delivery_jobs_that_sent": runs_that_sent,
            "delivery_jobs_failed": FailedJobRegistry(queue=queue).count,
            "delivery_jobs_started_not_finished": StartedJobRegistry(queue=queue).count,
            "delivery_jobs_still_queued": queue.count,
            "reported": dict(totals),
            "errors": errors[:5],
        }


# --------------------------------------------------------------------------------------------------
# Optional: py-spy on one worker while it delivers, and where the samples fell.


def start_profiler(args, pid: int) -> tuple[subprocess.Popen, Path] | None:
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        log("py-spy is not installed in the venv (.venv/bin/pip install py-spy); no profile")
        return None
    target = Path(args.profile_dir) / f"worker-{args.profile_mode}-{pid}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [str(py_spy), "record", "--pid", str(pid), "--duration", str(int(args.profile_seconds)), "--rate",
               "200", "--format", "raw", "--full-filenames", "--nonblocking", "--output", str(target),
               "--gil" if args.profile_mode == "cpu" else "--idle"]  # fmt: skip
    log(f"profiling worker {pid} for {args.profile_seconds:.0f} s ({args.profile_mode}) into {target}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), target


_FRAME_RE = re.compile(r"^(?P<func>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def _where(path: str) -> str:
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0]
    if path.startswith(str(ROOT)):
        return str(Path(path).relative_to(ROOT))
    return "stdlib:" + Path(path).stem if path.startswith("/") else path


def summarize_profile(path: Path, top: int = 15) -> dict:
    """Shares of samples by the innermost project frame, by leaf function, by leaf library, and by
    `delivery` function on the stack (inclusive)."""
    total = 0
    innermost, leaves, libraries, inclusive = Counter(), Counter(), Counter(), Counter()
    for raw in path.read_text(errors="replace").splitlines():
        stack, _sep, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [m for m in (_FRAME_RE.match(t) for t in stack.split(";")) if m]
        if not frames:
            continue
        total += n
        ours = [f"{m['func']} ({_where(m['file'])}:{m['line']})" for m in frames
                if _where(m["file"]).startswith(("platform/", "workers/"))]  # fmt: skip
        innermost[ours[-1] if ours else "(no project frame: RQ, ticker, idle)"] += n
        leaf = frames[-1]
        leaves[f"{leaf['func']} ({_where(leaf['file'])}:{leaf['line']})"] += n
        libraries[_where(leaf["file"]).split("/", 1)[0]] += n
        for name in {m["func"] for m in frames if _where(m["file"]).startswith(("platform/", "workers/"))}:
            inclusive[name] += n

    def shares(counter: Counter) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counter.most_common(top)} if total else {}

    return {
        "file": str(path),
        "samples": total,
        "pct_inclusive_by_project_function": shares(inclusive),
        "pct_by_innermost_project_frame": shares(innermost),
        "pct_by_leaf_function": shares(leaves),
        "pct_by_leaf_library": shares(libraries),
    }


# --------------------------------------------------------------------------------------------------
# The run.


class Workers:
    """`chorus worker` processes in fixed slots; every process ever started is stopped in stop()."""

    def __init__(self, env: dict[str, str], workdir: Path, count: int) -> None:
        self.env, self.workdir = env, workdir
        self.chorus = str(Path(sys.executable).parent / "chorus")
        self.slots: list[subprocess.Popen] = []
        self.started: list[subprocess.Popen] = []
        self.count = count

    def spawn(self) -> subprocess.Popen:
        out = (self.workdir / f"worker-{len(self.started) + 1}.log").open("ab")
        proc = subprocess.Popen([self.chorus, "worker"], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.started.append(proc)
        return proc

    def start(self) -> None:
        self.slots = [self.spawn() for _ in range(self.count)]

    def kill_and_replace(self, slot: int) -> int:
        victim = self.slots[slot]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self.slots[slot] = self.spawn()
        return victim.pid

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown: the current job ends first), again after 5 s (cold shutdown),
        SIGKILL after 15 s: a job delivering for up to 50 s does not hold the benchmark up."""
        alive = [p for p in self.started if p.poll() is None]
        for p in alive:
            p.send_signal(signal.SIGTERM)
        for wait, then in ((5, signal.SIGTERM), (10, signal.SIGKILL)):
            deadline = time.monotonic() + wait
            for p in alive:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            alive = [p for p in alive if p.poll() is None]
            for p in alive:
                p.send_signal(then)
        for p in alive:
            p.wait(timeout=10)

    def log_problems(self, limit: int = 20) -> list[str]:
        """Error lines of the workers' logs, and the exception line that ends each traceback."""
        found = []
        for path in sorted(self.workdir.glob("worker-*.log")):
            text = path.read_text(errors="replace").splitlines()
            in_traceback = False
            for line in text:
                if "warm shut down requested" in line:
                    break  # what follows is this benchmark stopping the worker (a cold shutdown fails its job)
                if line.startswith("Traceback"):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace():
                    found.append(f"{path.name}: {line[:300]}")
                    in_traceback = False
                elif not in_traceback and (" ERROR " in line or "Error" in line or "failed" in line.lower()):
                    found.append(f"{path.name}: {line[:300]}")
        return found[:limit]


def wait_until_quiet(max_wait: float, threshold: float = 20.0) -> float:
    """Wait (at most max_wait seconds) for the machine to be under `threshold` % busy over 2 s; the last
    reading. Other engineers' tests and benchmarks share these cores: a busy machine skews the figures."""
    import psutil

    deadline = time.monotonic() + max_wait
    busy = psutil.cpu_percent(interval=2)
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine {busy:.0f} % busy; waiting for it to quiet down (at most {deadline - time.monotonic():.0f} s)")
        busy = psutil.cpu_percent(interval=5)
    return busy


def deliver(args, env: dict[str, str], sink: Sink, workdir: Path) -> dict:
    import psutil

    busy_before = wait_until_quiet(args.quiet_wait)
    own_before = time.process_time()

    observer = Observer(args)
    workers = Workers(env, workdir, args.workers)
    # Kill k (1..K) once k/(K+1) of the letters are sent or k/(K+1) of the time limit has passed,
    # whichever comes first: spread over the run whether or not it completes.
    thresholds = [(args.letters * k // (args.kills + 1), args.time_limit * k / (args.kills + 1))
                  for k in range(1, args.kills + 1)]  # fmt: skip
    kills: list[dict] = []
    unexpected_exits: list[dict] = []
    timeline: list[tuple[float, int]] = []
    profiler = None
    profile: dict = {}
    db_before = observer.db_stats()
    cpu_before = psutil.cpu_times()
    load_before = os.getloadavg()
    sent = 0
    timed_out = False
    try:
        started_wall, started = time.time(), time.monotonic()
        workers.start()
        deadline = started + args.time_limit
        last_log = last_sample = started
        for _ in range(int(args.time_limit / POLL_SECONDS) + 10):  # bounded in count as well as in time
            now = time.monotonic()
            sent = observer.sent()
            if not timeline or now - started - timeline[-1][0] >= max(5, args.time_limit / 60):
                timeline.append((round(now - started, 1), sent))
            if sent >= args.letters:
                break
            if now > deadline:
                timed_out = True
                break
            if now - last_sample >= 2:
                observer.sample_processes(workers.slots)
                last_sample = now
            due = thresholds[len(kills)] if len(kills) < len(thresholds) else None
            if due and (sent >= due[0] or now - started >= due[1]):
                slot = len(kills) % args.workers
                observer.sample_processes(workers.slots)  # its CPU seconds and VmHWM before it goes
                sending = observer.in_flight()
                pid = workers.kill_and_replace(slot)
                kills.append({"at_s": round(now - started, 1), "sent_before": sent, "sending_rows": sending,
                              "pid": pid})  # fmt: skip
                log(f"SIGKILL worker {pid} at {now - started:.1f} s, {sent:,} sent, {sending} leased; replaced")
            for slot, proc in enumerate(workers.slots):
                if proc.poll() is not None:
                    unexpected_exits.append({"at_s": round(now - started, 1), "pid": proc.pid, "code": proc.returncode})
                    log(f"worker {proc.pid} exited by itself (code {proc.returncode}); replaced")
                    workers.slots[slot] = workers.spawn()
            if args.profile_dir and profiler is None and not args.kills and sent >= args.letters // 10:
                profiler = start_profiler(args, workers.slots[0].pid) or False
            if now - last_log >= 10:
                rate = sent / (now - started)
                log(f"{now - started:5.0f} s: {sent:,} sent ({rate:,.0f}/s overall)")
                last_log = now
            time.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
        observer.sample_processes(workers.slots)
        cpu_after = psutil.cpu_times()
        own_cpu = time.process_time() - own_before
    finally:
        if profiler:
            proc, target = profiler
            try:
                proc.wait(timeout=args.profile_seconds + 60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(timeout=10)
            problem = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            profile = summarize_profile(target) if target.exists() else {"error": problem[-500:]}
        workers.stop()
    statuses = observer.statuses()
    events = dict(observer.conn.execute("SELECT status, count(*) FROM delivery_events GROUP BY status").fetchall())
    attempts = dict(observer.conn.execute("SELECT attempts, count(*) FROM deliveries GROUP BY attempts").fetchall())
    uuids = {r[0] for r in observer.conn.execute("SELECT uuid FROM deliveries")}
    sent_uuids = {r[0] for r in observer.conn.execute("SELECT uuid FROM deliveries WHERE status = 'sent'")}
    time.sleep(1)  # statistics reach pg_stat_database when a backend goes idle
    db_after = observer.db_stats()
    observer.close()

    dump = sink.ask("dump")
    counts: dict[str, int] = dump.pop("counts")
    received = set(counts)
    lost = len(sent_uuids - received)  # marked sent, never arrived
    undelivered = len(uuids - received)  # == lost when every letter was marked sent
    busy = (sum(cpu_after) - cpu_after.idle - cpu_after.iowait) - (
        sum(cpu_before) - cpu_before.idle - cpu_before.iowait
    )
    worker_cpu = round(sum(observer.worker_cpu.values()), 1)
    pg_cpu = round(sum(observer.backend_cpu.values()), 1)
    db_delta = {k: db_after[k] - db_before[k] for k in db_before}
    first_at = dump["first_message_at"]
    return {
        "letters": args.letters,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "letters_per_s": round(sent / seconds, 1),
        "lost": lost,
        "lost_note": "letters marked sent in the database that the sink never received; letters never sent "
        "because the time limit stopped the run are `undelivered_at_stop`",
        "duplicates": dump["messages"] - dump["distinct"],
        "kills": len(kills),
        "lease_s": args.lease,
        "smtp_delay_s": args.smtp_delay,
        "domain_rate": args.domain_rate,
        "domain_rate_note": "CHORUS_DOMAIN_RATE (per domain and minute; default 1200) set this high because all "
        "targets are at example.org: the default would cap delivery at 20 letters/s",
        "peak_rss_mb_per_worker": max(observer.worker_hwm.values(), default=None),
        "completed": sent >= args.letters and not timed_out,
        "timed_out": timed_out,
        "sent_in_db": sent,
        "undelivered_at_stop": undelivered,
        "statuses": statuses,
        "sink": {
            "messages": dump["messages"],
            "distinct": dump["distinct"],
            "missing_header": dump["missing_header"],
            "unknown_uuids": len(received - uuids),
            "max_copies_of_one_letter": max(counts.values(), default=0),
            "letters_received_more_than_once": sum(1 for c in counts.values() if c > 1),
            "bytes": dump["bytes"],
            "seconds_to_first_letter": round(first_at - started_wall, 1) if first_at else None,
            "seconds_first_to_last_letter": round(dump["last_message_at"] - first_at, 1) if first_at else None,
            "cpu_seconds": dump["cpu_seconds"],
        },
        "kill_log": kills,
        "unexpected_worker_exits": unexpected_exits,
        "targets_met": {
            "all_delivered_within_180_s": sent >= args.letters and seconds <= TARGET_SECONDS,
            "none_lost": lost == 0 and undelivered == 0,
            "duplicates_within_bound": dump["messages"] - dump["distinct"] <= len(kills),
        },
        "attempts_histogram": {str(k): v for k, v in sorted(attempts.items())},
        "delivery_events_by_status": events,
        "database": {
            **db_delta,
            "commits_per_letter": round(db_delta["commits"] / max(sent, 1), 2),
            "rows_fetched_per_letter": round(db_delta["rows_fetched"] / max(sent, 1), 1),
        },
        "rq": rq_summary(args.redis_url),
        "cpu": {
            "worker_cpu_seconds": worker_cpu,
            "worker_cpu_ms_per_letter": round(1000 * worker_cpu / max(sent, 1), 2),
            "postgres_backends_cpu_seconds": pg_cpu,
            "sink_cpu_seconds": dump["cpu_seconds"],
            "bench_process_cpu_seconds": round(own_cpu, 1),
            "cpu_ms_per_letter_workers_postgres_sink": round(
                1000 * (worker_cpu + pg_cpu + dump["cpu_seconds"]) / max(sent, 1), 2
            ),
            "letters_per_s_if_cpu_bound_on_idle_machine": round(
                psutil.cpu_count() * max(sent, 1) / max(worker_cpu + pg_cpu + dump["cpu_seconds"], 0.001), 1
            ),
            "machine_busy_core_seconds": round(busy, 1),
            "machine_core_seconds": round(seconds * psutil.cpu_count(), 1),
            "others_cpu_seconds_approx": round(busy - worker_cpu - pg_cpu - dump["cpu_seconds"] - own_cpu, 1),
            "machine_busy_pct_before_start": busy_before,
            "load_average_before": [round(x, 2) for x in load_before],
            "note": "worker and backend figures are summed over processes sampled every 2 s (a killed worker's "
            "last 2 s are missing); the machine figure includes everything else running on it",
        },
        "peak_rss_mb_by_worker": sorted(observer.worker_hwm.values()),
        "timeline_s_sent": timeline,
        "worker_log_problems": workers.log_problems(),
        **({"profile": profile} if profile else {}),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-n", "--letters", type=int, default=TARGET_LETTERS, help="confirmed letters (default 100000)")
    p.add_argument("--workers", type=int, default=2, help="chorus worker processes (default 2)")
    p.add_argument("--kills", type=int, default=0, help="SIGKILL a worker this many times, spread over the run")
    p.add_argument("--lease", type=int, help="CHORUS_DELIVERY_LEASE seconds (default 60, or 10 with --kills)")
    p.add_argument("--domain-rate", type=int, default=1_000_000, help="CHORUS_DOMAIN_RATE (default: its highest)")
    p.add_argument(
        "--smtp-delay",
        type=float,
        default=0.0,
        help="seconds the sink waits before accepting each message (a slow server; default 0)",
    )
    p.add_argument("--targets", type=int, default=10, help="fixed targets of the campaign (default 10)")
    p.add_argument("--time-limit", type=float, default=480, help="seconds of delivering at most (default 480)")
    p.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/chorus_bench_deliver")
    p.add_argument("--admin-db", default="test", help="database to connect to for DROP/CREATE (default test)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    p.add_argument("--profile-dir", help="py-spy record one worker (no kills) once 10%% of letters are sent")
    p.add_argument("--profile-seconds", type=float, default=30, help="profile length (default 30)")
    p.add_argument("--profile-mode", choices=("cpu", "wall"), default="wall", help="cpu: GIL-holding samples only")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        help="seconds to wait at most, before starting the "
        "workers, for the machine to be under 20%% busy (default 300)",
    )
    p.add_argument("--no-bare", dest="bare", action="store_false", help="skip the bare smtplib loop (no ratio)")
    p.add_argument("--bare-seconds", type=float, default=15, help="the bare loop's length at most (default 15)")
    p.add_argument("--keep", action="store_true", help="keep the database and the worker logs")
    p.add_argument("--output", help="also write the JSON document to this file")
    args = p.parse_args(argv)
    if not 1 <= args.letters <= MAX_LETTERS:
        p.error(f"--letters must be 1..{MAX_LETTERS:,}")
    if not 0 <= args.smtp_delay <= 30:
        p.error("--smtp-delay must be 0..30 s")
    if not 1 <= args.workers <= 16 or not 0 <= args.kills <= 50 or not 1 <= args.targets <= 1000:
        p.error("--workers must be 1..16, --kills 0..50, --targets 1..1000")
    if not 10 <= args.time_limit <= 3600 or not 1 <= args.profile_seconds <= 600 or not 0 <= args.quiet_wait <= 3600:
        p.error("--time-limit must be 10..3600 s, --profile-seconds 1..600, --quiet-wait 0..3600")
    args.lease = args.lease or (10 if args.kills else 60)
    return args


def _raise_on_term(_signum, _frame):
    raise KeyboardInterrupt  # so every `finally` stops the children


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_targets(args.database_url, args.redis_url)
    signal.signal(signal.SIGTERM, _raise_on_term)
    workdir = Path(tempfile.mkdtemp(prefix="chorus-bench-deliver-"))
    sink = None
    status = 0
    document: dict = {"benchmark": "chorus letter delivery"}
    try:
        sink = Sink(args.smtp_delay)
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CHORUS_INSTANCE": str(workdir / "instance"),
            "CHORUS_ENV": "development",
            "SECRET_KEY": "bench-deliver",
            "MAIL_URL": f"smtp://127.0.0.1:{sink.port}",
            "CHORUS_DOMAIN_RATE": str(args.domain_rate),
            "CHORUS_DELIVERY_LEASE": str(args.lease),
        }
        log(f"fresh database and Redis db; sink on port {sink.port}")
        fresh_world(args, env)
        log(f"inserting {args.letters:,} confirmed letters to {args.targets} targets")
        world = seed(args, env)
        log(f"inserted in {world['insert_seconds']} s; starting {args.workers} workers (lease {args.lease} s)")
        result = deliver(args, env, sink, workdir)
        document = {**result, "insert_seconds": world["insert_seconds"], "targets": world["targets"]}
        if args.bare:
            size = result["sink"]["bytes"] // max(result["sink"]["messages"], 1)
            log(f"the bare smtplib loop: messages of {size} bytes, at most {args.bare_seconds:.0f} s")
            bare = bare_smtplib_loop(sink, size, min(args.letters, 50_000), args.bare_seconds)
            document["bare_smtplib"] = bare
            ratio = result["letters_per_s"] / bare["letters_per_s"] if bare["letters_per_s"] else None
            document["ratio_letters_per_s_vs_bare"] = round(ratio, 3) if ratio is not None else None
            document["targets_met"]["letters_ratio>=0.6"] = ratio is not None and ratio >= 0.6
        document["machine_cpus"] = os.cpu_count()
    except KeyboardInterrupt:
        log("interrupted")
        document["error"] = "interrupted"
        status = 130
    except Exception as error:  # noqa: BLE001 - the JSON says what went wrong
        log(f"failed: {type(error).__name__}: {error}")
        document["error"] = f"{type(error).__name__}: {error}"
        status = 1
    finally:
        if sink is not None:
            sink.stop()
        if args.keep:
            log(f"kept the database and {workdir}")
        else:
            try:
                drop_database(args)
            except Exception as error:  # noqa: BLE001
                log(f"could not drop the database: {error}")
            shutil.rmtree(workdir, ignore_errors=True)
    emit(document, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
