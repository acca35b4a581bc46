"""Benchmark (not a test): listing a petition's signatures through /api/v2/ on PostgreSQL.

1. drops and creates the PostgreSQL database of DATABASE_URL (never the test suite's), FLUSHDB the
   Redis db of REDIS_URL (or starts an embedded one), migrates, and makes one member, one petition and an API key;
2. inserts --rows confirmed signatures with one INSERT ... SELECT generate_series, then VACUUM ANALYZE;
3. through the app (Flask's test client, in this process: app + database cost, no HTTP server):
   - the first page, twice (the second reuses the cached total);
   - a walk of --walk pages following `_links.next` (the cursor): rows per second;
   - jumps straight to deep `page=` numbers (middle and last), first and second time: the first
     builds the page boundaries with one index-only scan, later ones are an index seek;
   - EXPLAIN (ANALYZE) of a deep page's query, to show it is an index seek, not an OFFSET scan.

One JSON document on stdout; progress on stderr.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/chorus_bench_api \\
    .venv/bin/python bench/api_list.py --rows 1000000     # REDIS_URL unset: an embedded Redis
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from statistics import median

import psycopg
from common import emit
from redis import Redis

FORBIDDEN_DATABASES = {"chorus_test", "test", "postgres", "template0", "template1"}
FORBIDDEN_REDIS_DBS = {15}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if name in FORBIDDEN_DATABASES or name.startswith("chorus_test"):
        sys.exit(f"refusing to drop database {name!r}: point DATABASE_URL at a benchmark database")
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return round((time.perf_counter() - start) * 1000, 2), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--walk", type=int, default=200, help="pages to follow through _links.next")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/chorus_bench_api")
    redis_url = os.environ.get("REDIS_URL", "")  # empty: an embedded Redis in a temporary folder
    if redis_url and int(redis_url.rsplit("/", 1)[1] or 0) in FORBIDDEN_REDIS_DBS:
        sys.exit("refusing to flush the test suite's Redis db")
    fresh_database(url)
    if redis_url:
        Redis.from_url(redis_url).flushdb()

    from flask_migrate import upgrade
    from sqlalchemy import text

    from chorus.app import create_app
    from chorus.extensions import db
    from chorus.models import Campaign, CampaignHost, Organization
    from chorus.services import apikeys

    app = create_app(
        {"DATABASE_URL": url, "REDIS_URL": redis_url, "CHORUS_INSTANCE": tempfile.mkdtemp(), "SECRET_KEY": "bench"}
    )
    app.config["CHORUS_RATE_LIMITS"] = False
    with app.app_context():
        upgrade()
        org = Organization(slug="bench", name="Bench")
        db.session.add(org)
        db.session.commit()
        campaign = Campaign(
            slug="bench", title="Bench", owner_org_id=org.id, hosts=[CampaignHost(org_id=org.id, accepted=True)]
        )
        db.session.add(campaign)
        db.session.commit()
        _key, token = apikeys.create(org)
        campaign_uuid, campaign_id, org_id = campaign.uuid, campaign.id, org.id
        log(f"inserting {args.rows} signatures…")
        insert_ms, _ = timed(
            lambda: (
                db.session.execute(
                    text(
                        "INSERT INTO actions (uuid, campaign_id, org_id, email, email_normalized, person_uuid,"
                        " first_name, last_name, postal_code, country, comment, subject, body, language, status,"
                        " created_at, confirmed_at, source)"
                        " SELECT gen_random_uuid()::text, :c, :o, 's' || g || '@example.org',"
                        " 's' || g || '@example.org',"
                        " md5(g::text)::uuid::text, 'Supporter', 'B' || g, '', 'US', '', '', '', 'en', 'confirmed',"
                        " now(), now(), 'web' FROM generate_series(1, :n) g"
                    ),
                    {"c": campaign_id, "o": org_id, "n": args.rows},
                ),
                db.session.commit(),
            )
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE actions"))
        db.session.remove()

    client = app.test_client()
    headers = {"OSDI-API-Token": token}
    base = f"/api/v2/petitions/{campaign_uuid}/signatures"

    def get(path: str) -> dict:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response.get_json()

    first_ms, first = timed(lambda: get(base))
    again_ms, _ = timed(lambda: get(base))
    log(f"walking {args.walk} pages…")
    page, times, rows = first, [], 0
    walk_start = time.perf_counter()
    for _ in range(args.walk):
        nxt = page["_links"].get("next")
        if nxt is None:
            break
        path = nxt["href"].split("://", 1)[1].split("/", 1)[1]
        ms, page = timed(lambda p=path: get("/" + p))
        times.append(ms)
        rows += len(page["_embedded"]["osdi:signatures"])
    walk_s = time.perf_counter() - walk_start
    last_page = first["total_pages"]
    middle = last_page // 2
    jumps = {}
    deep = (("middle", middle), ("last", last_page), ("middle_again", middle), ("near_last", last_page - 3))
    for label, number in deep:
        ms, doc = timed(lambda n=number: get(f"{base}?page={n}"))
        jumps[label] = {"page": number, "ms": ms, "rows": len(doc["_embedded"]["osdi:signatures"])}

    with app.app_context():
        boundary = db.session.execute(
            text("SELECT id FROM actions WHERE campaign_id = :c ORDER BY id OFFSET :o LIMIT 1"),
            {"c": campaign_id, "o": (middle - 1) * 25},
        ).scalar()
        plan = (
            db.session.execute(
                text(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) SELECT * FROM actions WHERE campaign_id = :c"
                    " AND (org_id = :o OR id IN (SELECT action_id FROM consents WHERE org_id = :o"
                    " AND purpose = 'share' AND withdrawn_at IS NULL))"
                    " AND id >= :b ORDER BY id LIMIT 25"
                ),
                {"c": campaign_id, "o": org_id, "b": boundary},
            )
            .scalars()
            .all()
        )
    emit(
        {
            "rows": args.rows,
            "insert_seconds": round(insert_ms / 1000, 1),
            "first_page_ms": first_ms,
            "first_page_again_ms": again_ms,
            "total_records": first["total_records"],
            "total_pages": last_page,
            "cursor_walk": {
                "pages": len(times),
                "rows": rows,
                "rows_per_second": round(rows / walk_s) if walk_s else None,
                "median_page_ms": median(times) if times else None,
                "max_page_ms": max(times) if times else None,
            },
            "deep_page_jumps": jumps,
            "deep_page_plan": plan,
        },
        args.output,
    )


if __name__ == "__main__":
    main()
