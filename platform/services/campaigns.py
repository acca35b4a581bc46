"""Finding campaigns as a member site shows them."""

from __future__ import annotations

from flask import abort
from sqlalchemy import func, select

from chorus.extensions import db
from chorus.models import Campaign, CampaignHost, Organization

PUBLIC_STATUSES = ("live", "paused", "closed")


def hosted_by(org: Organization):
    """Campaigns whose pages `org` shows: its own and the shared ones it accepted."""
    return (
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(CampaignHost.org_id == org.id, CampaignHost.accepted.is_(True))
        .where(Campaign.status.in_(PUBLIC_STATUSES))
        .order_by(Campaign.status != "live", Campaign.created_at.desc())
    )


def get_hosted_or_404(org: Organization, slug: str) -> Campaign:
    campaign = db.session.scalar(hosted_by(org).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    return campaign


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
