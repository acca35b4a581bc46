"""Signing and confirming: the rules of "one action per address per campaign" and of what counts."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.i18n import gettext
from chorus.models import Action, ApiKey, Campaign, Consent, Organization, PublicMessage
from chorus.models.actions import display_name
from chorus.models.api import person_uuid_for
from chorus.models.base import new_uuid, utcnow
from chorus.services import letters, supporter_mail, tally, webhooks
from chorus.services.address_hash import email_hash

#: Seconds between two mails to one address about its repeated action on one campaign.
REPEAT_MAIL_EVERY = 3600
ACTIONS = Action.__table__


class Outcome(enum.Enum):
    SIGNED = "signed"  # stored; waits for the e-mail confirmation
    COUNTED = "counted"  # stored and counted (campaign without confirmation)
    ALREADY_PENDING = "already_pending"  # this address signed before but has not confirmed yet
    ALREADY_COUNTED = "already_counted"  # this address's action already counts


@functools.lru_cache(maxsize=1024)
def validated_email(address: str) -> str | None:
    """The address as every mail server takes it, or None when it is not a valid address: a mailbox
    name in other than ASCII needs SMTPUTF8, which not every server speaks (its confirmation could
    never be sent), so it is refused; an international domain is kept in its ASCII (IDNA) form. Kept
    for a while: the form's check and the signing service ask about the same address in one request."""
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).ascii_email
    except EmailNotValidError:
        return None


def mailable_email(address: str) -> str:
    """What is stored and mailed to: the address as typed, an international domain in its ASCII form."""
    typed = address.strip()
    return typed if typed.isascii() else (validated_email(typed) or typed)


def normalize_email(address: str) -> str:
    """Case-insensitive and IDN-normalized, so one person is one address."""
    return (validated_email(address) or address.strip()).lower()


def consent_text(purpose: str, org_name: str) -> str:
    """The words a supporter ticked, in their language, as recorded with their consent."""
    if purpose == "share":
        return gettext("Share my details with") + ": " + org_name
    return gettext("Send me e-mail updates from") + ": " + org_name


@dataclass
class Supporter:
    first_name: str
    last_name: str
    email: str
    postal_code: str = ""
    country: str = "US"
    comment: str = ""
    language: str = "en"
    subject: str = ""  # letters: the supporter's own subject and body
    body: str = ""
    share_with: list[str] = field(default_factory=list)  # member slugs: consent to share their details
    updates_from: list[str] = field(default_factory=list)  # member slugs: consent to e-mail updates

    @property
    def full_name(self) -> str:
        return display_name(self.first_name.strip(), self.last_name.strip())  # as the action will show it


def sign(campaign: Campaign, site: Organization, supporter: Supporter) -> Outcome:
    """Store one action through `site`; a repeat (any case, any member site) changes nothing.

    The database's unique constraint decides between concurrent repeats; only the winner counts.
    """
    return _store(campaign, site, supporter, None)[0]


def record_via_api(campaign: Campaign, key: ApiKey, supporter: Supporter) -> tuple[Outcome, int]:
    """An action a member's API key vouches for: confirmed at once, source "api", attributed to the
    key's member. Returns the outcome and the action's id (the existing one for a repeat)."""
    return _store(campaign, key.org, supporter, key)


