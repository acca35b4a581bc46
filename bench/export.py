"""Benchmark (not a test): the CSV export job over a million actions: wall time, rows/s and peak memory.

For each backend (SQLite always; PostgreSQL with --postgresql) it builds a fresh world and measures:

1. a new database (a SQLite file in a temporary folder, or the PostgreSQL database `chorus_bench_export`,
   dropped and re-created through the admin database `test`), migrated with `chorus db upgrade`;
2. **insert**: two members, one campaign owned by the first and hosted by the second; --rows actions
   through the owner's site plus 10 % more through the other member, half of whom shared their details
   with the owner; bulk-inserted in batches (executemany on SQLite, COPY on PostgreSQL), then ANALYZE
   (on PostgreSQL VACUUM (ANALYZE) of actions, as autovacuum would do after such an insert);
3. **export**: the RQ job function `chorus.workers.jobs.export_campaign_csv` for an export requested
   by the owner, in a child process of its own that loads the app first, as `chorus worker` does,
   then resets its VmHWM (/proc/self/clear_refs), so `export_peak_rss_mb` is the export's own peak
   and `peak_rss_mb` the whole process's; meanwhile this process samples the export row's progress
   from another connection;
4. **cli**: `chorus export signatures CAMPAIGN` into a file, its peak RSS sampled from /proc;
5. checks that the file and the command's output hold exactly the rows the owner may see (own
   actions + those shared with it), and that the export row says done.

One JSON document goes to stdout, progress to stderr. Every phase is bounded in rows and in time.

    .venv/bin/python bench/export.py                    # SQLite, 1,000,000 actions through the owner
    .venv/bin/python bench/export.py --postgresql       # and PostgreSQL on 127.0.0.1:5432
    .venv/bin/python bench/export.py --rows 100000 --postgresql --no-sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import emit, rss_mb

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "chorus_bench_export"
MAX_ROWS = 5_000_000
BATCH = 50_000
RSS_TARGET_MB = 200
CAMPAIGN = "bench-export"
ACTION_COLUMNS = (
    "id",
    "uuid",
    "campaign_id",
    "org_id",
    "email",
    "email_normalized",
    "first_name",
    "last_name",
    "postal_code",
    "country",
    "comment",
    "language",
    "status",
    "created_at",
    "confirmed_at",
    "person_uuid",
    "source",
)

#: Supporters of the other member who agreed to share their details with the owner.
CONSENT_COLUMNS = "action_id, org_id, purpose, text, language, granted_at"
CONSENTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The child: the export job, as a worker runs it (app preloaded, then the job function).


def child_export(export_id: int) -> None:
    from chorus.app import create_app
    from chorus.workers import jobs

    jobs.set_worker_app(create_app())
    baseline, startup_peak = rss_mb("VmRSS"), rss_mb("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS, so from here it measures the export alone
    started, cpu = time.perf_counter(), time.process_time()
    done = jobs.export_campaign_csv(export_id)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    export_peak = rss_mb("VmHWM")
    print(
        json.dumps(
            {
                "ran": done,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),
                "rss_before_mb": baseline,
                "export_peak_rss_mb": export_peak,
                "startup_peak_rss_mb": startup_peak,
                "peak_rss_mb": max(startup_peak, export_peak),
            }
        )
    )


# --------------------------------------------------------------------------------------------------
# The world.


def fresh_database(backend: str, workdir: Path, admin_url: str, name: str = BENCH_DATABASE) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin_url, name)


def database_url(admin_url: str, name: str) -> str:
    """The SQLAlchemy URL of database `name` on the server of `admin_url`."""
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def drop_database(admin_url: str, name: str = BENCH_DATABASE) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def chorus_command(*args: str, env: dict[str, str], timeout: float) -> None:
    chorus = str(Path(sys.executable).parent / "chorus")
    done = subprocess.run([chorus, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chorus {' '.join(args)} failed: {done.stderr.strip()}")


def action_rows(rows: int, campaign_id: int, owner_id: int, other_id: int, sqlite: bool) -> Iterator[tuple]:
    """`rows` actions through the owner, then rows/10 through the other member (ids 1..n, in order)."""
    from chorus.models.api import person_uuid_for

    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, rows + rows // 10 + 1):
        created = start + timedelta(seconds=i)
        confirmed = created + timedelta(minutes=3) if i % 5 else None
        if sqlite:  # how SQLAlchemy stores DateTime in SQLite: naive UTC text
            created = created.strftime("%Y-%m-%d %H:%M:%S.%f")
            confirmed = confirmed.strftime("%Y-%m-%d %H:%M:%S.%f") if confirmed else None
        comment = "" if i % 7 else ('=SUM(A1:A2), "quoted", with commas' if i % 101 == 0 else 'Because, "we" care')
        email = f"supporter{i}@example.org"
        yield (
            i,
            str(uuid.uuid4()),
            campaign_id,
            owner_id if i <= rows else other_id,
            email,
            email,
            f"First{i % 1000}",
            f"Last{i % 997}",
            f"{i % 100000:05d}",
            "US",
            comment,
            "en",
            "confirmed" if confirmed else "pending",
            created,
            confirmed,
            person_uuid_for(email),
            "web",
        )


def batches(iterable: Iterator[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(env: dict[str, str], rows: int, backend: str) -> dict:
    """Members, campaign and export row through the ORM; the actions in bulk through the driver."""
    from chorus.app import create_app
    from chorus.extensions import db
    from chorus.models import Campaign, CampaignHost, Export, Organization

    app = create_app(env)
    with app.app_context():
        owner = Organization(slug="owner", name="Owner")
        other = Organization(slug="other", name="Other member")
        db.session.add_all([owner, other])
        db.session.flush()
        campaign = Campaign(
            slug=CAMPAIGN,
            owner_org_id=owner.id,
            title="Bench export",
            hosts=[CampaignHost(org_id=owner.id, accepted=True), CampaignHost(org_id=other.id, accepted=True)],
        )
        db.session.add(campaign)
        db.session.flush()
        ids = campaign_id, owner_id, _ = campaign.id, owner.id, other.id
        # Read before the commit: reading after it would open a transaction whose snapshot, held
        # through the insert, keeps VACUUM from marking the new rows visible to all.
        db.session.commit()
        total = rows + rows // 10
        shares = [(i, owner_id) for i in range(rows + 1, total + 1) if i % 2 == 0]

        started = time.perf_counter()
        raw = db.engine.raw_connection()
        try:
            if backend == "sqlite":
                insert_sqlite(raw.driver_connection, rows, ids, shares)
            else:
                insert_postgresql(raw.driver_connection, rows, ids, shares)
        finally:
            raw.close()
        insert_seconds = time.perf_counter() - started

        export = Export(org_id=owner_id, campaign_id=campaign_id, filename="bench.csv")
        db.session.add(export)
        db.session.commit()
        result = {
            "export_id": export.id,
            "export_uuid": export.uuid,
            "actions_in_table": total,
            "shared_with_owner": len(shares),
            "expected_rows": rows + len(shares),
            "insert_seconds": round(insert_seconds, 2),
            "insert_rows_per_s": round(total / insert_seconds),
        }
        db.engine.dispose()
    return result


def insert_sqlite(conn: sqlite3.Connection, rows: int, ids: tuple[int, int, int], shares: list[tuple]) -> None:
    placeholders = ", ".join("?" for _ in ACTION_COLUMNS)
    statement = f"INSERT INTO actions ({', '.join(ACTION_COLUMNS)}) VALUES ({placeholders})"
    for n, batch in enumerate(batches(action_rows(rows, *ids, sqlite=True), BATCH), 1):
        conn.executemany(statement, batch)
        conn.commit()
        if n % 5 == 0:
            log(f"  inserted {n * BATCH:,} actions")
    granted = CONSENTED_AT.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime text
    consents = [(*share, "share", "", "en", granted) for share in shares]
    conn.executemany(f"INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", consents)
    conn.commit()
    conn.execute("ANALYZE")


def insert_postgresql(conn, rows: int, ids: tuple[int, int, int], shares: list[tuple]) -> None:
    with conn.cursor() as cursor:
        for n, batch in enumerate(batches(action_rows(rows, *ids, sqlite=False), BATCH), 1):
            with cursor.copy(f"COPY actions ({', '.join(ACTION_COLUMNS)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            conn.commit()
            if n % 5 == 0:
                log(f"  inserted {n * BATCH:,} actions")
        with cursor.copy(f"COPY consents ({CONSENT_COLUMNS}) FROM STDIN") as copy:
            for share in shares:
                copy.write_row((*share, "share", "", "en", CONSENTED_AT))
        cursor.execute("SELECT setval(pg_get_serial_sequence('actions', 'id'), (SELECT max(id) FROM actions))")
        conn.commit()
    conn.autocommit = True
    # Autovacuum would do this on a server soon after a bulk insert: the visibility map it sets lets
    # the supporter list's walk of ix_actions_created be an index-only scan (PostgreSQL skips the table
    # for pages it knows are all visible), as on any table whose rows were not all just inserted.
    conn.execute("VACUUM (ANALYZE) actions")
    conn.execute("ANALYZE consents")
    conn.autocommit = False


class ProgressReader:
    """Reads the export row from a connection of its own, as the admin page's JSON endpoint does."""

    def __init__(self, backend: str, database_url: str):
        if backend == "sqlite":
            self.conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)
        else:
            import psycopg

            self.conn = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)

    def read(self, export_id: int) -> tuple[str, int, int]:
        query = "SELECT status, rows_done, rows_total FROM exports WHERE id = " + ("?" if self.is_sqlite else "%s")
        return tuple(self.conn.execute(query, (export_id,)).fetchone())

    @property
    def is_sqlite(self) -> bool:
        return isinstance(self.conn, sqlite3.Connection)

    def close(self) -> None:
        self.conn.close()


