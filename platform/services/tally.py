"""The shared tally: confirmed actions per campaign and per member site, kept in Redis.

Hot path: a confirmation adds one to a Redis hash after its row is committed; reading the tally is
one HGETALL, never SQL. The database stays the truth, and the tally is exact by construction:

- Each increment is recorded in the `applied` sorted set (action id, scored by its `confirmed_at`),
  in the same Lua script, so nothing is ever counted twice.
- Every worker's ticker (the `tally` task) adds the confirmed rows above a stored watermark (the
  `cursor`, a time) that are not in `applied`: a web process killed between its commit and its
  increment, or a Redis that was down at that moment, leaves the count short only until the next
  tick. The cursor trails the clock by `CHORUS_TALLY_SETTLE` seconds (longer than any transaction
  lasts), so a confirmation that commits late is still seen; older entries leave `applied`.
- When the hash is missing (Redis restarted, flushed, evicted) the next reader rebuilds it from the
  confirmed rows in one database snapshot, and marks the snapshot's recent confirmations applied;
  confirmations the snapshot could not see are left to the ticker. `chorus tally reconcile` does the
  same on demand.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, or_, select, tuple_

from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, Organization, SignOn
from chorus.services import campaigns, recent
from chorus.services.periodic import periodic

META_TTL = 300  # seconds a campaign's cached description lives; edits also delete it
BUILD_TTL = 30  # seconds a crashed rebuild can block others

APPLIED = "chorus:tally:applied"
CURSOR = "chorus:tally:cursor"

# KEYS: applied, cursor, then one hash per confirmation; ARGV: updated_at, then per confirmation its
# action id, confirmed_at (epoch seconds) and org field. A confirmation already applied, or older
# than the cursor (settled: counted by the ticker or a rebuild), or whose hash is missing (the next
# reader rebuilds it from the database), changes nothing.
_COUNT = """
local cursor = tonumber(redis.call('GET', KEYS[2]) or '0')
local added = 0
for i = 3, #KEYS do
  local n = (i - 3) * 3 + 2
  local id, at, field = ARGV[n], tonumber(ARGV[n + 1]), ARGV[n + 2]
  if at > cursor and not redis.call('ZSCORE', KEYS[1], id) and redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], field, 1)
    redis.call('HINCRBY', KEYS[i], 'total', 1)
    redis.call('HSET', KEYS[i], 'updated_at', ARGV[1])
    redis.call('ZADD', KEYS[1], at, id)
    added = added + 1
  end
