"""What a member's admin shows about its campaigns: counts over time and by member, and its supporters.

Counts cross members (a shared campaign has one tally), so those queries opt in with
`all_orgs=True` and select nothing but counts. The supporter list reads personal data and stays
inside the tenancy scope (chorus.tenancy): it never opts out. Every figure is aggregated in SQL, so
a campaign with a million actions costs a few grouped rows, not a million objects.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, literal_column, select, tuple_

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, CampaignHost, Organization
from chorus.models.actions import search_text
from chorus.models.base import as_utc, utcnow
from chorus.services import tally
from chorus.services.periodic import periodic

#: Campaigns younger than this are charted per hour: per day they would be one or two columns.
HOURLY_UNTIL = timedelta(days=3)
SUPPORTERS_PER_PAGE = 50
SEARCH_MAX_LENGTH = 200
#: Visible supporters are counted exactly up to this many; past it the list shows PostgreSQL's estimate.
EXACT_COUNT_UP_TO = 10_000
#: A dashboard whose figures took longer than this to count is kept in Redis (see `campaign_stats`).
SLOW_STATS_SECONDS = 0.2
#: Kept figures younger than this are shown as they are; older ones are shown (with the time they
#: were counted) while a worker counts them again, up to STATS_KEPT_FOR, past which (nobody looked,
#: or no worker recounted them) the view counts itself.
STATS_TTL = 30
STATS_KEPT_FOR = 3600
#: Campaigns with at least this many confirmed actions have their figures counted by a worker before
#: anyone asks (`keep_big_dashboards_ready`): past it, counting them takes a tenth of a second or more.
READY_FROM = 20_000


@dataclass(frozen=True)
class StatusCounts:
    confirmed: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.confirmed + self.pending

    @property
    def conversion(self) -> float | None:
        """Percentage of actions confirmed; None before the first action (not a misleading 0%)."""
        return 100 * self.confirmed / self.total if self.total else None


@dataclass(frozen=True)
class MemberCounts:
    slug: str
    name: str
    counts: StatusCounts


@dataclass(frozen=True)
class Bucket:
    start: datetime
    counts: StatusCounts


@dataclass(frozen=True)
class CampaignStats:
    overall: StatusCounts
    by_member: list[MemberCounts]
    timeline: list[Bucket]
    granularity: str  # "hour" or "day", in UTC
    #: Confirmed actions recorded through members' API keys (shown apart; maybe not in the tally).
    api_confirmed: int = 0
    #: When kept figures were counted (the page says so); None when counted for this view.
    counted_at: datetime | None = field(default=None, compare=False)


def _counts(pairs: dict[str, int]) -> StatusCounts:
    return StatusCounts(confirmed=pairs.get("confirmed", 0), pending=pairs.get("pending", 0))


def _stats_key(campaign_id: int) -> str:
    return f"chorus:dashboard:{campaign_id}"


def campaign_stats(campaign: Campaign, now: datetime | None = None) -> CampaignStats:
    """The dashboard's figures. A big campaign's take a second to count at a million actions: they
    are kept in Redis (shared by every web node), and once STATS_TTL old they are still shown, with
    the time they were counted, while a worker counts them again (one job per campaign at a time), so
    an admin waits for the count only when no copy under STATS_KEPT_FOR exists. Small ones are always
    live. With `now` (a chart as of another moment) they are counted afresh."""
    if now is not None:
        return compute_stats(campaign, now)
    cached = redis_store.client.get(_stats_key(campaign.id))
    if cached is not None:
        stats = _stats_from_json(cached)
        age = time.time() - stats.counted_at.timestamp()
        if 0 <= age <= STATS_KEPT_FOR:
            if age > STATS_TTL:
                queues.kick_stats_recount(campaign.id)
            return stats
    started = time.perf_counter()
    stats = compute_stats(campaign)
    if time.perf_counter() - started > SLOW_STATS_SECONDS:
        _keep(campaign.id, stats)
    return stats


@periodic("dashboard-ready", every_seconds=300)
def keep_big_dashboards_ready() -> None:
    """Count a big campaign's figures before its admins look: its first view, or the first after an
    hour unseen, would otherwise count inline (a second or more at a million actions). A campaign
    nobody looks at is counted again once an hour at most, when its copy expires."""
    campaign_ids = db.session.scalars(select(Campaign.id)).all()
    if not campaign_ids:
        return
    pipe = redis_store.client.pipeline(transaction=False)
    for campaign_id in campaign_ids:
        pipe.hget(tally.tally_key(campaign_id), "total")
        pipe.exists(_stats_key(campaign_id))
    found = pipe.execute()
    for campaign_id, total, kept in zip(campaign_ids, found[::2], found[1::2], strict=True):
        if int(total or 0) >= READY_FROM and not kept:
            queues.kick_stats_recount(campaign_id)


def recount_stats(campaign_id: int) -> None:
    """The worker's half of `campaign_stats`: count a kept dashboard's figures again."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is not None:
        _keep(campaign.id, compute_stats(campaign))