def _store(campaign: Campaign, site: Organization, supporter: Supporter, key: ApiKey | None) -> tuple[Outcome, int]:
    hosts = campaign.host_orgs()
    consents = [(o, "share") for o in hosts if o.slug in supporter.share_with and o.id != site.id]
    consents += [(o, "updates") for o in hosts if o.slug in supporter.updates_from]
    share_ids = [o.id for o, purpose in consents if purpose == "share"]
    confirmed = key is not None or not campaign.require_confirmation
    counts = key is None or campaign.count_api_actions
    now = utcnow()
    campaign_id, site_slug, is_letter, kind = campaign.id, site.slug, campaign.kind == "letter", campaign.kind
    email_normalized = normalize_email(supporter.email)
    hashed = email_hash(email_normalized)
    # One INSERT that yields to an existing action instead of failing: the unique constraint decides
    # between concurrent repeats. On PostgreSQL the same statement writes the mail the action owes.
    owes = None if confirmed and not is_letter else ("copy" if confirmed else "confirm")
    dialect = db.engine.dialect.name
    values = {
        "uuid": new_uuid(),
        "campaign_id": campaign_id,
        "org_id": site.id,
        "email": mailable_email(supporter.email),
        "email_normalized": email_normalized,
        "email_hash": hashed,
        "person_uuid": person_uuid_for(email_normalized),
        "first_name": supporter.first_name.strip(),
        "last_name": supporter.last_name.strip(),
        "postal_code": supporter.postal_code.strip(),
        "country": supporter.country,
        "comment": supporter.comment.strip(),
        "language": supporter.language,
        "subject": supporter.subject.strip(),
        "body": supporter.body.strip(),
        "status": "confirmed" if confirmed else "pending",
        "created_at": now,
        "confirmed_at": now if confirmed else None,
        "source": "web" if key is None else "api",
        "api_key_id": None if key is None else key.id,
    }
    params = {f"a_{name}": value for name, value in values.items()} | {"owed_at": now}
    action_id = db.session.connection().execute(_insert_action(dialect, owes, tuple(values)), params).scalar()
    if action_id is None:
        db.session.rollback()
        return _repeat(campaign_id, email_normalized, hashed, notify=key is None)  # API clients know
    if consents:  # same transaction, one statement
        db.session.execute(
            sa_insert(Consent),
            [
                {
                    "action_id": action_id,
                    "org_id": org.id,
                    "purpose": purpose,
                    "text": consent_text(purpose, org.name),
                    "language": supporter.language,
                }
                for org, purpose in consents
            ],
        )
    if supporter.comment.strip() and (campaign.kind == "statement" or campaign.public_comments):
        _hold_comment(campaign_id, site.id, action_id, supporter)
    if confirmed and is_letter:
        letters.create_deliveries(action_id, campaign, supporter.country, supporter.postal_code)
    # The mail it owes commits with the action: Redis only says "look now" below.
    if owes and dialect != "postgresql":
        supporter_mail.owe(action_id, owes)
    owed = webhooks.owe_action(action_id, kind, [site.id, *share_ids]) if confirmed else 0
    db.session.commit()
    if confirmed:
        _counted(campaign_id, site_slug, action_id, is_letter, now if counts else None, owed)
        return Outcome.COUNTED, action_id
    queues.kick_supporter_mail()
    return Outcome.SIGNED, action_id


@functools.cache
def _insert_action(dialect: str, owes: str | None, columns: tuple[str, ...]) -> Executable:
    """The INSERT of one action's `columns` (Core, built once: no ORM flush, no statement built per
    request) that yields to an existing action of the address. On PostgreSQL, when the action owes a
    mail, the same statement writes it (`supporter_mail.owe_each`): one round trip for both rows."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ACTIONS)
        .values({name: bindparam(f"a_{name}", type_=ACTIONS.c[name].type) for name in columns})
        .on_conflict_do_nothing()  # either unique key: the address, or the hash an erased action keeps
        .returning(ACTIONS.c.id)
    )
    if owes is None or dialect != "postgresql":
        return statement
    stored = statement.cte("stored")
    return select(stored.c.id).add_cte(supporter_mail.owe_each(stored.c.id, owes).cte("owed"))


def _hold_comment(campaign_id: int, site_id: int, action_id: int, supporter: Supporter) -> None:
    """A comment shown in public (a statement's solidarity messages, a petition with public comments)
    waits for a moderator; the queue offers it once the action is confirmed."""
    initial = f" {supporter.last_name.strip()[:1]}." if supporter.last_name.strip() else ""
    db.session.add(
        PublicMessage(
            campaign_id=campaign_id,
            org_id=site_id,
            action_id=action_id,
            author_name=supporter.first_name.strip() + initial,
            body=supporter.comment.strip(),
        )
    )


def _counted(
    campaign_id: int, site_slug: str, action_id: int, is_letter: bool, counted_at: datetime | None, owed: int
) -> None:
    """After the commit: the tally (unless the action does not count), webhooks, and for letters the
    delivery workers and the supporter's copy. What Redis misses here (it is down, or this process
    dies) the workers' ticker catches up."""
    if counted_at is not None:
        tally.count_confirmed(campaign_id, site_slug, action_id, counted_at)
    if owed:
        queues.kick_webhooks()
    if is_letter:
        queues.kick_delivery()
        queues.kick_supporter_mail()


