"""Test data. Organizations come first: every campaign and action belongs to one."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from rq import SimpleWorker

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Action, Campaign, CampaignHost, Organization, User

_seq = itertools.count(1)


def make_org(slug: str | None = None, **fields) -> Organization:
    n = next(_seq)
    org = Organization(slug=slug or f"member-{n}", name=fields.pop("name", f"Member {n}"), **fields)
    db.session.add(org)
    db.session.commit()
    return org


def make_campaign(owner: Organization, hosts: list[Organization] = (), **fields) -> Campaign:
    n = next(_seq)
    campaign = Campaign(
        slug=fields.pop("slug", f"campaign-{n}"),
        kind=fields.pop("kind", "petition"),
        owner_org_id=owner.id,
        title=fields.pop("title", f"Campaign {n}"),
        summary=fields.pop("summary", "A test campaign."),
        body=fields.pop("body", "Please sign."),
        goal=fields.pop("goal", 100),
        status=fields.pop("status", "live"),
        ask_location=fields.pop("ask_location", True),  # most tests post a postal code and a country
        hosts=[CampaignHost(org_id=o.id, accepted=True) for o in [owner, *hosts]],
        **fields,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def supporter(email: str = "ana@example.org", **fields) -> dict[str, str]:
    return {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "email": email,
        "postal_code": "94110",
        "country": "US",
        **fields,
    }


def sign(client, org_slug: str, campaign_slug: str, data: dict, **kwargs):
    """GET the campaign page for its token, then POST the action form, as a browser does."""
    page = client.get(f"/{org_slug}/{campaign_slug}")
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
    return client.post(f"/{org_slug}/{campaign_slug}", data=form, **kwargs)


def run_jobs() -> None:
    """Run every queued job through a real RQ worker (serialized through Redis, as in production)."""
    SimpleWorker([queues.queue(name) for name in queues.QUEUES], connection=redis_store.client).work(burst=True)


def confirm_link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://[^/\s]+(/confirm/\S+)", body)  # the shared host or a member's own
    assert match, body
    return match.group(1)


PASSWORD = "correct horse battery staple"


def make_user(email: str, role: str = "org-admin", org: Organization | None = None) -> User:
    from chorus.services.accounts import create_user

    return create_user(email, PASSWORD, role, org)[0]


def login(client, email: str, password: str = PASSWORD):
    page = client.get("/admin/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": token})


def session_csrf(client, path: str = "/admin/") -> str:
    """The session-bound CSRF token the admin pages carry."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def make_letter_campaign(owner: Organization, targets: list[dict] | None = None, **fields) -> Campaign:
    """A letter campaign with fixed targets (or `targeting="location"` and no targets)."""
    from chorus.models import CampaignTarget, Official

    defaults = {
        "kind": "letter",
        "letter_subject": "Fund legal counsel",
        "letter_greeting": "Dear Governor,",
        "letter_body": "Please fund counsel for children.",
        "letter_closing": "Respectfully,",
    }
    campaign = make_campaign(owner, **{**defaults, **fields})
    for spec in targets if targets is not None else [{"name": "Elena Alvarez", "email": "governor@example.org"}]:
        campaign.targets.append(CampaignTarget(official=Official(title=spec.pop("title", "Governor"), **spec)))
    db.session.commit()
    return campaign


def letter(email: str = "ana@example.org", **fields) -> dict[str, str]:
    return supporter(email, **{"subject": "My own subject", "body": "As a parent I ask you to act.", **fields})


def run_deliveries():
    """One delivery pass in this process (what the worker's deliver_letters job does)."""
    from chorus.services import delivery

    return delivery.run(max_seconds=30)


def add_actions(
    campaign: Campaign,
    site: Organization,
    count: int,
    *,
    status: str = "confirmed",
    start: datetime | None = None,
    every: timedelta = timedelta(minutes=1),
    prefix: str = "bulk",
    source: str = "web",
) -> None:
    """Insert actions directly (no HTTP, no mail): many rows in one commit."""
    start = start or datetime.now(UTC) - timedelta(hours=count)
    db.session.add_all(
        Action(
            campaign_id=campaign.id,
            org_id=site.id,
            email=f"{prefix}{i:03d}@example.org",
            email_normalized=f"{prefix}{i:03d}@example.org",
            first_name="Supporter",
            last_name=f"{prefix.title()}{i:03d}",
            status=status,
            created_at=start + i * every,
            confirmed_at=start + i * every if status == "confirmed" else None,
            source=source,
        )
        for i in range(1, count + 1)
    )
    db.session.commit()


def make_statement(owner: Organization, hosts: list[Organization] = (), author: User | None = None, **fields):
    """A statement whose first version an independent moderator approved (published on every host)."""
    from chorus.services import moderation, statements

    author = author or make_user(f"author{next(_seq)}@example.org", "org-admin", owner)
    approver = make_user(f"moderator{next(_seq)}@example.org", "moderator")  # never the author
    draft = statements.Draft(
        fields.pop("title", "We stand together"),
        fields.pop("body", "Families belong **together**."),
        fields.pop("call_to_action", "Sign on and spread the word."),
    )
    slug = fields.pop("slug", f"statement-{next(_seq)}")
    campaign = statements.create(owner, author, slug, draft, list(hosts), fields.pop("order", "alphabetical"))
    moderation.decide(approver, "version", [statements.versions(campaign)[0].id], "approve")
    return campaign


def org_sign_on(name: str = "Acme Workers", email: str = "contact@acme.example", **fields) -> dict[str, str]:
    return {
        "organization_name": name,
        "contact_name": "Rosa Díaz",
        "email": email,
        "website": "https://acme.example",
        "country": "MX",
        **fields,
    }


def signon_link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"http://chorus\.test(/signon/\S+)", body)
    assert match, body
    return match.group(1)


def press(client, path: str, **form):
    """GET a one-button page for its token, then POST it (confirm, keep, retract)."""
    return client.post(path, data={"csrf_token": csrf_token(client.get(path).get_data(as_text=True)), **form})