def _keep(campaign_id: int, stats: CampaignStats) -> None:
    kept = json.dumps({**asdict(stats), "counted_at": time.time()}, default=str)  # a number: compared as one
    redis_store.client.set(_stats_key(campaign_id), kept, ex=STATS_KEPT_FOR)


def forget_stats(campaign_id: int) -> None:
    redis_store.client.delete(_stats_key(campaign_id))


def _stats_from_json(raw: bytes) -> CampaignStats:
    """The kept figures, counted at the epoch if kept before the time was noted (so counted again)."""
    data = json.loads(raw)
    return CampaignStats(
        overall=StatusCounts(**data["overall"]),
        by_member=[MemberCounts(m["slug"], m["name"], StatusCounts(**m["counts"])) for m in data["by_member"]],
        timeline=[Bucket(datetime.fromisoformat(b["start"]), StatusCounts(**b["counts"])) for b in data["timeline"]],
        granularity=data["granularity"],
        api_confirmed=data.get("api_confirmed", 0),
        counted_at=datetime.fromtimestamp(data.get("counted_at") or 0.0, UTC),
    )


def compute_stats(campaign: Campaign, now: datetime | None = None) -> CampaignStats:
    """Every member's actions on `campaign`, as counts only (a deliberate cross-member read)."""
    now = now or utcnow()
    by_org: dict[int, dict[str, int]] = {}
    for org_id, status, n in db.session.execute(
        select(Action.org_id, Action.status, func.count())
        .where(Action.campaign_id == campaign.id)
        .group_by(Action.org_id, Action.status)
        .execution_options(all_orgs=True)
    ):
        by_org.setdefault(org_id, {})[status] = n
    granularity = "hour" if now - campaign.created_at < HOURLY_UNTIL else "day"
    return CampaignStats(
        overall=StatusCounts(
            confirmed=sum(c.get("confirmed", 0) for c in by_org.values()),
            pending=sum(c.get("pending", 0) for c in by_org.values()),
        ),
        by_member=_by_member(campaign, by_org),
        timeline=_timeline(campaign, granularity, now),
        granularity=granularity,
        api_confirmed=db.session.scalar(
            select(func.count())
            .where(Action.campaign_id == campaign.id, Action.source == "api", Action.status == "confirmed")
            .execution_options(all_orgs=True)
        ),
    )


def _by_member(campaign: Campaign, by_org: dict[int, dict[str, int]]) -> list[MemberCounts]:
    """Every accepted host (even with no action yet) and any former host whose site took actions."""
    org_ids = {h.org_id for h in campaign.hosts if h.accepted} | set(by_org)
    orgs = db.session.scalars(select(Organization).where(Organization.id.in_(org_ids))).all() if org_ids else []
    members = [MemberCounts(o.slug, o.name, _counts(by_org.get(o.id, {}))) for o in orgs]
    return sorted(members, key=lambda m: (-m.counts.total, m.name.lower()))


