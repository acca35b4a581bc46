"""Chorus as Action Network / OSDI documents: the representations the API serves and webhooks send,
and the paged queries behind them.

Every supporter query here runs inside the tenancy scope of the member the caller acts for
(chorus.tenancy): the API enters the key's member, the webhook job its endpoint's member. Nothing
here filters supporter data by member by hand; counts (a petition's total) come from the tally.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from flask import current_app, has_request_context, request
from sqlalchemy import Select, func, select, union
from sqlalchemy.exc import IntegrityError

from chorus import tenancy
from chorus.extensions import db, redis_store
from chorus.models import (
    Action,
    Campaign,
    CampaignHost,
    Contact,
    Organization,
    SignOn,
    StatementVersion,
    Tag,
    Tagging,
)
from chorus.models.api import person_uuid_for
from chorus.models.base import as_utc, utcnow
from chorus.services import letters, statements, supporter_mail, tally

MAX_PER_PAGE = 25
#: Seconds a collection's total and its page boundaries are reused: a client walking a million rows
#: costs a count every half minute and a boundary scan a minute, not one per page.
COUNT_TTL = 30
BOUNDARY_TTL = 60
CURIES = [
    {"name": "osdi", "href": "https://actionnetwork.org/docs/v2/{rel}", "templated": True},
    {"name": "action_network", "href": "https://actionnetwork.org/docs/v2/{rel}", "templated": True},
    {"name": "chorus", "href": "/api/v2/openapi.json#{rel}", "templated": True},
]
#: The one filter Action Network clients use on people: filter=email_address eq 'someone@example.org'
EMAIL_FILTER = re.compile(r"^\s*email(?:_address)?\s+eq\s+'([^'\s]{1,254})'\s*$")
#: Action Network's incremental sync: filter=modified_date gt '2026-01-01' (or lt; clauses joined by "and").
DATE_CLAUSE = re.compile(r"modified_date\s+(gt|lt)\s+'([^']{1,40})'")
#: A campaign's kind -> the OSDI collection it appears in.
COLLECTION = {"petition": "petitions", "statement": "petitions", "letter": "advocacy_campaigns"}


def base_url() -> str:
    """Absolute links, as Action Network writes them: the host the client called, else the public URL."""
    if has_request_context():
        return request.host_url.rstrip("/")
    return current_app.config["CHORUS_BASE_URL"]


def href(path: str) -> dict[str, str]:
    return {"href": f"{base_url()}/api/v2/{path}"}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identifiers(uuid: str) -> list[str]:
    return [f"action_network:{uuid}", f"chorus:{uuid}"]


def parse_id(value: str) -> str:
    """Clients send ids bare or with a prefix ("action_network:<uuid>", "chorus:<uuid>")."""
    for prefix in ("action_network:", "chorus:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


# --- representations ------------------------------------------------------------------------


def campaign_doc(campaign: Campaign, site: Organization) -> dict:
    collection = COLLECTION[campaign.kind]
    path = f"{collection}/{campaign.uuid}"
    doc = {
        "identifiers": identifiers(campaign.uuid),
        "origin_system": "Chorus",
        "created_date": iso(campaign.created_at),
        "modified_date": iso(campaign.updated_at or campaign.created_at),
        "title": campaign.title,
        "description": campaign.summary,
        "browser_url": f"{base_url()}/{site.slug}/{campaign.slug}",
        "featured_image_url": f"{base_url()}/assets/{campaign.owner.slug}/{campaign.image}" if campaign.image else None,
        "action_network:hidden": campaign.status != "live",
        "chorus:kind": campaign.kind,
        "chorus:slug": campaign.slug,
        "chorus:status": campaign.status,
        "chorus:owner": campaign.owner.slug,
        "chorus:goal": campaign.goal,
        "chorus:count_api_actions": campaign.count_api_actions,
    }
    total = tally.read(campaign.id).total
    many, one = ("outreaches", "outreach") if campaign.kind == "letter" else ("signatures", "signature")
    doc["_links"] = {
        "self": href(path),
        f"osdi:{many}": href(f"{path}/{many}"),
        f"osdi:record_{one}_helper": href(f"{path}/{many}"),
        "action_network:embed": {"href": f"{base_url()}/{site.slug}/{campaign.slug}/embed"},
    }
    if campaign.kind == "letter":
        doc.update(type="email", targets=[target_doc(t.official) for t in campaign.targets], total_outreaches=total)
    else:
        doc.update(petition_text=campaign.body, target=[], total_signatures=total)
    if campaign.kind == "statement":  # Chorus's own extension: organizations' sign-ons
        meta = tally.campaign_meta(campaign.slug) if campaign.status != "draft" else None
        doc["chorus:total_sign_ons"] = (meta.organizations if meta else 0) or 0  # approved, as tally.json
        waiting = [v.number for v in statements.versions(campaign) if v.status == "pending"]
        doc["chorus:pending_version"] = waiting[0] if waiting else None  # a new text awaiting moderation
        doc["_links"]["chorus:sign_ons"] = href(f"{path}/sign_ons")
        doc["_links"]["chorus:record_sign_on_helper"] = href(f"{path}/sign_ons")
    return doc


def sign_on_doc(sign_on: SignOn, site: Organization) -> dict:
    """An organization's sign-on on a statement. The contact (name, address) only for the member
    whose site it came through (chorus.tenancy); a hidden one looks pending, as to its signer."""
    parent = f"petitions/{sign_on.campaign.uuid}"
    moments = [m for m in (sign_on.created_at, sign_on.confirmed_at, sign_on.decided_at) if m is not None]
    doc = {
        "identifiers": identifiers(sign_on.uuid),
        "created_date": iso(sign_on.created_at),
        "modified_date": iso(max(moments)),
        "organization_name": sign_on.organization_name,
        "website": sign_on.website,
        "country": sign_on.country,
        "status": statements.status_for_signer(sign_on),
        "comments": sign_on.message if sign_on.status == "approved" or tenancy.sees_sign_on_contact(sign_on) else "",
        "chorus:version": sign_on.version.number if sign_on.version else None,
        "chorus:member": sign_on.member_org.slug if sign_on.member_org else None,
        "chorus:site": sign_on.org.slug,
        "action_network:petition_id": sign_on.campaign.uuid,
    }
    if tenancy.sees_sign_on_contact(sign_on):
        doc["contact"] = {"name": sign_on.contact_name, "email": sign_on.email}
    links = {"self": href(f"{parent}/sign_ons/{sign_on.uuid}"), "osdi:petition": href(parent)}
    if sign_on.version:
        links["chorus:version"] = {
            "href": f"{base_url()}/{site.slug}/{sign_on.campaign.slug}/versions/{sign_on.version.number}"
        }
    doc["_links"] = links
    return doc


def target_doc(official) -> dict:
    given, _sep, family = official.name.partition(" ")
    return {"title": official.title, "given_name": given, "family_name": family, "organization": official.office}


@dataclass
class PersonRecord:
    """What a member knows of a person: their newest action or contact that it may see."""

    person_uuid: str
    email: str
    email_normalized: str
    given_name: str
    family_name: str
    postal_code: str
    country: str
    language: str
    created_at: datetime
    modified_at: datetime
    unsubscribed: bool = False


def person_doc(person: PersonRecord, links: bool = True) -> dict:
    doc = {
        "identifiers": identifiers(person.person_uuid),
        "created_date": iso(person.created_at),
        "modified_date": iso(person.modified_at),
        "given_name": person.given_name,
        "family_name": person.family_name,
        "languages_spoken": [person.language],
        "email_addresses": [
            {
                "primary": True,
                "address": person.email,
                "status": "unsubscribed" if person.unsubscribed else "subscribed",
            }
        ],
        "postal_addresses": [{"primary": True, "postal_code": person.postal_code, "country": person.country}],
        "custom_fields": {},
    }
    if links:
        path = f"people/{person.person_uuid}"
        doc["_links"] = {"self": href(path), "osdi:taggings": href(f"{path}/taggings")}
    return doc


def action_doc(action: Action) -> dict:
    """A signature (petitions, statements' endorsements) or an outreach (letters)."""
    collection = COLLECTION[action.campaign.kind]
    parent = f"{collection}/{action.campaign.uuid}"
    doc = {
        "identifiers": identifiers(action.uuid),
        "created_date": iso(action.created_at),
        "modified_date": iso(action.confirmed_at or action.created_at),
        "action_network:person_id": action.person_uuid,
        "chorus:status": action.status,
        "chorus:source": action.source,
        "chorus:site": action.org.slug,
    }
    links = {"osdi:person": href(f"people/{action.person_uuid}")}
    if action.campaign.kind == "letter":
        doc.update(
            type="email",
            subject=action.subject or action.campaign.letter_subject,
            message=action.body or action.campaign.letter_body,
            targets=[target_doc(o) for o in letters.targets_for(action.campaign, action.country, action.postal_code)],
        )
        doc["action_network:advocacy_campaign_id"] = action.campaign.uuid
        links.update(self=href(f"{parent}/outreaches/{action.uuid}"), **{"osdi:advocacy_campaign": href(parent)})
    else:
        doc["comments"] = action.comment
        doc["action_network:petition_id"] = action.campaign.uuid
        links.update(self=href(f"{parent}/signatures/{action.uuid}"), **{"osdi:petition": href(parent)})
    doc["_links"] = links
    return doc


def person_of_action(action: Action) -> PersonRecord:
    """The person as the member in scope sees them through one action: `unsubscribed` when they left
    its mail or the coalition's (the people list and this agree)."""
    record = _record_of_action(action)
    org_id = db.session.info.get(tenancy.ORG_KEY)
    record.unsubscribed = bool(supporter_mail.unsubscribed([record.email_normalized], org_id))
    return record


def _record_of_action(action: Action) -> PersonRecord:
    return PersonRecord(
        action.person_uuid,
        action.email,
        action.email_normalized,
        action.first_name,
        action.last_name,
        action.postal_code,
        action.country,
        action.language,
        action.created_at,
        action.confirmed_at or action.created_at,
    )


def tag_doc(tag: Tag) -> dict:
    return {
        "identifiers": identifiers(tag.uuid),
        "created_date": iso(tag.created_at),
        "modified_date": iso(tag.modified_at),
        "name": tag.name,
        "_links": {"self": href(f"tags/{tag.uuid}"), "osdi:taggings": href(f"tags/{tag.uuid}/taggings")},
    }


def tagging_doc(tagging: Tagging) -> dict:
    return {
        "identifiers": identifiers(tagging.uuid),
        "created_date": iso(tagging.created_at),
        "modified_date": iso(tagging.created_at),
        "item_type": "osdi:person",
        "_links": {
            "self": href(f"tags/{tagging.tag.uuid}/taggings/{tagging.uuid}"),
            "osdi:tag": href(f"tags/{tagging.tag.uuid}"),
            "osdi:person": href(f"people/{tagging.person_uuid}"),
        },
    }


# --- paging -----------------------------------------------------------------------------------


@dataclass
class Page:
    rows: list
    page: int
    per_page: int
    total_records: int
    next_cursor: str | None

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total_records / self.per_page))


