"""The demo coalition: four fictional members (from tenants/) and campaigns written for Chorus."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign, CampaignHost, Organization
from chorus.services import tenants

CAMPAIGNS = [
    {
        "slug": "keep-families-together",
        "kind": "petition",
        "owner": "puentes",
        "hosts": ["puentes", "harbor-workers", "open-table", "riverside-legal"],
        "title": "Keep families together at the border",
        "summary": "Children belong with their parents, not in detention centres. Add your name to ask "
        "our representatives to end family detention this year.",
        "goal": 10000,
        "body": (
            "Every week, families who arrive asking for protection are split up and held apart for "
            "months. Parents lose track of their children; children lose years of school.\n\n"
            "The members of our coalition (unions, congregations, legal aid clinics and migrant-led "
            "groups) see the damage every day. Together we ask our representatives to:\n\n"
            "1. **end the detention of children** and keep families together while their cases are heard;\n"
            "2. **fund community case management**, which costs a fraction of detention;\n"
            "3. **guarantee legal counsel** to every child in immigration court.\n\n"
            "Sign through any member's site: every signature counts in one shared total."
        ),
    },
    {
        "slug": "fair-shifts",
        "kind": "petition",
        "owner": "harbor-workers",
        "hosts": ["harbor-workers"],
        "title": "Fair shifts at the port warehouses",
        "summary": "Two weeks' notice of schedules and pay for cancelled shifts, for every warehouse "
        "worker at the port.",
        "goal": 1500,
        "body": (
            "Warehouse workers at the port learn their shifts by text message the night before, and "
            "lose a day's pay when a shift is cancelled at the gate.\n\n"
            "We call on the port employers' association to publish schedules **two weeks ahead** and to "
            "pay **four hours** for any shift cancelled with less than a day's notice."
        ),
    },
]


def load() -> list[str]:
    """Sync tenants/, then create the demo campaigns that do not exist yet (safe to run again)."""
    tenants.sync(Path(current_app.config["CHORUS_TENANTS_DIR"]))
    orgs = {o.slug: o for o in db.session.scalars(select(Organization))}
    created = []
    for spec in CAMPAIGNS:
        if db.session.scalar(select(Campaign.id).where(Campaign.slug == spec["slug"])):
            continue
        campaign = Campaign(
            slug=spec["slug"],
            kind=spec["kind"],
            owner_org_id=orgs[spec["owner"]].id,
            title=spec["title"],
            summary=spec["summary"],
            body=spec["body"],
            goal=spec["goal"],
            status="live",
            hosts=[CampaignHost(org_id=orgs[slug].id, accepted=True) for slug in spec["hosts"]],
        )
        db.session.add(campaign)
        created.append(spec["slug"])
    db.session.commit()
    return created