def _bucket_expression(column, granularity: str):
    """The start of the hour or day (UTC) a timestamp falls in, computed by the database."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return func.date_trunc(literal_column(f"'{granularity}'"), func.timezone(literal_column("'UTC'"), column))
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00" if granularity == "hour" else "%Y-%m-%d 00:00:00", column)
    raise NotImplementedError(f"no time buckets for {dialect}")


def _bucket_start(value: datetime | str) -> datetime:
    """PostgreSQL returns a naive UTC timestamp, SQLite the text strftime made."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _truncate(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment if granularity == "hour" else moment.replace(hour=0)


def _timeline(campaign: Campaign, granularity: str, now: datetime) -> list[Bucket]:
    """Actions per hour or day, by current status, with empty buckets filled so the time axis is even.

    A live campaign's line runs to now; one that stopped taking actions ends at its last action.
    """
    bucketed = (
        select(_bucket_expression(Action.created_at, granularity).label("start"), Action.status)
        .where(Action.campaign_id == campaign.id)
        .subquery()
    )
    counted: dict[datetime, dict[str, int]] = {}
    for start, status, n in db.session.execute(
        select(bucketed.c.start, bucketed.c.status, func.count())
        .group_by(bucketed.c.start, bucketed.c.status)
        .execution_options(all_orgs=True)
    ):
        counted.setdefault(_bucket_start(start), {})[status] = n
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    first = min([_truncate(campaign.created_at, granularity), *counted])
    last = max([first, *counted, *([_truncate(now, granularity)] if campaign.accepting_actions else [])])
    return [
        Bucket(first + i * step, _counts(counted.get(first + i * step, {})))
        for i in range(int((last - first) / step) + 1)
    ]


@dataclass(frozen=True)
class SupporterRow:
    first_name: str
    last_name: str
    email: str
    status: str
    created_at: datetime
    campaign_slug: str
    campaign_title: str
    site_name: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class SupporterPage:
    rows: list[SupporterRow]
    total: int
    page: int
    pages: int
    estimated: bool = False  # `total` (and so `pages`) is PostgreSQL's estimate, past EXACT_COUNT_UP_TO


def _matching(statement: Select, search: str, campaign_slug: str) -> Select:
    """No join: the count and the page boundary walk one index of `actions` alone."""
    if campaign_slug:
        statement = statement.where(
            Action.campaign_id == select(Campaign.id).where(Campaign.slug == campaign_slug).scalar_subquery()
        )
    if search:
        # One expression, trigram-indexed on PostgreSQL (ix_actions_search); LIKE is case-blind there
        # because both sides are lower-cased, and on SQLite for ASCII anyway.
        statement = statement.where(search_text(Action).contains(search.lower(), autoescape=True))
    return statement


def _newest_first(statement: Select) -> Select:
    return statement.order_by(Action.created_at.desc(), Action.id.desc())


def _count(search: str, campaign_slug: str) -> tuple[int, bool]:
    """(visible rows, estimated?): exact up to EXACT_COUNT_UP_TO, else the planner's row estimate."""
    capped = select(Action.id).limit(EXACT_COUNT_UP_TO + 1)
    counted = db.session.scalar(select(func.count()).select_from(_matching(capped, search, campaign_slug).subquery()))
    if counted <= EXACT_COUNT_UP_TO or db.engine.dialect.name != "postgresql":
        if counted > EXACT_COUNT_UP_TO:
            counted = db.session.scalar(_matching(select(func.count(Action.id)), search, campaign_slug))
        return counted, False
    # The plan of the rows themselves, not of their count: its top node's row estimate is the whole
    # table's even when the scan is parallel (under a count, each worker's scan estimates its share).
    plan = db.session.scalar(_matching(select(Action.id), search, campaign_slug).execution_options(chorus_explain=True))
    return max(int(plan[0]["Plan"]["Plan Rows"]), counted), True


