"""Statements: drafting and versions, organizations' sign-ons, and what the public page lists.

A sign-on is the organization's act: unique per statement and normalized name once approved. The
public answer to a sign-on is always the same (nothing reveals whether an address or a name already
signed); the address owner learns the rest by e-mail.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from urllib.parse import urlsplit

from flask import current_app
from redis.exceptions import RedisError
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


#: Apostrophes (dropped: "Workers' Union" is "Workers Union") and dashes (a space) as keyboards type them.
_APOSTROPHES = dict.fromkeys(map(ord, "'‘’ʼ`´"), None)
_DASHES = dict.fromkeys(map(ord, "-‐‑‒–—―−"), " ")


def normalize_name(name: str) -> str:
    """ "Open  Table", "open table", "OPEN-TABLE." and "ＯＰＥＮ Table" are one organization: NFKC (one form
    for composed and decomposed accents, full-width letters), case, spaces, dashes, apostrophes and other
    punctuation do not count; letters, digits, their marks (the vowel signs of Devanagari…) and "&" do.
    Empty when the name has no letter or digit (the forms refuse it)."""
    folded = unicodedata.normalize("NFKC", name).translate(_APOSTROPHES).translate(_DASHES).casefold()
    kept = "".join(c if c == "&" or unicodedata.category(c)[0] in "LMN" else " " for c in folded)
    words = kept.split()
    return " ".join(words) if any(c.isalnum() for c in kept) else ""


def sort_key(name: str) -> str:
    """A name's place in an alphabetical list: "Ángeles" among the a's, not after "z"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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

    def __post_init__(self):
        """One line ending, whoever typed the text (browsers send CRLF): a version that changes only
        translations keeps the text byte for byte, so organizations are not asked to sign again."""
        self.body = _lf(self.body)
        self.translations = {lang: {k: _lf(v) for k, v in texts.items()} for lang, texts in self.translations.items()}


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
    try:
        db.session.flush()
    except IntegrityError:  # the same address, by a concurrent request (a double click)
        db.session.rollback()
        raise StatementError(_("Another campaign already uses this address.")) from None
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


def listed_under(campaign_id: int, name_normalized: str) -> int | None:
    """The approved sign-on under this name: a sign-on by someone else is a claim on it, and approving
    one merges it there."""
    return db.session.scalar(
        select(SignOn.id).where(
            SignOn.campaign_id == campaign_id, SignOn.name_normalized == name_normalized, SignOn.status == "approved"
        )
    )


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
    if existing is not None and existing.status == "retracted":
        return _sign_again(existing, site, signature, vouched)
    if existing is not None:
        if not vouched:
            _repeat(existing)
        return existing
    approved = listed_under(campaign.id, name_normalized)
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
    _announce(record.id, vouched, hooks)
    return record


def _sign_again(withdrawn: SignOn, site: Organization, signature: OrgSignature, vouched: bool) -> SignOn:
    """The same contact signs their organization on again after withdrawing it: the entry is confirmed
    and moderated afresh, on the current text, with what they typed this time."""
    campaign = withdrawn.campaign
    version = current_version(campaign)
    withdrawn.org_id = site.id
    withdrawn.version_id = version.id if version else None
    withdrawn.organization_name = " ".join(signature.organization_name.split())
    withdrawn.contact_name = signature.contact_name.strip()
    withdrawn.website = signature.website.strip()
    withdrawn.country = signature.country
    withdrawn.message = signature.message.strip()
    withdrawn.language = signature.language
    withdrawn.verified_domain = verified_domain(withdrawn.email_normalized, signature.website)
    withdrawn.claim_of_id = listed_under(campaign.id, withdrawn.name_normalized)
    withdrawn.status = "pending" if vouched else "pending-confirmation"
    withdrawn.confirmed_at = utcnow() if vouched else None
    withdrawn.decided_at = None
    if not vouched:
        supporter_mail.owe_now("confirm", sign_on_id=withdrawn.id)
    hooks = webhooks.owe_sign_on(withdrawn.id, site.id) if vouched else 0
    db.session.commit()
    _announce(withdrawn.id, vouched, hooks)
    return withdrawn


def _announce(sign_on_id: int, vouched: bool, hooks: int) -> None:
    """Once a sign-on is committed: its confirmation mail goes (the repeat guard armed), and the
    member's systems hear of a vouched one."""
    if not vouched:
        _arm_repeat(sign_on_id)
        queues.kick_supporter_mail()
    if hooks:
        webhooks.kick()


def _remove_logo(owner: Organization, name: str) -> None:
    uploads.remove(owner.slug, name)


#: Seconds between two mails to a sign-on's contact about signing again (a double click, a re-post).
REPEAT_MAIL_EVERY = 600


def _repeat_key(sign_on_id: int, status: str) -> str:
    """Per status: a repeat after the sign-on moved on (confirmed, decided) is news to its contact."""
    return f"chorus:signon-repeat:{sign_on_id}:{status}"


def _arm_repeat(sign_on_id: int) -> None:
    """The confirmation mail just owed counts as the first: a re-post within minutes sends no second."""
    try:
        redis_store.client.set(_repeat_key(sign_on_id, "pending-confirmation"), 1, ex=REPEAT_MAIL_EVERY)
    except RedisError:  # stored and owed already; a repeat then mails once more, no harm
        pass


def _repeat(existing: SignOn) -> None:
    """Tell the address owner, at most every ten minutes, instead of telling the page: to confirm,
    that it was not listed, or that nothing changed."""
    if redis_store.client.set(_repeat_key(existing.id, existing.status), 1, nx=True, ex=REPEAT_MAIL_EVERY):
        kind = {"pending-confirmation": "confirm", "rejected": "decision"}.get(existing.status, "already")
        supporter_mail.owe_now(kind, sign_on_id=existing.id)
        db.session.commit()
        queues.kick_supporter_mail()


def find_by_uuid(sign_on_uuid: str) -> SignOn | None:
    return db.session.scalar(select(SignOn).where(SignOn.uuid == sign_on_uuid))


def confirm(sign_on: SignOn) -> bool:
    """The contact pressed the button in the mail: the sign-on joins the moderation queue."""
    if sign_on.status != "pending-confirmation":
        return False
    if not sign_on.campaign.accepting_actions:  # as an endorsement's confirmation: paused or closed takes none
        raise StatementError(_("This statement is not taking sign-ons now, so yours was not confirmed."))
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
    """Approved sign-ons, member organizations first, in the order the coalition chose: by when each
    organization signed (its contact confirmed), or alphabetically as readers expect ("Ángeles" among
    the a's)."""
    listed = db.session.scalars(
        select(SignOn).where(SignOn.campaign_id == campaign.id, SignOn.status.in_(LISTED)).order_by(SignOn.id)
    )
    if campaign.signatory_order == "time":
        return sorted(listed, key=lambda s: (s.member_org_id is None, signed_at(s)))
    return sorted(listed, key=lambda s: (s.member_org_id is None, sort_key(s.organization_name)))


def signed_at(sign_on: SignOn) -> datetime:
    """When the organization signed: its contact's confirmation (the sign-on itself, when vouched)."""
    return sign_on.confirmed_at or sign_on.created_at


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
                exports.iso_utc(signed_at(s)),
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
