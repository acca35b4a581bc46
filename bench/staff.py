"""Benchmark (not a test): the staff screens over a million actions on PostgreSQL, against the queries
the same screens ran before issue 11, in the same run.

The world is the export benchmark's (bench/export.py's seed: --rows actions through the owner plus
10 % through another member, half of them shared with the owner), in the database `chorus_bench_staff`.
Then, as the owner's admin would see them, each screen's service call is timed --repeat times (server
time only: no HTTP, no template):

- supporters, first page; page 2,000; a search by name; a search by e-mail address;
- the campaign dashboard's figures (counts by member and status, and the timeline): the first call
  (counted, then kept), later ones (kept) and `kept_copy_older_than_ttl_s`, a visit once the kept
  copy is older than STATS_TTL (shown at once while a recount job is queued; its timing includes
  the bench ageing the copy, two Redis round trips). Figures counted in under SLOW_STATS_SECONDS are
  never kept (`kept` false, a small world on a fast machine): every visit counts them live.

`before` is the code as it was (a COUNT of every visible row, then the page by OFFSET with a sort over
all of them, and a substring match by scan; the dashboard's two aggregates over every row), kept here
as the baseline; `after` is chorus.services.dashboard as it is now. Each figure is the median of the
repeats; `speedups` = before / after; `first_call_s` is the first (cold) call, timed apart: the
dashboard's figures before they are kept, a page before PostgreSQL's buffers hold what it reads.

    .venv/bin/python bench/staff.py                      # 100,000 rows (quick)
    .venv/bin/python bench/staff.py --rows 1000000       # the issue's million (about 1 minute of inserts)
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import export as world
from common import emit

DATABASE = "chorus_bench_staff"
TARGET_SPEEDUP = 5.0


def log(message: str) -> None:
    print(f"[staff] {message}", file=sys.stderr, flush=True)


def before_supporters(search: str, page: int):
    """The supporter list as it was: count everything visible, then sort everything and skip."""
    from sqlalchemy import func, or_, select

    from chorus.extensions import db
    from chorus.models import Action, Campaign, Organization

    def matching(statement):
        statement = statement.join(Campaign, Campaign.id == Action.campaign_id)
        if search:
            full_name = Action.first_name + " " + Action.last_name
            statement = statement.where(
                or_(full_name.icontains(search, autoescape=True), Action.email.icontains(search, autoescape=True))
            )
        return statement

    total = db.session.scalar(matching(select(func.count(Action.id)))) or 0
    pages = max(1, math.ceil(total / 50))
    page = min(max(page, 1), pages)
    rows = db.session.execute(
        matching(select(Action.first_name, Action.last_name, Action.email, Action.created_at, Organization.name))
        .join(Organization, Organization.id == Action.org_id)
        .order_by(Action.created_at.desc(), Action.id.desc())
        .limit(50)
        .offset((page - 1) * 50)
    ).all()
    return total, rows


def before_dashboard(campaign):
    """The dashboard's figures as they were: two aggregates over every action, each time."""
    from chorus.services import dashboard

    return dashboard.compute_stats(campaign)


def age_kept_stats(campaign_id: int) -> None:
    """Make the kept dashboard figures STATS_TTL + 1 s old: the next visit shows them and queues a
    recount (no worker runs here; the job stays queued in the bench's own Redis db)."""
    import json

    from chorus import queues
    from chorus.extensions import redis_store
    from chorus.services import dashboard

    key = dashboard._stats_key(campaign_id)
    kept = json.loads(redis_store.client.get(key))
    kept["counted_at"] = time.time() - dashboard.STATS_TTL - 1
    redis_store.client.set(key, json.dumps(kept), ex=dashboard.STATS_KEPT_FOR)
    queues.started(queues.RECOUNT_CAMPAIGN_STATS, campaign_id)  # as if the last recount had begun: kick again