def supporters(search: str = "", campaign_slug: str = "", page: int = 1) -> SupporterPage:
    """The current member's supporters, newest first: actions through its site or shared with it.

    Scoped by chorus.tenancy like every query on Action; with no member bound it returns nothing.
    `page` past the end shows the last page. A million rows cost no more than a few thousand: the
    count stops at EXACT_COUNT_UP_TO (then estimates), and a page is found by walking the
    (created_at, id) index to its first row and seeking there, never by sorting every row; a search
    with fewer matches than that sorts just its matches.
    """
    search = search.strip()[:SEARCH_MAX_LENGTH]
    total, estimated = _count(search, campaign_slug)
    if search and total <= EXACT_COUNT_UP_TO:
        return _few_matches(search, campaign_slug, total, page)
    pages = max(1, math.ceil(total / SUPPORTERS_PER_PAGE))
    page = min(max(page, 1), pages)
    newest = _newest_first(_matching(_page_columns(), search, campaign_slug)).limit(SUPPORTERS_PER_PAGE)
    if page == 1:  # starts at the newest row: no boundary to find (each query hashes the shared consents)
        return _supporter_page(db.session.execute(newest).all(), total, page, pages, estimated)
    boundary = db.session.execute(
        _newest_first(_matching(select(Action.created_at, Action.id), search, campaign_slug))
        .offset((page - 1) * SUPPORTERS_PER_PAGE)
        .limit(1)
    ).first()
    if boundary is None:  # the estimate promised more pages than there are
        total = db.session.scalar(_matching(select(func.count(Action.id)), search, campaign_slug))
        pages = max(1, math.ceil(total / SUPPORTERS_PER_PAGE))
        return supporters(search, campaign_slug, pages)
    rows = db.session.execute(
        newest.where(tuple_(Action.created_at, Action.id) <= tuple_(boundary.created_at, boundary.id))
    ).all()
    return _supporter_page(rows, total, page, pages, estimated)


def _page_columns(source=Action) -> Select:
    """What a page shows, from `actions` or from the columns of a CTE of its rows."""
    return (
        select(
            source.first_name,
            source.last_name,
            source.email,
            source.status,
            source.created_at,
            Campaign.slug.label("campaign_slug"),
            Campaign.title.label("campaign_title"),
            Organization.name.label("site_name"),
        )
        .join(Campaign, Campaign.id == source.campaign_id)
        .join(Organization, Organization.id == source.org_id)
    )


def _few_matches(search: str, campaign_slug: str, total: int, page: int) -> SupporterPage:
    """A search with an exact (so small) count: its matches are found all at once (the trigram index
    on PostgreSQL) and sorted, then the page is taken. Walking the (created_at, id) index for the
    newest match reads every newer row first: most of the table when the few matches are old."""
    pages = max(1, math.ceil(total / SUPPORTERS_PER_PAGE))
    page = min(max(page, 1), pages)
    # The matches carry every column the page shows, so the outer query reads no `actions` row again
    # (scoped once more there, the planner would scan the table to apply the scope's OR).
    found = (
        _matching(
            select(Action.id, Action.first_name, Action.last_name, Action.email, Action.status).add_columns(
                Action.created_at, Action.campaign_id, Action.org_id
            ),
            search,
            campaign_slug,
        )
        .cte("matches")
        .prefix_with("MATERIALIZED", dialect="postgresql")  # not inlined: the planner would walk again
    )
    m = found.c
    rows = db.session.execute(
        _page_columns(m)
        .order_by(m.created_at.desc(), m.id.desc())
        .offset((page - 1) * SUPPORTERS_PER_PAGE)
        .limit(SUPPORTERS_PER_PAGE)
    ).all()
    return _supporter_page(rows, total, page, pages, False)


def _supporter_page(rows, total: int, page: int, pages: int, estimated: bool) -> SupporterPage:
    # In UTC whatever the database session's time zone.
    found = [SupporterRow(**{**r._asdict(), "created_at": r.created_at.astimezone(UTC)}) for r in rows]
    return SupporterPage(found, total, page, pages, estimated)


def hosted_campaigns(org: Organization) -> list[Campaign]:
    """The campaigns a member shows on its site: the choices of the supporter list's filter."""
    return list(
        db.session.scalars(
            select(Campaign)
            .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
            .where(CampaignHost.org_id == org.id)
            .order_by(Campaign.title)
        )
    )