end
return added
"""

# KEYS: hash, building, applied, cursor; ARGV: token, the cursor the snapshot started from, number
# of hash fields, the fields, then (score, id) pairs of the snapshot's recent confirmations. A cursor
# Redis lost starts where the snapshot looked from, so the ticker misses nothing after it.
_INSTALL = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[4], ARGV[2], 'NX')
local nfields = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + nfields))
for i = 4 + nfields, #ARGV, 2 do
  redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: applied, cursor; ARGV: the new cursor.
_SETTLE = """
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return 1
"""


def tally_key(campaign_id: int) -> str:
    return f"chorus:tally:{campaign_id}"


def _keys(campaign_id: int) -> list[str]:
    base = tally_key(campaign_id)
    return [base, f"{base}:building"]


def _meta_key(slug: str) -> str:
    return f"chorus:campaign:{slug}"


def _now_iso() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CampaignMeta:
    """What tally.json needs about a campaign, cached in Redis so the hot path needs no SQL."""

    id: int
    slug: str
    kind: str
    goal: int | None
    hosts: tuple[str, ...]
    #: Statements: approved organizations' sign-ons (cached with the rest; decisions forget it), and
    #: when the list last changed (ISO 8601): tally.json's updated_at moves with it.
    organizations: int | None = None
    organizations_at: str = ""


LOCAL_TTL = 1.0


def _local() -> dict[str, tuple[float, CampaignMeta]]:
    """Per app, slug -> (expires at, meta): spares tally.json a Redis round trip; other processes
    see an edit at most LOCAL_TTL seconds late (this one at once: forget_campaign clears it)."""
    return current_app.extensions.setdefault("chorus.campaign_meta", {})


def campaign_meta(slug: str) -> CampaignMeta | None:
    """Only campaigns that exist are cached, here and in Redis: a cached "no such campaign" would
    outlive the Publish that creates it (a poller could store it just after Publish cleared it)."""
    return recent.fresh(_local(), slug, LOCAL_TTL, lambda: _shared_meta(slug))


def _shared_meta(slug: str) -> CampaignMeta | None:
    r = redis_store.client
    cached = r.get(_meta_key(slug))
    if cached is not None:
        data = json.loads(cached)
        if data:  # an empty entry is what older versions cached for "not found": ask the database
            return CampaignMeta(**{**data, "hosts": tuple(data["hosts"])})
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.status != "draft"))
    if campaign is None:
        return None
    meta = meta_for(campaign)
    r.set(_meta_key(slug), json.dumps({**meta.__dict__, "hosts": list(meta.hosts)}), ex=META_TTL)
    return meta


def meta_for(campaign: Campaign) -> CampaignMeta:
    organizations, changed = None, None
    if campaign.kind == "statement":
        listed = SignOn.status == "approved"
        organizations, changed = db.session.execute(
            select(
                func.count(SignOn.id).filter(listed),
                func.max(SignOn.decided_at).filter(listed | (SignOn.status == "retracted")),
            ).where(SignOn.campaign_id == campaign.id)
        ).one()
    return CampaignMeta(
        campaign.id,
        campaign.slug,
        campaign.kind,
        campaign.goal,
        tuple(o.slug for o in campaign.host_orgs()),
        organizations,
        _iso(changed) if changed else "",
    )


def forget_campaign(slug: str) -> None:
    """Drop the cached description after an edit (goal, hosts, status)."""
    _local().pop(slug, None)
    campaigns.forget_lookups()
    redis_store.client.delete(_meta_key(slug))


@dataclass(frozen=True)
class Confirmed:
    """A committed confirmation, as the tally needs it."""

    action_id: int
    campaign_id: int
    org_slug: str
    confirmed_at: datetime


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _apply(confirmed: list[Confirmed]) -> int:
    keys, args = [APPLIED, CURSOR], [_now_iso()]
    for c in confirmed:
        keys.append(_keys(c.campaign_id)[0])
        args += [c.action_id, repr(_epoch(c.confirmed_at)), f"org:{c.org_slug}"]
    return int(redis_store.client.eval(_COUNT, len(keys), *keys, *args))


def count_confirmed(campaign_id: int, org_slug: str, action_id: int, confirmed_at: datetime) -> None:
    """Add one confirmed action to the live tally; call only after its row is committed. If Redis
    does not answer, the ticker adds it when Redis is back: the signature itself is safe."""
    try:
        _apply([Confirmed(action_id, campaign_id, org_slug, confirmed_at)])
    except RedisError:
        current_app.logger.warning("tally: Redis unreachable; the ticker will count action %s", action_id)


def settle_seconds() -> int:
    return int(current_app.config.get("CHORUS_TALLY_SETTLE", 15))


def _cursor(r) -> float:
    """Confirmations at or before this time are settled; unknown (Redis lost it): twice the margin."""
    stored = r.get(CURSOR)
    return float(stored) if stored is not None else time.time() - 2 * settle_seconds()


@periodic("tally", every_seconds=5)
def catch_up(page: int = 5000) -> int:
    """Add the confirmations above the cursor that no increment reached (never a full COUNT).

    Every tick re-reads the settle window (a surge's last 20 s: 15,000 rows at 750 signs/s), nearly
    all of them counted when they were signed: the window is read as bare ids first, Redis says which
    are applied (one ZMSCORE), and only the others are read in full and sent to the counting script.
    A tick over 15,000 counted rows took 260-340 ms so, 50-80 ms this way (PostgreSQL, in-process)."""
    r = redis_store.client
    now = time.time()
    since = datetime.fromtimestamp(_cursor(r), UTC)
    added, after = 0, (since, 0)
    counted = or_(Action.source == "web", Campaign.count_api_actions.is_(True))
    with db.engine.connect() as conn:  # counts across members, reads no personal data
        while True:
            window = conn.execute(
                select(Action.id, Action.confirmed_at)
                .join(Campaign, Campaign.id == Action.campaign_id)
                .where(
                    Action.status == "confirmed",
                    Action.confirmed_at > since,
                    counted,
                    tuple_(Action.confirmed_at, Action.id) > tuple_(*after),
                )
                .order_by(Action.confirmed_at, Action.id)
                .limit(page)
            ).all()
            if window:
                applied = r.zmscore(APPLIED, [row.id for row in window])
                missed = [row.id for row, score in zip(window, applied, strict=True) if score is None]
                if missed:
                    rows = conn.execute(
                        select(Action.id, Action.campaign_id, Organization.slug, Action.confirmed_at)
                        .join(Organization, Organization.id == Action.org_id)
                        .where(Action.id.in_(missed))
                        .order_by(Action.confirmed_at, Action.id)
                    ).all()
                    added += _apply([Confirmed(*row) for row in rows])
                after = (window[-1].confirmed_at, window[-1].id)
            if len(window) < page:
                break
    r.eval(_SETTLE, 2, APPLIED, CURSOR, repr(now - settle_seconds()))
    return added


@dataclass
class Tally:
    total: int
    by_org: dict[str, int]
    updated_at: str


def from_hash(raw: dict[bytes, bytes]) -> Tally:
    by_org = {k[4:].decode(): int(v) for k, v in raw.items() if k.startswith(b"org:")}
    return Tally(int(raw.get(b"total", 0)), by_org, raw.get(b"updated_at", b"").decode())


def read(campaign_id: int) -> Tally:
    """The live tally; rebuilds it from the database when Redis lost it."""
    raw = redis_store.client.hgetall(tally_key(campaign_id))
    if raw:
        return from_hash(raw)
    return rebuild(campaign_id)


def rebuild(campaign_id: int, force: bool = False) -> Tally:
    """Recount confirmed actions from the database and install the result in Redis.

    Without `force`, a rebuild already under way elsewhere is left to finish and this caller counts
    for itself without writing, so a crowd reading after a flush does not stampede Redis.
    """
    r = redis_store.client
    tally_key, building_key = _keys(campaign_id)
    token = uuid.uuid4().hex
    if not r.set(building_key, token, ex=BUILD_TTL, nx=not force):
        token = None
    else:
        r.delete(tally_key)
    cursor = _cursor(r)
    recent_since = datetime.fromtimestamp(cursor, UTC)

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
        # Marked applied whether they count or not: the ticker adds only what a rebuild did not see.
        latest = conn.execute(
            select(Action.id, Action.confirmed_at).where(
                Action.campaign_id == campaign_id, Action.status == "confirmed", Action.confirmed_at > recent_since
            )
        ).all()
    tally = Tally(sum(counted.values()), counted, _now_iso())
    if token is not None:
        fields = ["total", tally.total, "updated_at", tally.updated_at]
        for slug, n in counted.items():
            fields += [f"org:{slug}", n]
        applied = [x for action_id, at in latest for x in (repr(_epoch(at)), action_id)]
        _install(tally_key, building_key, token, cursor, fields, applied)
    return tally


def _install(tally_key: str, building_key: str, token: str, cursor: float, fields: list, applied: list) -> None:
    keys = (tally_key, building_key, APPLIED, CURSOR)
    redis_store.client.eval(_INSTALL, 4, *keys, token, repr(cursor), len(fields), *fields, *applied)


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
    return document(meta, read(meta.id))


def document(meta: CampaignMeta, tally: Tally) -> dict:
    by_org = {slug: 0 for slug in meta.hosts}
    by_org.update(tally.by_org)
    document = {
        "campaign": meta.slug,
        "kind": meta.kind,
        "total": tally.total,
        "goal": meta.goal,
        "by_org": by_org,
        "updated_at": tally.updated_at,
    }
    if meta.kind == "statement":
        document["organizations"] = meta.organizations or 0
        document["updated_at"] = max(tally.updated_at, meta.organizations_at)
    return document