def run_export(env: dict[str, str], world: dict, backend: str, timeout: float) -> dict:
    reader = ProgressReader(backend, env["DATABASE_URL"])
    child = subprocess.Popen(
        [sys.executable, __file__, "--child-export", str(world["export_id"])],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                raise RuntimeError(f"the export did not finish within {timeout:.0f} s")
            status, rows_done, _total = reader.read(world["export_id"])
            if status == "running" and (not samples or rows_done != samples[-1]):
                samples.append(rows_done)
            time.sleep(0.1)
        out, err = child.communicate(timeout=30)
        if child.returncode != 0:
            raise RuntimeError(f"the export child failed: {err.strip()[-2000:]}")
        status, rows_done, rows_total = reader.read(world["export_id"])
    finally:
        reader.close()
    measured = json.loads(out.strip().splitlines()[-1])
    return {
        **measured,
        "rows_per_s": round(rows_done / measured["seconds"]) if measured["seconds"] else None,
        "status": status,
        "rows_done": rows_done,
        "rows_total": rows_total,
        "progress_values_seen": len(samples),
        "progress_first_values": samples[:5],
    }


def run_cli(env: dict[str, str], workdir: Path, timeout: float) -> dict:
    """`chorus export signatures` into a file; its peak RSS is VmHWM sampled every 50 ms while it runs."""
    chorus = str(Path(sys.executable).parent / "chorus")
    target = workdir / "cli.csv"
    started = time.perf_counter()
    peak = 0.0
    with target.open("wb") as out:
        child = subprocess.Popen(
            [chorus, "export", "signatures", CAMPAIGN], env=env, cwd=ROOT, stdout=out, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                raise RuntimeError(f"the command did not finish within {timeout:.0f} s")
            peak = max(peak, rss_mb("VmHWM", child.pid))
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace").strip()
    child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"chorus export signatures failed: {stderr}")
    rows = count_lines(target) - 1
    return {
        "seconds": round(seconds, 2),
        "rows": rows,
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": peak,
        "stderr": stderr,
    }


def count_lines(path: Path) -> int:
    """Records, not lines: the bench's comments hold no newline, so each record is one line."""
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def bench_backend(backend: str, args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"chorus-bench-export-{backend}-"))
    try:
        database_url = fresh_database(backend, workdir, args.admin_url)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CHORUS_INSTANCE": str(workdir / "instance"),
            "SECRET_KEY": "bench",
            "MAIL_URL": "outbox",
            "CHORUS_ENV": "development",
        }
        log(f"{backend}: chorus db upgrade")
        chorus_command("db", "upgrade", env=env, timeout=300)
        log(f"{backend}: inserting {args.rows + args.rows // 10:,} actions")
        world = seed(env, args.rows, backend)
        log(f"{backend}: inserted in {world['insert_seconds']} s; exporting {world['expected_rows']:,} rows")
        export = run_export(env, world, backend, args.timeout)
        path = workdir / "instance" / "exports" / f"{world['export_uuid']}.csv"
        export["file_mb"] = round(path.stat().st_size / 2**20, 1)
        export["file_rows"] = count_lines(path) - 1
        log(f"{backend}: export {export['seconds']} s, peak RSS {export['export_peak_rss_mb']} MB; now the command")
        cli = run_cli(env, workdir, args.timeout)
        checks = {
            "export_done": export["status"] == "done",
            "file_rows_as_expected": export["file_rows"] == world["expected_rows"] == export["rows_done"],
            "cli_rows_as_expected": cli["rows"] == world["expected_rows"],
            "progress_seen_while_running": export["progress_values_seen"] > 1,
        }
        targets = {
            "export_peak_rss_below_200_mb": export["peak_rss_mb"] < RSS_TARGET_MB,
            "cli_peak_rss_below_200_mb": cli["peak_rss_mb"] < RSS_TARGET_MB,
        }
        return {"backend": backend, **world, "export": export, "cli": cli, "checks": checks, "targets_met": targets}
    finally:
        if backend == "postgresql" and not args.keep:
            drop_database(args.admin_url)
        if args.keep:
            log(f"{backend}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="actions through the owner (+10%% via another)")
    parser.add_argument("--postgresql", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL admin db")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed for each export run")
    parser.add_argument("--keep", action="store_true", help="keep the databases and files afterwards")
    parser.add_argument("--quiet-wait", type=float, default=0, help="accepted for bench/all.py; not used")
    parser.add_argument("--output", help="also write the JSON document to this file")
    parser.add_argument("--child-export", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_export is not None:
        child_export(args.child_export)
        return
    if not 1 <= args.rows <= MAX_ROWS:
        parser.error(f"--rows must be 1..{MAX_ROWS:,}")
    host = args.admin_url.split("@")[-1].split(":")[0].split("/")[0]
    if args.postgresql and host not in ("127.0.0.1", "localhost"):
        parser.error("only a local PostgreSQL is allowed")
    backends = [b for b, wanted in (("sqlite", not args.no_sqlite), ("postgresql", args.postgresql)) if wanted]
    results = [bench_backend(backend, args) for backend in backends]
    emit({"rows": args.rows, "rss_target_mb": RSS_TARGET_MB, "results": results}, args.output)


if __name__ == "__main__":
    main()
