"""Finding campaigns as a member site shows them.

The public pages look up the member and the campaign on every request, a crowd signing included. Each
process keeps what it found for LOOKUP_TTL seconds (issue 11: at most 2 s, so a pause, a close or a
new host reaches every node within that), as detached copies merged into the request's session
without SQL; "not found" is never kept (a campaign published a moment later must be found). A commit
in this process that changes a member, a campaign or its hosts clears the copies at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from chorus.extensions import db
from chorus.models import Campaign, CampaignHost, MemberHost, Organization
from chorus.services import recent

PUBLIC_STATUSES = ("live", "paused", "closed")
#: Seconds a process trusts its copy of a member or a campaign (issue 11: at most 2).
LOOKUP_TTL = 1.0
LOOKUPS_KEY = "chorus.lookups"
#: Changing one of these in this process clears its copies when the change commits.
_LOOKED_UP = (Organization, MemberHost, Campaign, CampaignHost)
_CHANGED = "chorus.lookups_changed"

T = TypeVar("T")


def _lookups() -> dict:
    return current_app.extensions.setdefault(LOOKUPS_KEY, {})


def forget_lookups() -> None:
    """Drop this process's copies (other processes drop theirs within LOOKUP_TTL)."""
    if has_app_context():
        _lookups().clear()


def _cached(key: tuple, load: Callable[[Session], T | None]) -> T | None:
    """`load`'s object as of at most LOOKUP_TTL ago, merged into the request's session (no SQL)."""
    found = _copy(key, load)
    return None if found is None else db.session.merge(found, load=False)


def _copy(key: tuple, load: Callable[[Session], T | None]) -> T | None:
    """The shared detached copy itself: read its loaded attributes only, never change it."""

    def detached() -> T | None:
        with Session(db.engine, expire_on_commit=False) as session:
            found = load(session)
            session.expunge_all()
        return found

    return recent.fresh(_lookups(), key, LOOKUP_TTL, detached)


def _campaign_loaded(campaign: Campaign) -> Campaign:
    """What the pages and signing read goes into the copy: its hosts, their members and its owner."""
    for host in campaign.hosts:
        host.org  # noqa: B018 - loaded (joined) with the host; touched so the copy holds it
    return campaign


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    if any(isinstance(o, _LOOKED_UP) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        if issubclass(state.bind_mapper.class_, _LOOKED_UP):
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget_lookups()


@event.listens_for(Session, "after_soft_rollback")
def _nothing_changed(session: Session, _previous) -> None:
    session.info.pop(_CHANGED, None)


def hosted_by(org: Organization):
    """Campaigns whose pages `org` shows: its own and the shared ones it accepted."""
    return _hosted_by_id(org.id)


def _hosted_by_id(org_id: int):
    return (
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(CampaignHost.org_id == org_id, CampaignHost.accepted.is_(True))
        .where(Campaign.status.in_(PUBLIC_STATUSES))
        .order_by(Campaign.status != "live", Campaign.created_at.desc())
    )


def get_hosted_or_404(org: Organization, slug: str) -> Campaign:
    """The campaign `org`'s site shows at `slug` (see the module's note on the per-process copy)."""
    campaign = _cached(*_hosted_lookup(org.id, slug))
    if campaign is None:
        abort(404)
    return campaign


def _hosted_lookup(org_id: int, slug: str) -> tuple[tuple, Callable[[Session], Campaign | None]]:
    def load(session: Session) -> Campaign | None:
        found = session.scalar(_hosted_by_id(org_id).where(Campaign.slug == slug))
        return None if found is None else _campaign_loaded(found)

    return ("campaign", org_id, slug), load


def hosted_copy(org_slug: str, slug: str) -> tuple[Organization, Campaign] | None:
    """The member and the campaign its site shows at `slug`, as this process's shared detached copies
    (no session, no SQL while fresh): for chorus.public.sign_shortcut, which only reads them."""
    org = _copy(*_org_lookup(org_slug))
    campaign = None if org is None else _copy(*_hosted_lookup(org.id, slug))
    return None if campaign is None else (org, campaign)


def others_on_site(org: Organization, campaign: Campaign, limit: int = 3) -> list[Campaign]:
    """Live campaigns of the member's site besides `campaign`: the next step after acting."""
    query = hosted_by(org).where(Campaign.status == "live", Campaign.id != campaign.id).limit(limit)
    return list(db.session.scalars(query))


def coalition_overview() -> list[tuple[Campaign, int]]:
    """Every public campaign with the number of member sites hosting it, most shared first."""
    hosts = (
        select(CampaignHost.campaign_id, func.count().label("n"))
        .where(CampaignHost.accepted.is_(True))
        .group_by(CampaignHost.campaign_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Campaign, hosts.c.n)
        .join(hosts, hosts.c.campaign_id == Campaign.id)
        .where(Campaign.status.in_(PUBLIC_STATUSES))
        .order_by(Campaign.status != "live", hosts.c.n.desc(), Campaign.created_at.desc())
    ).all()
    return [(campaign, count) for campaign, count in rows]


def organizations() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


def get_org(slug: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.slug == slug))


def site_org(slug: str) -> Organization | None:
    """The member whose site a public request is on (see the module's note on the per-process copy)."""
    return _cached(*_org_lookup(slug))


def _org_lookup(slug: str) -> tuple[tuple, Callable[[Session], Organization | None]]:
    return ("org", slug), lambda s: s.scalar(select(Organization).where(Organization.slug == slug))