def collection_doc(path: str, key: str, page: Page, items: list[dict], query: dict[str, str] | None = None) -> dict:
    """Action Network's collection envelope: page, per_page, totals, _links.next, _embedded. The
    query's values are URL-encoded: a filter's quotes, spaces, "+" or "&" must come back as sent."""
    extra = f"&{urlencode(query, quote_via=quote)}" if query else ""
    links: dict = {"self": href(f"{path}?page={page.page}&per_page={page.per_page}{extra}")}
    if page.next_cursor is not None and page.page < page.total_pages:
        links["next"] = href(f"{path}?page={page.page + 1}&per_page={page.per_page}&cursor={page.next_cursor}{extra}")
    if page.page > 1:
        links["previous"] = href(f"{path}?page={page.page - 1}&per_page={page.per_page}{extra}")
    links[key] = [item["_links"]["self"] for item in items]
    links["curies"] = CURIES
    return {
        "total_pages": page.total_pages,
        "per_page": page.per_page,
        "page": page.page,
        "total_records": page.total_records,
        "_links": links,
        "_embedded": {key: items},
    }


def _count(statement: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def _cached_count(cache_key: str, statement: Select) -> int:
    r = redis_store.client
    cached = r.get(cache_key)
    if cached is not None:
        return int(cached)
    total = _count(statement)
    r.set(cache_key, total, ex=COUNT_TTL)
    return total


def seek_page(
    cache_key: str,
    statement: Select,
    column,
    page: int,
    per_page: int,
    cursor: str | None,
    wrap=lambda row: row,
    appends: bool = True,
) -> Page:
    """Keyset pagination over `statement` ordered by `column` (unique, indexed).

    The cursor in `_links.next` continues from the last row with an index seek. A page that starts
    past the total is empty, as Action Network answers, without a query.

    `appends`: rows only ever join at the end (keys are ids that grow). Then the total is reused for
    half a minute, and a client jumping to a deep `page` without a cursor gets a seek too: every
    per_page-th key is read once by one index-only scan and kept for a minute, so page 40,000 costs
    what page 1 costs, not an OFFSET over a million rows; the kept boundaries stay true as rows join.
    Where a new key can land anywhere (people, ordered by a hash of the address; rows a filter on a
    changing date lets in), kept boundaries go wrong as soon as one does: the row it pushes off its
    page falls before the next kept boundary and is on no page, rows repeat when the boundaries are
    read again mid-walk, and a kept total is stale. Those are counted, and their page found with an
    OFFSET, on every request (a walk that should not see joins follows `_links.next` instead).
    """
    total = _cached_count(f"{cache_key}:count", statement) if appends else _count(statement)
    ordered = statement.order_by(column).limit(per_page)
    after = _as_key(column, cursor) if cursor is not None else None
    if after is not None:
        rows = db.session.execute(ordered.where(column > after)).all()
    elif page == 1:
        rows = db.session.execute(ordered).all()
    elif (page - 1) * per_page >= total:
        rows = []
    elif not appends:
        rows = db.session.execute(ordered.offset((page - 1) * per_page)).all()
    else:
        start = _boundary(f"{cache_key}:bounds:{per_page}", statement, column, page, per_page)
        rows = [] if start is None else db.session.execute(ordered.where(column >= start)).all()
    items = [wrap(row) for row in rows]
    last = getattr(rows[-1], "_mapping", {}).get("key") if rows else None
    next_cursor = str(last) if last is not None and len(rows) == per_page else None
    return Page(items, page, per_page, total, next_cursor)


def _as_key(column, cursor: str):
    """The cursor as a key of `column`; None (start from `page`) when it is not one."""
    if column.type.python_type is int:
        return int(cursor) if cursor.isdigit() and len(cursor) < 19 else None
    return cursor


def _boundary(bounds_key: str, statement: Select, column, page: int, per_page: int):
    r = redis_store.client
    index = page - 1
    found = r.lindex(bounds_key, index)
    if found is None and r.exists(bounds_key) and r.llen(bounds_key) > index:
        return None
    if found is None:
        inner = statement.order_by(None).subquery()
        numbered = select(inner.c.key, func.row_number().over(order_by=inner.c.key).label("n")).subquery()
        starts = db.session.scalars(
            select(numbered.c.key).where((numbered.c.n - 1) % per_page == 0).order_by(numbered.c.n)
        ).all()
        pipe = r.pipeline()
        pipe.delete(bounds_key)
        if starts:
            pipe.rpush(bounds_key, *[str(s) for s in starts])
            pipe.expire(bounds_key, BOUNDARY_TTL)
        pipe.execute()
        if index >= len(starts):
            return None
        return starts[index]
    return _as_key(column, found.decode())


def modified_between(statement: Select, modified, raw: str) -> Select | None:
    """`statement` narrowed by a modified_date filter on `modified` (the SQL of its items'
    modified_date); None when `raw` is not such a filter. A date without a zone is UTC's."""
    for clause in re.split(r"\s+and\s+", raw.strip()):
        match = DATE_CLAUSE.fullmatch(clause)
        try:
            moment = as_utc(datetime.fromisoformat(match.group(2))).astimezone(UTC) if match else None
        except (ValueError, OverflowError):  # not a date, or one whose zone moves it out of years 1-9999
            moment = None
        if moment is None:
            return None
        statement = statement.where(modified > moment if match.group(1) == "gt" else modified < moment)
    return statement


# --- queries (inside the caller's tenancy scope) ----------------------------------------------

#: Each collection's modified_date in SQL, as its document computes it (for filter=modified_date).
CAMPAIGN_MODIFIED = func.coalesce(Campaign.updated_at, Campaign.created_at)
ACTION_MODIFIED = func.coalesce(Action.confirmed_at, Action.created_at)
#: The latest of the three: a sign-on is decided (or retracted) after it is confirmed, confirmed after made.
SIGN_ON_MODIFIED = func.coalesce(SignOn.decided_at, SignOn.confirmed_at, SignOn.created_at)
TAG_MODIFIED = Tag.modified_at
TAGGING_MODIFIED = Tagging.created_at


def hosted_campaigns(org: Organization, kinds: tuple[str, ...]) -> Select:
    """Campaigns the member shows (its own and shared ones it hosts), drafts of its own included."""
    return (
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(CampaignHost.org_id == org.id, CampaignHost.accepted.is_(True), Campaign.kind.in_(kinds))
        .where((Campaign.status != "draft") | (Campaign.owner_org_id == org.id))
    )


def find_campaign(org: Organization, kinds: tuple[str, ...], uuid: str) -> Campaign | None:
    return db.session.scalar(hosted_campaigns(org, kinds).where(Campaign.uuid == parse_id(uuid)))


def actions_of(campaign: Campaign) -> Select:
    """The campaign's actions this member may see (the tenancy criterion is added on execution)."""
    return select(Action.id.label("key"), Action).where(Action.campaign_id == campaign.id)


def find_action(campaign: Campaign, uuid: str) -> Action | None:
    return db.session.scalar(select(Action).where(Action.campaign_id == campaign.id, Action.uuid == parse_id(uuid)))


def sign_ons_of(campaign: Campaign) -> Select:
    """The statement's sign-ons this member may list (chorus.tenancy.visible_sign_ons)."""
    return select(SignOn.id.label("key"), SignOn).where(
        SignOn.campaign_id == campaign.id, tenancy.visible_sign_ons(SignOn)
    )


def find_sign_on(campaign: Campaign, uuid: str) -> SignOn | None:
    return db.session.scalar(
        select(SignOn).where(
            SignOn.campaign_id == campaign.id, SignOn.uuid == parse_id(uuid), tenancy.visible_sign_ons(SignOn)
        )
    )


def people_ids() -> Select:
    """Every person this member may see: through an action, or added by its API (a contact)."""
    both = union(select(Action.person_uuid.label("key")), select(Contact.person_uuid.label("key"))).subquery()
    return select(both.c.key)


def person(person_uuid: str) -> PersonRecord | None:
    """The newest of what this member may see of one person (an action or a contact)."""
    return people([parse_id(person_uuid)]).get(parse_id(person_uuid))


def people(person_uuids: list[str]) -> dict[str, PersonRecord]:
    found: dict[str, PersonRecord] = {}
    if not person_uuids:
        return found
    records = [
        _record_of_action(a)
        for a in db.session.scalars(select(Action).where(Action.person_uuid.in_(person_uuids)).order_by(Action.id))
    ]
    records += [
        PersonRecord(
            c.person_uuid,
            c.email,
            c.email_normalized,
            c.given_name,
            c.family_name,
            c.postal_code,
            c.country,
            c.language,
            c.created_at,
            c.modified_at,
        )
        for c in db.session.scalars(select(Contact).where(Contact.person_uuid.in_(person_uuids)))
    ]
    for record in sorted(records, key=lambda r: r.modified_at):
        earlier = found.get(record.person_uuid)
        if earlier is not None:
            record.created_at = min(earlier.created_at, record.created_at)
        found[record.person_uuid] = record
    suppressed = supporter_mail.unsubscribed(
        [r.email_normalized for r in found.values()], db.session.info.get(tenancy.ORG_KEY)
    )
    for record in found.values():
        record.unsubscribed = record.email_normalized in suppressed
    return found


# --- writes (the key's member, committed here) ------------------------------------------------


class ConflictError(ValueError):
    """The request clashes with what exists (a 409 for the API)."""


def _slug_for(title: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "petition"
    base = base if base[0].isalnum() else f"p-{base}"
    slug, n = base, 1
    while db.session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_petition(org: Organization, fields: dict) -> Campaign:
    """A live petition owned by `org`, hosted on its own site (as Action Network publishes at once)."""
    campaign = Campaign(
        owner_org_id=org.id,
        kind="petition",
        status="live",
        slug=_slug_for(fields["title"]),
        title=fields["title"],
        summary=fields.get("summary") or "",
        body=fields.get("body") or "",
        goal=fields.get("goal"),
        hosts=[CampaignHost(org_id=org.id, accepted=True)],
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


#: A statement's texts, the coalition's, changed only through moderation: campaign column -> version field.
STATEMENT_TEXT = {"title": "title", "summary": "call_to_action", "body": "body"}


def update_campaign(campaign: Campaign, fields: dict) -> StatementVersion | None:
    """Change the fields given; a change of what the tally counts rebuilds the tally.

    A statement's title, description and text are published only through moderation: new wording
    becomes a proposed version (statements.propose, as an edit in the admin does) that a moderator
    approves or rejects, and the page keeps the approved text meanwhile. Returns that version. While
    another version waits, the change is refused whole (ConflictError), its other fields included."""
    wording = {name: fields[name] for name in STATEMENT_TEXT if name in fields} if campaign.kind == "statement" else {}
    recount = "count_api_actions" in fields and fields["count_api_actions"] != campaign.count_api_actions
    for name, value in fields.items():
        if name not in wording:
            setattr(campaign, name, value)
    slug = campaign.slug
    draft = _reworded(campaign, wording) if wording else None
    proposed = None
    if draft is None:
        db.session.commit()
    else:
        try:
            proposed = statements.propose(campaign, None, draft)  # commits the other fields with it
        except statements.StatementError as error:
            db.session.rollback()
            raise ConflictError(
                "A new text of this statement is already waiting for moderation; change it again once a "
                "moderator has decided."
            ) from error
    tally.forget_campaign(slug)
    if recount:
        tally.reconcile(slug)
    return proposed


def _reworded(campaign: Campaign, wording: dict[str, str]) -> statements.Draft | None:
    """The statement's text with `wording` in place, or None when that changes nothing. It starts from
    the approved version (before one is, the newest, as the admin's form does). A translation is kept
    only for a field whose English stays: one of replaced English would say something else."""
    base = statements.current_version(campaign) or statements.versions(campaign)[0]
    text = {field: wording.get(column, getattr(base, field)) for column, field in STATEMENT_TEXT.items()}
    unchanged = {field for field, value in text.items() if value == getattr(base, field)}
    if len(unchanged) == len(text):
        return None
    translations = {
        lang: kept
        for lang, texts in (base.translations or {}).items()
        if (kept := {field: value for field, value in texts.items() if field in unchanged})
    }
    return statements.Draft(text["title"], text["body"], text["call_to_action"], translations)


def upsert_contact(org: Organization, supporter) -> str:
    """The person-signup helper: add or update `org`'s contact with this address; returns the person id.

    Idempotent under concurrency, as tag_named is: when two requests add the same new address at
    once, the one whose insert loses (uq_contacts_org_email) updates the row the other one made."""
    from chorus.services.signing import normalize_email

    normalized = normalize_email(supporter.email)
    for _attempt in range(2):
        contact = db.session.scalar(select(Contact).where(Contact.email_normalized == normalized))
        if contact is None:
            contact = Contact(org_id=org.id, email_normalized=normalized, person_uuid=person_uuid_for(normalized))
            db.session.add(contact)
        contact.email = supporter.email
        for name, value in (
            ("given_name", supporter.first_name),
            ("family_name", supporter.last_name),
            ("postal_code", supporter.postal_code),
            ("country", supporter.country),
            ("language", supporter.language),
        ):
            if value or contact.id is None:
                setattr(contact, name, value)
        contact.modified_at = utcnow()
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent request added this address first: update its row
            db.session.rollback()
            continue
        return contact.person_uuid
    raise ConflictError("This person is being added by another request; try again.")


def tag_named(org: Organization, name: str) -> Tag:
    """`org`'s tag with this name, made if new (creating a tag twice returns the first)."""
    tag = db.session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        tag = Tag(org_id=org.id, name=name)
        db.session.add(tag)
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent request made it first
            db.session.rollback()
            tag = db.session.scalar(select(Tag).where(Tag.name == name))
    return tag


def tag_person(org: Organization, tag: Tag, person_uuid: str) -> Tagging:
    tagging = db.session.scalar(select(Tagging).where(Tagging.tag_id == tag.id, Tagging.person_uuid == person_uuid))
    if tagging is None:
        tagging = Tagging(org_id=org.id, tag_id=tag.id, person_uuid=person_uuid)
        db.session.add(tagging)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            tagging = db.session.scalar(
                select(Tagging).where(Tagging.tag_id == tag.id, Tagging.person_uuid == person_uuid)
            )
    return tagging


def add_tags(org: Organization, person_uuid: str, names: list[str]) -> None:
    for name in names:
        tag_person(org, tag_named(org, name), person_uuid)


def untag(tagging: Tagging) -> None:
    db.session.delete(tagging)
    db.session.commit()
