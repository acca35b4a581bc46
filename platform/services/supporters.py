"""Data rights: everything held about one address (export) and its removal (erase).

Both cross members on purpose (the supporter's own data wherever they acted), so every query here opts
in with `all_orgs=True`. Erasure keeps each action as an anonymous row (status, member, dates, country)
with the keyed hash of the address, so tallies do not move and the same person acting again still
counts once; it blanks the personal columns, removes their solidarity messages and comments, rewrites
export files without the rows, deletes outbox files that carry the address, and drops the address's
queued mails. People a member's API added without an action (person signups) and the member's tags
on them are exported and deleted with the rest. The audit log gets ids only.

An organization's sign-on on a statement is the organization's act, made by a person: its contact.
The organization's name (as approved), website, country and logo are its public signature, not
personal data, and stay listed; the contact's name, address and message are the person's, and are
exported and erased with the rest (the address becomes its keyed hash, as in actions).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, or_, select, text, update

from chorus.extensions import db
from chorus.models import (
    Action,
    AuditEntry,
    Contact,
    Delivery,
    DeliveryEvent,
    Export,
    Organization,
    PublicMessage,
    SignOn,
    SupporterMail,
    Suppression,
    Tag,
    Tagging,
    WebhookEvent,
)
from chorus.models.api import person_uuid_for
from chorus.services.address_hash import email_hash
from chorus.services.exports import file_path
from chorus.services.signing import normalize_email

#: What erasure blanks in an action: everything that names, locates or quotes the person.
PERSONAL_COLUMNS = {
    "email": "",
    "first_name": "",
    "last_name": "",
    "postal_code": "",
    "comment": "",
    "subject": "",
    "body": "",
}


def audit(event: str, actor: str, **ids: list[int] | int) -> None:
    """One audit entry (ids only; the caller commits)."""
    AuditEntry.record(event, actor, **ids)


def _actions_of(email_normalized: str) -> list[Action]:
    return list(
        db.session.scalars(
            select(Action)
            .where(Action.email_normalized == email_normalized)
            .order_by(Action.id)
            .execution_options(all_orgs=True)
        )
    )


def anonymize(action_ids: list[int], keep_contact: bool = False) -> None:
    """Blank the personal columns of these actions; the rows (and so every tally) stay.

    An anonymous action keeps the keyed hash of its address in both unique keys (email_normalized
    must stay unique per campaign too; the hash is 64 hex digits, never an address), so the same
    person acting again still counts once. `keep_contact` keeps the address and name (a member the
    supporter asked for e-mail updates keeps them) and removes the rest. The caller commits.
    """
    legacy = db.session.execute(
        select(Action.id, Action.email_normalized)
        .where(Action.id.in_(action_ids), Action.email_hash.is_(None))
        .execution_options(all_orgs=True)
    ).all()
    for row in legacy:  # actions stored before hashes existed
        db.session.execute(
            update(Action)
            .where(Action.id == row.id)
            .values(email_hash=email_hash(row.email_normalized))
            .execution_options(all_orgs=True, synchronize_session=False)
        )
    values = dict(PERSONAL_COLUMNS)
    if keep_contact:
        for contact in ("email", "first_name", "last_name"):
            del values[contact]
    else:
        values["email_normalized"] = Action.email_hash
        values["person_uuid"] = Action.uuid  # the API's id is derived from the address
    db.session.execute(
        update(Action)
        .where(Action.id.in_(action_ids))
        .values(**values)
        .execution_options(all_orgs=True, synchronize_session=False)
    )


#: What erasure blanks in an organization's sign-on: its contact, not the organization.
SIGN_ON_CONTACT = {"contact_name": "", "email": "", "message": ""}


def sign_ons_of(email_normalized: str) -> list[SignOn]:
    """The sign-ons whose contact is this address (sign-ons are not scoped to a member)."""
    rows = db.session.scalars(select(SignOn).where(SignOn.email_normalized == email_normalized).order_by(SignOn.id))
    return list(rows)


def anonymize_sign_ons(sign_on_ids: list[int]) -> None:
    """Blank the contact of these sign-ons; the organization's signature (name, website, country,
    logo, status, version) stays as approved. The address becomes its keyed hash, so the row keeps
    its unique key and holds no address. The caller commits."""
    rows = db.session.execute(select(SignOn.id, SignOn.email_normalized).where(SignOn.id.in_(sign_on_ids))).all()
    for row in rows:
        hashed = row.email_normalized if _is_hash(row.email_normalized) else email_hash(row.email_normalized)
        db.session.execute(
            update(SignOn)
            .where(SignOn.id == row.id)
            .values(email_normalized=hashed, **SIGN_ON_CONTACT)
            .execution_options(synchronize_session=False)
        )


def _is_hash(value: str) -> bool:
    return len(value) == 64 and "@" not in value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _listed_by_members(normalized: str) -> tuple[list, list]:
    """What members' API clients wrote about the person without an action: (member slug, contact) from
    the person-signup helper, and (member slug, tag name, tagging) on the person's id."""
    contacts = db.session.execute(
        select(Organization.slug, Contact)
        .join(Organization, Organization.id == Contact.org_id)
        .where(Contact.email_normalized == normalized)
        .order_by(Contact.id)
        .execution_options(all_orgs=True)
    ).all()
    taggings = db.session.execute(
        select(Organization.slug, Tag.name, Tagging)
        .join(Tag, Tag.id == Tagging.tag_id)
        .join(Organization, Organization.id == Tagging.org_id)
        .where(Tagging.person_uuid == person_uuid_for(normalized))
        .order_by(Tagging.id)
        .execution_options(all_orgs=True)
    ).all()
    return contacts, taggings


