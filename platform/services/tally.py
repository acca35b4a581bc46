"""The shared tally: confirmed actions per campaign and per member site, kept in Redis.

Hot path: a confirmation adds one to a Redis hash after its row is committed; reading the tally is
one HGETALL, never SQL. The database stays the truth: when the hash is missing (Redis restarted,
flushed, or evicted) the next reader rebuilds it from the confirmed rows, and `chorus tally
reconcile` does the same on demand.

A rebuild must not lose a confirmation that commits while it counts. While it runs, confirmations
that find no hash record themselves in a "missed" set; the rebuild counts inside one database
snapshot, adds the missed actions its snapshot could not see, and installs the hash atomically only
if no new entry arrived meanwhile (otherwise it checks the newcomers and tries again).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select

from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, Organization

META_TTL = 300  # seconds a campaign's cached description lives; edits also delete it
BUILD_TTL = 30  # seconds a crashed rebuild can block others

_COUNT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  redis.call('HINCRBY', KEYS[1], 'total', 1)
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
  return 1
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SADD', KEYS[3], ARGV[3])
  return 2
end
return 0
"""

_INSTALL = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if redis.call('SCARD', KEYS[3]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('DEL', KEYS[2])
return 1
"""


def _keys(campaign_id: int) -> list[str]:
    base = f"chorus:tally:{campaign_id}"
    return [base, f"{base}:building", f"{base}:missed"]


def _meta_key(slug: str) -> str:
    return f"chorus:campaign:{slug}"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CampaignMeta:
    """What tally.json needs about a campaign, cached in Redis so the hot path needs no SQL."""

    id: int
    slug: str
    kind: str
    goal: int | None
    hosts: tuple[str, ...]


LOCAL_TTL = 1.0


def _local() -> dict[str, tuple[float, CampaignMeta | None]]:
    """Per app, slug -> (expires at, meta): spares tally.json a Redis round trip; other processes
    see an edit at most LOCAL_TTL seconds late (this one at once: forget_campaign clears it)."""
    return current_app.extensions.setdefault("chorus.campaign_meta", {})


def campaign_meta(slug: str) -> CampaignMeta | None:
    local = _local()
    hit = local.get(slug)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    meta = _shared_meta(slug)
    if len(local) > 10_000:
        local.clear()
    local[slug] = (now + LOCAL_TTL, meta)
    return meta


def _shared_meta(slug: str) -> CampaignMeta | None:
    r = redis_store.client
    cached = r.get(_meta_key(slug))
    if cached is not None:
        data = json.loads(cached)
        return CampaignMeta(**{**data, "hosts": tuple(data["hosts"])}) if data else None
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.status != "draft"))
    meta = meta_for(campaign) if campaign is not None else None
    payload = {**meta.__dict__, "hosts": list(meta.hosts)} if meta else {}
    r.set(_meta_key(slug), json.dumps(payload), ex=META_TTL if meta else 10)
    return meta


def meta_for(campaign: Campaign) -> CampaignMeta:
    return CampaignMeta(
        campaign.id, campaign.slug, campaign.kind, campaign.goal, tuple(o.slug for o in campaign.host_orgs())
    )


def forget_campaign(slug: str) -> None:
    """Drop the cached description after an edit (goal, hosts, status)."""
    _local().pop(slug, None)
    redis_store.client.delete(_meta_key(slug))


def count_confirmed(campaign_id: int, org_slug: str, action_id: int) -> None:
    """Add one confirmed action to the live tally; call only after its row is committed."""
    r = redis_store.client
    r.eval(_COUNT, 3, *_keys(campaign_id), f"org:{org_slug}", _now_iso(), f"{action_id}|{org_slug}")


@dataclass
class Tally:
    total: int
    by_org: dict[str, int]
    updated_at: str


def _from_hash(raw: dict[bytes, bytes]) -> Tally:
    by_org = {k[4:].decode(): int(v) for k, v in raw.items() if k.startswith(b"org:")}
    return Tally(int(raw.get(b"total", 0)), by_org, raw.get(b"updated_at", b"").decode())


def read(campaign_id: int) -> Tally:
    """The live tally; rebuilds it from the database when Redis lost it."""
    raw = redis_store.client.hgetall(_keys(campaign_id)[0])
    if raw:
        return _from_hash(raw)
    return rebuild(campaign_id)


def rebuild(campaign_id: int, force: bool = False) -> Tally:
    """Recount confirmed actions from the database and install the result in Redis.

    Without `force`, a rebuild already under way elsewhere is left to finish and this caller counts
    for itself without writing, so a crowd reading after a flush does not stampede Redis.
    """
    r = redis_store.client
    tally_key, building_key, missed_key = _keys(campaign_id)
    token = uuid.uuid4().hex
    if not r.set(building_key, token, ex=BUILD_TTL, nx=not force):
        token = None
    elif not force:
        r.delete(tally_key)
    else:
        r.delete(tally_key, missed_key)

    # A Core connection, outside the session's tenant scoping: this counts across members and reads
    # no personal data.
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # writers wait: the count is a consistent snapshot
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        query = (
            select(Organization.slug, func.count(Action.id))
            .join(Organization, Organization.id == Action.org_id)
            .where(Action.campaign_id == campaign_id, Action.status == "confirmed")
            .group_by(Organization.slug)
        )
        if conn.execute(select(Campaign.count_api_actions).where(Campaign.id == campaign_id)).scalar() is False:
            query = query.where(Action.source == "web")  # the owner keeps API-recorded actions apart
        counted = dict(conn.execute(query).all())
        while True:
            missed = [m.decode() for m in r.smembers(missed_key)] if token else []
            late = _not_in_snapshot(conn, missed)
            by_org = Counter(counted) + Counter(late)
            tally = Tally(sum(by_org.values()), dict(by_org), _now_iso())
            if token is None:
                return tally
            fields = ["total", tally.total, "updated_at", tally.updated_at]
            for slug, n in by_org.items():
                fields += [f"org:{slug}", n]
            outcome = r.eval(_INSTALL, 3, tally_key, building_key, missed_key, token, len(missed), *fields)
            if outcome != 0:
                return tally
            time.sleep(0.001)


def _not_in_snapshot(conn, missed: list[str]) -> dict[str, int]:
    """Of the confirmations recorded during the rebuild, count those the snapshot cannot see."""
    if not missed:
        return {}
    by_id = {int(entry.split("|", 1)[0]): entry.split("|", 1)[1] for entry in missed}
    seen = set(
        conn.execute(select(Action.id).where(Action.id.in_(list(by_id)), Action.status == "confirmed")).scalars()
    )
    return Counter(slug for action_id, slug in by_id.items() if action_id not in seen)


def reconcile(campaign_slug: str | None = None) -> dict[str, Tally]:
    """Rebuild the tally of one campaign, or of all, from the database (`chorus tally reconcile`)."""
    query = select(Campaign.id, Campaign.slug).order_by(Campaign.slug)
    if campaign_slug:
        query = query.where(Campaign.slug == campaign_slug)
    results = {slug: rebuild(cid, force=True) for cid, slug in db.session.execute(query).all()}
    for slug in results:
        forget_campaign(slug)
    return results


def tally_document(meta: CampaignMeta) -> dict:
    """The contract's tally.json body: the same from every member's URL."""
    tally = read(meta.id)
    by_org = {slug: 0 for slug in meta.hosts}
    by_org.update(tally.by_org)
    return {
        "campaign": meta.slug,
        "kind": meta.kind,
        "total": tally.total,
        "goal": meta.goal,
        "by_org": by_org,
        "updated_at": tally.updated_at,
    }