def _repeat(campaign_id: int, email_normalized: str, hashed: str, notify: bool) -> tuple[Outcome, int]:
    # Reads only the existing action's status, id and address (to tell its owner), across members: the
    # supporter may have signed through another member's site.
    existing = db.session.execute(
        select(Action.id, Action.status, Action.email)
        .where(
            Action.campaign_id == campaign_id,
            or_(Action.email_normalized == email_normalized, Action.email_hash == hashed),
        )
        .execution_options(all_orgs=True)
    ).first()
    if existing is None:
        raise RuntimeError("integrity error without an existing action")  # a real bug: surface it
    pending = existing.status == "pending"
    # The page answers as for a first signature; the address's owner hears of it by mail instead, at
    # most once an hour per campaign: the confirmation again (they may have lost it), or "nothing changed".
    tell = notify and bool(existing.email)  # an erased action (found by its keyed hash) has no address left
    if tell and redis_store.client.set(f"chorus:repeat:{existing.id}", 1, nx=True, ex=REPEAT_MAIL_EVERY):
        supporter_mail.remind(existing.id, "confirm" if pending else "repeat")
    return (Outcome.ALREADY_PENDING if pending else Outcome.ALREADY_COUNTED), existing.id


@dataclass
class Confirmation:
    action: Action | None
    newly_counted: bool
    refused: bool = False  # the campaign stopped taking actions (paused, closed, ended) before this


def find_by_token_value(action_uuid: str) -> Action | None:
    """The supporter acting on their own action holds its token: a deliberate cross-member read."""
    return db.session.scalar(select(Action).where(Action.uuid == action_uuid).execution_options(all_orgs=True))


def confirm(action_uuid: str) -> Confirmation:
    """Confirm an action; only the first confirmation counts in the tally."""
    action = find_by_token_value(action_uuid)
    if action is None:
        return Confirmation(None, False)
    campaign = action.campaign
    if action.status == "pending" and not campaign.accepting_actions:
        return Confirmation(action, False, refused=True)  # nothing counted, no letter delivered
    campaign_id, site_slug, action_id = action.campaign_id, action.org.slug, action.id
    is_letter, counts = campaign.kind == "letter", action.source == "web" or campaign.count_api_actions
    org_ids = [action.org_id, *(c.org_id for c in action.consents if c.purpose == "share" and c.withdrawn_at is None)]
    now = utcnow()
    result = db.session.execute(
        update(Action)
        .where(Action.id == action.id, Action.status == "pending")
        .values(status="confirmed", confirmed_at=now)
        .execution_options(all_orgs=True, synchronize_session=False)
    )
    owed = 0
    if result.rowcount == 1:  # the outbox rows commit with the confirmation
        if is_letter:
            letters.create_deliveries(action_id, campaign, action.country, action.postal_code)
            supporter_mail.owe(action_id, "copy")
        owed = webhooks.owe_action(action_id, campaign.kind, org_ids)
    db.session.commit()
    if result.rowcount != 1:
        return Confirmation(action, False)
    _counted(campaign_id, site_slug, action_id, is_letter, now if counts else None, owed)
    return Confirmation(action, True)