def export(address: str, actor: str) -> dict | None:
    """Everything held about `address` as JSON-ready data; None when nothing is held. Audited."""
    normalized = normalize_email(address)
    actions, sign_ons = _actions_of(normalized), sign_ons_of(normalized)
    suppressions = db.session.scalars(select(Suppression).where(Suppression.email_normalized == normalized)).all()
    contacts, taggings = _listed_by_members(normalized)
    if not actions and not sign_ons and not suppressions and not contacts and not taggings:
        return None
    deliveries = _deliveries_of([a.id for a in actions])
    messages = _public_messages_of([a.id for a in actions])
    document = {
        "email": normalized,
        "actions": [
            {
                "id": a.uuid,
                "campaign": a.campaign.slug,
                "campaign_title": a.campaign.title,
                "kind": a.campaign.kind,
                "site": a.org.slug,
                "status": a.status,
                "created_at": _iso(a.created_at),
                "confirmed_at": _iso(a.confirmed_at),
                "email": a.email,
                "first_name": a.first_name,
                "last_name": a.last_name,
                "postal_code": a.postal_code,
                "country": a.country,
                "comment": a.comment,
                "language": a.language,
                "letter": {"subject": a.subject, "body": a.body} if a.campaign.kind == "letter" else None,
                "consents": [
                    {
                        "organization": c.org.slug,
                        "purpose": c.purpose,
                        "text": c.text,
                        "language": c.language,
                        "granted_at": _iso(c.granted_at),
                        "withdrawn_at": _iso(c.withdrawn_at),
                    }
                    for c in a.consents
                ],
                "deliveries": [
                    {
                        "id": d.uuid,
                        "to": d.official.addressed,
                        "status": d.status,
                        "sent_at": _iso(d.sent_at),
                    }
                    for d in deliveries
                    if d.action_id == a.id
                ],
                "public_message": _message_json(messages.get(a.id)),
            }
            for a in actions
        ],
        "sign_ons": [
            {
                "id": s.uuid,
                "campaign": s.campaign.slug,
                "campaign_title": s.campaign.title,
                "site": s.org.slug,
                "organization": s.organization_name,
                "website": s.website,
                "country": s.country,
                "contact_name": s.contact_name,
                "email": s.email,
                "message": s.message,
                "language": s.language,
                "status": s.status,
                "version": s.version.number if s.version else None,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
            }
            for s in sign_ons
        ],
        "mails_sent": [
            {
                "kind": m.kind,
                **_mail_subject(m),
                "sent_at": _iso(m.sent_at),
            }
            for m in db.session.scalars(
                select(SupporterMail)
                .where(
                    _mails_of([a.id for a in actions], [s.id for s in sign_ons], [s.id for s in suppressions]),
                    SupporterMail.sent_at.is_not(None),
                )
                .order_by(SupporterMail.id)
            )
        ]
        + [{"kind": "outbox file", "file": p.name} for p in _outbox_files(normalized, actions, sign_ons)],
        "unsubscribes": [
            {"member": s.org.slug if s.org else None, "at": _iso(s.created_at)} for s in suppressions
        ],
        "added_by_members": [
            {
                "member": member,
                "given_name": c.given_name,
                "family_name": c.family_name,
                "email": c.email,
                "postal_code": c.postal_code,
                "country": c.country,
                "language": c.language,
                "created_at": _iso(c.created_at),
            }
            for member, c in contacts
        ],
        "tags": [{"member": member, "tag": name, "at": _iso(t.created_at)} for member, name, t in taggings],
    }
    audit("supporter.export", actor, actions=[a.id for a in actions], sign_ons=[s.id for s in sign_ons])
    db.session.commit()
    return document


