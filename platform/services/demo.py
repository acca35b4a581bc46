"""The demo coalition: four fictional members (from tenants/) and campaigns written for Chorus."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Campaign, CampaignHost, CampaignTarget, Official, Organization
from chorus.services import tenants

CAMPAIGNS = [
    {
        "slug": "keep-families-together",
        "kind": "petition",
        "owner": "puentes",
        "hosts": ["puentes", "harbor-workers", "open-table", "riverside-legal"],
        "title": "Keep families together at the border",
        "addressee": "The U.S. Congress",
        "ask_location": True,  # the coalition groups signatures by district for its lobby visits
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
        "addressee": "The Port Employers' Association",
        "ask_location": False,
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


LETTER = {
    "slug": "write-to-the-governor",
    "kind": "letter",
    "owner": "riverside-legal",
    "hosts": ["riverside-legal", "puentes", "open-table"],
    "title": "Write to the Governor: fund legal counsel for children",
    "summary": "Children face immigration judges alone. Ask the Governor and the Attorney General to fund "
    "a lawyer for every child.",
    "goal": 2000,
    "body": "Review the draft below, make it your own (a sentence about why this matters to you helps most), "
    "and send it. You will get a copy by e-mail.",
    "letter_subject": "Please fund legal counsel for every child in immigration court",
    "letter_greeting": "Dear Governor Alvarez and Attorney General Okafor,",
    "letter_body": "I live in our state and I am writing because children as young as five are appearing in "
    "immigration court without a lawyer.\n\nWith counsel, a child is several times more likely to be "
    "allowed to stay safely. Our legal aid clinics are ready to do this work; they need stable funding.\n\n"
    "I ask you to include funding for legal counsel for every child in this year's budget.",
    "letter_closing": "Thank you for your attention. I look forward to your answer.",
    "targets": [
        {
            "name": "Elena Alvarez",
            "title": "Governor",
            "office": "Office of the Governor",
            "email": "governor@example.org",
        },
        {
            "name": "Samuel Okafor",
            "title": "Attorney General",
            "office": "Office of the Attorney General",
            "email": "attorney.general@example.org",
        },
    ],
}


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
            addressee=spec["addressee"],
            ask_location=spec["ask_location"],
            status="live",
            hosts=[CampaignHost(org_id=orgs[slug].id, accepted=True) for slug in spec["hosts"]],
        )
        db.session.add(campaign)
        created.append(spec["slug"])
    if not db.session.scalar(select(Campaign.id).where(Campaign.slug == LETTER["slug"])):
        db.session.add(_letter_campaign(orgs))
        created.append(LETTER["slug"])
    db.session.commit()
    return created


def _letter_campaign(orgs: dict[str, Organization]) -> Campaign:
    """Delivered one by one to fixed targets at example.org: a new user sees letters in the outbox."""
    fields = {k: v for k, v in LETTER.items() if k not in ("owner", "hosts", "targets")}
    campaign = Campaign(**fields, owner_org_id=orgs[LETTER["owner"]].id, status="live")
    campaign.hosts = [CampaignHost(org_id=orgs[slug].id, accepted=True) for slug in LETTER["hosts"]]
    for spec in LETTER["targets"]:
        official = db.session.scalar(select(Official).where(Official.email == spec["email"]))
        if official is None:
            official = Official(**spec, country="US")
        campaign.targets.append(CampaignTarget(official=official))
    return campaign
