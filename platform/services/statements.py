"""Statements: drafting and versions, organizations' sign-ons, and what the public page lists.

A sign-on is the organization's act: unique per statement and normalized name once approved. The
public answer to a sign-on is always the same (nothing reveals whether an address or a name already
signed); the address owner learns the rest by e-mail.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.i18n import gettext as _
from chorus.models import Campaign, CampaignHost, Organization, PublicMessage, SignOn, StatementVersion, User
from chorus.models.base import utcnow
from chorus.models.statements import ASKED_ON_NEW_VERSION
from chorus.services import content, exports, supporter_mail, tally, uploads, webhooks
from chorus.services.signing import mailable_email, normalize_email

#: Sign-ons that the public list and the count show.
LISTED = ("approved",)
#: What the contact sees of their own sign-on: "hidden" looks like "pending" to them.
SEEN_BY_SIGNER = {"hidden": "pending"}
SIGN_ON_LOGO_MAX_BYTES = 256 * 1024  # the one file a public form accepts


class StatementError(ValueError):
    pass


def normalize_name(name: str) -> str:
    """ "Open  Table", "open table" and "OPEN TABLE." are one organization."""
    return " ".join(re.sub(r"[^\w\s&'-]", " ", name).split()).casefold()


# --- versions -----------------------------------------------------------------------------------


def current_version(campaign: Campaign) -> StatementVersion | None:
    """The newest approved version: what the public page shows."""
    return db.session.scalar(
        select(StatementVersion)
        .where(StatementVersion.campaign_id == campaign.id, StatementVersion.status == "approved")
        .order_by(StatementVersion.number.desc())
        .limit(1)
    )


def versions(campaign: Campaign) -> list[StatementVersion]:
    return list(
        db.session.scalars(
            select(StatementVersion)
            .where(StatementVersion.campaign_id == campaign.id)
            .order_by(StatementVersion.number.desc())
        )
    )


def get_version(campaign: Campaign, number: int) -> StatementVersion | None:
    return db.session.scalar(
        select(StatementVersion).where(StatementVersion.campaign_id == campaign.id, StatementVersion.number == number)
    )


@dataclass
class Draft:
    title: str
    body: str
    call_to_action: str
    #: {"es": {"title": "…"}}: the same text in other languages, part of the version.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


def create(
    owner: Organization, author: User, slug: str, draft: Draft, hosts: list[Organization], order: str
) -> Campaign:
    """A new statement: a draft campaign hosted by the chosen members and its first version, waiting
    in the moderation queue. Approving that version publishes it on every host."""
    if db.session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None:
        raise StatementError(_("Another campaign already uses this address."))
    campaign = Campaign(
        slug=slug,
        kind="statement",
        owner_org_id=owner.id,
        title=draft.title,
        summary=draft.call_to_action,
        body=draft.body,
        status="draft",
        signatory_order=order,
        hosts=[CampaignHost(org_id=o.id, accepted=True) for o in _with_owner(owner, hosts)],
    )
    db.session.add(campaign)
    db.session.flush()
    version = _version(campaign, author, draft, 1)
    db.session.add(version)
    content.mirror_version(campaign, version)
    db.session.commit()
    return campaign


def _with_owner(owner: Organization, hosts: list[Organization]) -> list[Organization]:
    return [owner, *[o for o in hosts if o.id != owner.id]]


def _version(campaign: Campaign, author: User | None, draft: Draft, number: int) -> StatementVersion:
    return StatementVersion(
        campaign_id=campaign.id,
        number=number,
        title=draft.title,
        body=draft.body,
        call_to_action=draft.call_to_action,
        translations=content.translations_for(draft.translations, content.VERSION_FIELDS),
        status="pending",
        author_id=author.id if author else None,
    )


def propose(campaign: Campaign, author: User | None, draft: Draft) -> StatementVersion:
    """An edit: a new version that waits for moderation while the page keeps the approved one
    (author None: the owner's API key, which is no user)."""
    if any(v.status == "pending" for v in versions(campaign)):
        raise StatementError(_("A version of this statement is already waiting for moderation."))
    number = (
        db.session.scalar(select(func.max(StatementVersion.number)).where(StatementVersion.campaign_id == campaign.id))
        or 0
    ) + 1
    version = _version(campaign, author, draft, number)
    db.session.add(version)
    db.session.commit()
    return version


def signed_before(version: StatementVersion) -> list[SignOn]:
    """Sign-ons on an earlier version of the text than `version` (told when it is approved)."""
    return list(
        db.session.scalars(
            select(SignOn).where(
                SignOn.campaign_id == version.campaign_id,
                SignOn.status.in_(ASKED_ON_NEW_VERSION),
                or_(SignOn.version_id.is_(None), SignOn.version_id != version.id),
            )
        )
    )


def set_order(campaign: Campaign, order: str) -> None:
    campaign.signatory_order = order
    db.session.commit()


# --- sign-ons -----------------------------------------------------------------------------------


@dataclass
class OrgSignature:
    organization_name: str
    contact_name: str
    email: str
    website: str = ""
    country: str = "US"
    message: str = ""
    language: str = "en"
    logo: uploads.CheckedImage | None = None  # from the form's image check


def _domain(host_or_url: str) -> str:
    host = urlsplit(host_or_url if "//" in host_or_url else f"//{host_or_url}").hostname or ""
    return host.lower().removeprefix("www.")


def verified_domain(email: str, website: str) -> bool:
    """The contact writes from the website's own domain (or a subdomain of it)."""
    site = _domain(website)
    mail_domain = email.rpartition("@")[2].lower()
    return bool(site) and (mail_domain == site or mail_domain.endswith("." + site))


def _member_named(name_normalized: str) -> Organization | None:
    return next(
        (o for o in db.session.scalars(select(Organization)) if normalize_name(o.name) == name_normalized), None
    )


def sign_on(campaign: Campaign, site: Organization, signature: OrgSignature, vouched: bool = False) -> SignOn | None:
    """Record an organization's sign-on through `site`, or answer a repeat by e-mail only; returns
    the sign-on (None when a concurrent request stored it). The public page shows none of this.

    A repeat by the same contact changes nothing (the contact is reminded by mail); a sign-on by
    another contact under a name already approved is stored as a claim on that entry, for the
    moderators, and never changes it. `vouched`: the site's member confirmed the contact (its API
    key), so the sign-on goes straight to moderation and nobody is mailed until it is decided.
    """
    name = " ".join(signature.organization_name.split())
    name_normalized = normalize_name(name)
    email_normalized = normalize_email(signature.email)
    existing = db.session.scalar(
        select(SignOn).where(
            SignOn.campaign_id == campaign.id,
            SignOn.name_normalized == name_normalized,
            SignOn.email_normalized == email_normalized,
        )
    )
    if existing is not None:
        if not vouched:
            _repeat(existing)
        return existing
    approved = db.session.scalar(
        select(SignOn.id).where(
            SignOn.campaign_id == campaign.id, SignOn.name_normalized == name_normalized, SignOn.status == "approved"
        )
    )
    member = _member_named(name_normalized)
    version = current_version(campaign)
    record = SignOn(
        campaign_id=campaign.id,
        org_id=site.id,
        member_org_id=member.id if member else None,
        version_id=version.id if version else None,
        organization_name=name,
        name_normalized=name_normalized,
        contact_name=signature.contact_name.strip(),
        email=mailable_email(signature.email),
        email_normalized=email_normalized,
        website=signature.website.strip(),
        country=signature.country,
        message=signature.message.strip(),
        language=signature.language,
        verified_domain=verified_domain(email_normalized, signature.website),
        claim_of_id=approved,
        status="pending" if vouched else "pending-confirmation",
        confirmed_at=utcnow() if vouched else None,
    )
    db.session.add(record)
    try:
        db.session.flush()  # the uuid names the logo file
    except IntegrityError:  # the same contact, concurrently: the other request stored it
        db.session.rollback()
        return None
    if signature.logo is not None:
        record.logo = uploads.store(campaign.owner.slug, f"signon-{record.uuid}", signature.logo)
    if not vouched:  # owed in the sign-on's own transaction: a lost job costs a delay, never the mail
        supporter_mail.owe_once("confirm", sign_on_id=record.id)
    hooks = webhooks.owe_sign_on(record.id, site.id) if vouched else 0
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _remove_logo(campaign.owner, record.logo)
        return None
    if not vouched:
        queues.kick_supporter_mail()
    if hooks:
        webhooks.kick()
    return record


def _remove_logo(owner: Organization, name: str) -> None:
    uploads.remove(owner.slug, name)


def _repeat(existing: SignOn) -> None:
    """Tell the address owner, at most every ten minutes, instead of telling the page."""
    if redis_store.client.set(f"chorus:signon-repeat:{existing.id}", 1, nx=True, ex=600):
        kind = "confirm" if existing.status == "pending-confirmation" else "already"
        supporter_mail.owe_now(kind, sign_on_id=existing.id)
        db.session.commit()
        queues.kick_supporter_mail()


def find_by_uuid(sign_on_uuid: str) -> SignOn | None:
    return db.session.scalar(select(SignOn).where(SignOn.uuid == sign_on_uuid))


def confirm(sign_on: SignOn) -> bool:
    """The contact pressed the button in the mail: the sign-on joins the moderation queue."""
    if sign_on.status != "pending-confirmation":
        return False
    sign_on.status = "pending"
    sign_on.confirmed_at = utcnow()
    hooks = webhooks.owe_sign_on(sign_on.id, sign_on.org_id)  # the host member's systems hear of it
    db.session.commit()
    if hooks:
        webhooks.kick()
    return True


RETRACTABLE = ("pending-confirmation", "pending", "approved", "hidden")


def retract(sign_on: SignOn) -> bool:
    """The organization withdraws its signature: the list changes on every host at once."""
    if sign_on.status not in RETRACTABLE:
        return False
    was_listed = sign_on.status in LISTED
    sign_on.status = "retracted"
    sign_on.decided_at = utcnow()
    db.session.commit()
    if was_listed:
        tally.forget_campaign(sign_on.campaign.slug)
    return True


def keep(sign_on: SignOn) -> bool:
    """After a new version of the text, the organization keeps its signature on it."""
    version = current_version(sign_on.campaign)
    if sign_on.status in ("retracted", "rejected", "merged") or version is None or sign_on.version_id == version.id:
        return False
    sign_on.version_id = version.id
    db.session.commit()
    return True


def status_for_signer(sign_on: SignOn) -> str:
    return SEEN_BY_SIGNER.get(sign_on.status, sign_on.status)


# --- the public page ----------------------------------------------------------------------------


def signatories(campaign: Campaign) -> list[SignOn]:
    """Approved sign-ons, member organizations first, in the order the coalition chose."""
    order = (
        [SignOn.decided_at, SignOn.id] if campaign.signatory_order == "time" else [SignOn.name_normalized, SignOn.id]
    )
    return list(
        db.session.scalars(
            select(SignOn)
            .where(SignOn.campaign_id == campaign.id, SignOn.status.in_(LISTED))
            .order_by(SignOn.member_org_id.is_(None), *order)
        )
    )


def write_signatories_csv(out: TextIO, campaign: Campaign) -> None:
    """The organizations listed on a statement, for its targets: no contact's personal data."""
    writer = csv.writer(out)
    writer.writerow(["organization", "website", "country", "member", "version", "signed_at"])
    for s in signatories(campaign):
        writer.writerow(
            [
                exports.csv_cell(s.organization_name),
                exports.csv_cell(s.website),
                s.country,
                "yes" if s.member_org_id else "no",
                s.version.number if s.version else "",
                exports.iso_utc(s.decided_at or s.created_at),
            ]
        )


def public_messages(campaign: Campaign) -> list[PublicMessage]:
    return list(
        db.session.scalars(
            select(PublicMessage)
            .where(PublicMessage.campaign_id == campaign.id, PublicMessage.status == "approved")
            .order_by(PublicMessage.decided_at.desc(), PublicMessage.id.desc())
            .limit(current_app.config.get("CHORUS_PUBLIC_MESSAGES", 100))
        )
    )