def _public_messages_of(action_ids: list[int]) -> dict[int, PublicMessage]:
    if not action_ids:
        return {}
    rows = db.session.scalars(select(PublicMessage).where(PublicMessage.action_id.in_(action_ids)))
    return {m.action_id: m for m in rows}


def _message_json(message: PublicMessage | None) -> dict | None:
    if message is None:
        return None
    return {"author_name": message.author_name, "body": message.body, "status": message.status}


def _mails_of(action_ids: list[int], sign_on_ids: list[int], suppression_ids: list[int] = ()):
    """The supporter_mails rows to this address: to its actions' supporter, its sign-ons' contact, or
    (the "manage my data" link) to it as an unsubscribed address."""
    return or_(
        SupporterMail.action_id.in_(action_ids),
        SupporterMail.sign_on_id.in_(sign_on_ids),
        SupporterMail.suppression_id.in_(suppression_ids),
    )


def _mail_subject(mail: SupporterMail) -> dict[str, str | bool]:
    if mail.action_id:
        return {"action": mail.action.uuid}
    if mail.sign_on_id:
        return {"sign_on": mail.sign_on.uuid}
    return {"unsubscribed_address": True}


def as_json(document: dict) -> str:
    """The export as the command prints it and the pages download it."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def _deliveries_of(action_ids: list[int]) -> list[Delivery]:
    if not action_ids:
        return []
    return list(db.session.scalars(select(Delivery).where(Delivery.action_id.in_(action_ids)).order_by(Delivery.id)))


@dataclass
class Erasure:
    actions: int
    sign_ons: int
    export_files: int
    outbox_files: int


def erase(address: str, actor: str) -> Erasure | None:
    """Remove the personal data of `address` everywhere; None when nothing is held. Audited."""
    normalized = normalize_email(address)
    actions, sign_ons = _actions_of(normalized), sign_ons_of(normalized)
    suppressions = db.session.scalars(select(Suppression).where(Suppression.email_normalized == normalized)).all()
    contacts, taggings = _listed_by_members(normalized)
    if not actions and not sign_ons and not suppressions and not contacts and not taggings:
        return None
    ids, uuids = [a.id for a in actions], {a.uuid for a in actions}
    sign_on_ids = [s.id for s in sign_ons]
    needles = {normalized, *(r.email.lower() for r in [*actions, *sign_ons] if r.email)}
    outbox = _outbox_files(normalized, actions, sign_ons)  # found before the rows that identify them go
    deliveries = _deliveries_of(ids)
    # An unconfirmed action never counted and must never be confirmed by an old link (a letter would
    # go out unsigned): it goes entirely, with what hangs on it. Confirmed ones stay, anonymous.
    unconfirmed = [a.id for a in actions if a.status == "pending"]
    if unconfirmed:
        db.session.execute(delete(Action).where(Action.id.in_(unconfirmed)).execution_options(all_orgs=True))
    if ids:
        anonymize(ids)
        _scrub_delivery_logs(deliveries, needles)
        # Solidarity messages and public comments are the person's words, signed with their name.
        db.session.execute(delete(PublicMessage).where(PublicMessage.action_id.in_(ids)))
    if sign_on_ids:
        anonymize_sign_ons(sign_on_ids)
    _scrub_webhook_logs(ids, sign_on_ids, needles)
    # An unsubscribe is an objection to mail, not data to hand back: it stays, as the keyed hash.
    db.session.execute(
        update(Suppression)
        .where(Suppression.email_normalized == normalized)
        .values(email_normalized=email_hash(normalized))
    )
    # People a member's API added, and pending unsubscribe webhooks, name the address too.
    db.session.execute(
        delete(Contact).where(Contact.email_normalized == normalized).execution_options(all_orgs=True)
    )
    db.session.execute(  # a member's tags on the person: the id is the address's, so they would return with it
        delete(Tagging).where(Tagging.person_uuid == person_uuid_for(normalized)).execution_options(all_orgs=True)
    )
    db.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.email_normalized == normalized)
        .values(email_normalized="")
        .execution_options(all_orgs=True)
    )
    _drop_queued_mails(ids, sign_on_ids)
    audit("supporter.erase", actor, actions=ids, sign_ons=sign_on_ids)
    db.session.commit()
    export_files = _rewrite_exports(uuids)
    for path in outbox:
        path.unlink(missing_ok=True)
    _flush_sqlite()
    return Erasure(actions=len(ids), sign_ons=len(sign_on_ids), export_files=export_files, outbox_files=len(outbox))


def _scrub_delivery_logs(deliveries: list[Delivery], needles: set[str]) -> None:
    """SMTP errors may quote the sender's address; replace it wherever it appears."""

    def scrub(value: str) -> str:
        for needle in needles:
            value = _replace_ci(value, needle, "[erased]")
        return value

    for delivery in deliveries:
        delivery.last_error = scrub(delivery.last_error)
    if deliveries:
        events = db.session.scalars(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id.in_([d.id for d in deliveries]))
        )
        for event in events:
            event.detail = scrub(event.detail)