def timed(call, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(env: dict[str, str], repeat: int) -> dict:
    from sqlalchemy import select

    from chorus import tenancy
    from chorus.app import create_app
    from chorus.extensions import db, redis_store
    from chorus.models import Campaign, Organization
    from chorus.services import dashboard

    app = create_app(env)
    screens = {}
    with app.app_context():
        redis_store.client.ping()  # the embedded Redis starts here, not in the first screen that uses it
        owner = db.session.scalar(select(Organization).where(Organization.slug == "owner"))
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == world.CAMPAIGN))
        cases = {
            "supporters_first_page": ("", 1),
            "supporters_page_2000": ("", 2000),
            "search_by_name": ("First123 Last45", 1),
            "search_by_email": ("supporter77777@", 1),
        }
        with tenancy.acting_for(owner):
            for name, (search, page) in cases.items():
                load = os.getloadavg()[0]
                before_s, (total, rows) = timed(lambda s=search, p=page: before_supporters(s, p), repeat)
                first_call, _ = timed(lambda s=search, p=page: dashboard.supporters(s, "", p), 1)
                after_s, found = timed(lambda s=search, p=page: dashboard.supporters(s, "", p), repeat)
                same = [r.email for r in rows] == [r.email for r in found.rows]
                screens[name] = {
                    "before_s": round(before_s, 4),
                    "after_s": round(after_s, 4),
                    "first_call_s": round(first_call, 4),
                    "rows": len(found.rows),
                    "same_rows_as_before": same,
                    "total_before": total,
                    "total_after": found.total,
                    "total_after_is_estimate": found.estimated,
                    "loadavg_1m": round(load, 2),
                }
                log(f"{name}: {before_s:.3f} s -> {after_s:.4f} s (first call {first_call:.4f} s)")
            dashboard.forget_stats(campaign.id)
            load = os.getloadavg()[0]
            first_started = time.perf_counter()
            dashboard.campaign_stats(campaign)
            first_call = time.perf_counter() - first_started
            before_s, old = timed(lambda: before_dashboard(campaign), repeat)
            after_s, new = timed(lambda: dashboard.campaign_stats(campaign), repeat)
            # Figures counted faster than SLOW_STATS_SECONDS are always live: no copy to age.
            kept = bool(redis_store.client.exists(dashboard._stats_key(campaign.id)))
            stale_s = None
            if kept:
                aged, _ = timed(lambda: (age_kept_stats(campaign.id), dashboard.campaign_stats(campaign)), repeat)
                stale_s = round(aged, 4)
            screens["campaign_dashboard"] = {
                "before_s": round(before_s, 4),
                "after_s": round(after_s, 4),
                "first_call_s": round(first_call, 4),
                "kept": kept,
                "kept_copy_older_than_ttl_s": stale_s,
                "same_figures_as_before": old == new,
                "loadavg_1m": round(load, 2),
            }
            log(f"campaign_dashboard: {before_s:.3f} s -> {after_s:.4f} s (first call {first_call:.3f} s)")
        db.engine.dispose()
    return screens


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="actions through the owner (+10%%; default 100000)")
    p.add_argument("--repeat", type=int, default=3, help="timings per screen and version (median; default 3)")
    p.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL admin db")
    p.add_argument("--database", default=DATABASE, help=f"database to create and drop (default {DATABASE})")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--reuse", action="store_true", help="measure the database a --keep run left (no insert)")
    p.add_argument("--quiet-wait", type=float, default=0, help="accepted for bench/all.py; not used")
    p.add_argument("--output", help="also write the JSON document to this file")
    args = p.parse_args(argv)
    if not 1 <= args.rows <= world.MAX_ROWS or not 1 <= args.repeat <= 50:
        p.error(f"--rows must be 1..{world.MAX_ROWS:,} and --repeat 1..50")
    if not args.database.startswith("chorus_bench"):
        p.error("--database must start with chorus_bench (it is dropped afterwards)")
    workdir = Path(tempfile.mkdtemp(prefix="chorus-bench-staff-"))
    document: dict = {"benchmark": "chorus staff screens", "rows": args.rows, "repeat": args.repeat}
    status = 0
    try:
        if args.reuse:
            url = world.database_url(args.admin_url, args.database)
        else:
            url = world.fresh_database("postgresql", workdir, args.admin_url, args.database)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "CHORUS_INSTANCE": str(workdir / "instance"),
            "SECRET_KEY": "bench",
            "MAIL_URL": "outbox",
            "CHORUS_ENV": "development",
        }
        world.chorus_command("db", "upgrade", env=env, timeout=300)
        if not args.reuse:
            log(f"inserting {args.rows + args.rows // 10:,} actions")
            document["world"] = world.seed(env, args.rows, "postgresql")
        screens = measure(env, args.repeat)
        document["screens"] = screens
        document["speedups"] = {
            name: round(s["before_s"] / s["after_s"], 1) if s["after_s"] else None for name, s in screens.items()
        }
        document["targets_met"] = {
            f"{name}>=5x": (speedup or 0) >= TARGET_SPEEDUP for name, speedup in document["speedups"].items()
        }
    except Exception as error:  # noqa: BLE001 - the JSON says what went wrong
        log(f"failed: {type(error).__name__}: {error}")
        document["error"] = f"{type(error).__name__}: {error}"
        status = 1
    finally:
        if not (args.keep or args.reuse):
            world.drop_database(args.admin_url, args.database)
        shutil.rmtree(workdir, ignore_errors=True)
    emit(document, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