def _scrub_webhook_logs(action_ids: list[int], sign_on_ids: list[int], needles: set[str]) -> None:
    """A member's endpoint may have echoed the address in the answer logged with an event."""
    events = db.session.scalars(
        select(WebhookEvent)
        .where(
            or_(WebhookEvent.action_id.in_(action_ids), WebhookEvent.sign_on_id.in_(sign_on_ids)),
            WebhookEvent.last_error != "",
        )
        .execution_options(all_orgs=True)
    )
    for event in events:
        for needle in needles:
            event.last_error = _replace_ci(event.last_error, needle, "[erased]")


def _replace_ci(value: str, needle: str, replacement: str) -> str:
    lowered, out, start = value.lower(), [], 0
    while (found := lowered.find(needle, start)) >= 0:
        out += [value[start:found], replacement]
        start = found + len(needle)
    return "".join(out) + value[start:]


def _outbox_files(normalized: str, actions: list[Action], sign_ons: list[SignOn] = ()) -> list[Path]:
    """Outbox .eml files that carry the address or one of its actions or sign-ons (their letters'
    deliveries too)."""
    folder = Path(current_app.config["CHORUS_INSTANCE"]) / "outbox"
    if not folder.is_dir():
        return []
    needles = {normalized.encode(), *(r.uuid.encode() for r in [*actions, *sign_ons])}
    needles |= {d.uuid.encode() for d in _deliveries_of([a.id for a in actions])}
    return sorted(p for p in folder.glob("*.eml") if any(n in p.read_bytes().lower() for n in needles))


def _rewrite_exports(uuids: set[str]) -> int:
    """Export files already written lose the rows of these actions (the first column is the action id)."""
    if not uuids:
        return 0
    rewritten = 0
    for export_row in db.session.scalars(select(Export).where(Export.status == "done")):
        path = file_path(export_row)
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as source:
            rows = list(csv.reader(source))
        kept = [row for row in rows if not row or row[0] not in uuids]
        if len(kept) == len(rows):
            continue
        partial = path.with_name(path.name + ".part")
        private = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(private, "w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(kept)
        os.replace(partial, path)
        rewritten += 1
    return rewritten


def _drop_queued_mails(action_ids: list[int], sign_on_ids: list[int]) -> None:
    """Mails still owed to the erased actions and sign-ons are not sent (the sent ones are anonymous
    history). In the erasure's transaction."""
    db.session.execute(delete(SupporterMail).where(_mails_of(action_ids, sign_on_ids), SupporterMail.sent_at.is_(None)))


def _flush_sqlite() -> None:
    """SQLite (secure_delete on) zeroes freed pages; the checkpoint moves them out of the WAL file."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

