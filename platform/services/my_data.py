"""The supporter's own "manage my data" page: asking for its link, what it shows, consent changes.

Asking answers the same whether or not the address is known (no membership oracle): the link goes
by mail, only to an address something is held about (an action, an organization's sign-on it is the
contact of, or only an unsubscribe), through the supporter mail outbox (kind "my_data"), at most
PER_ADDRESS times an hour. The link (chorus.services.mail.manage_url, signed, 48 hours) is the
supporter's whole authority: the page reads across members for that one address, on purpose
(`all_orgs=True`), and export and erasure are the ones `chorus supporters` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chorus import queues
from chorus.extensions import db
from chorus.i18n import current_lang
from chorus.models import Action, AuditEntry, Consent, Organization, SignOn, Suppression
from chorus.models.base import utcnow
from chorus.services import ratelimit, supporter_mail, supporters
from chorus.services.address_hash import email_hash
from chorus.services.mail import make_token
from chorus.services.signing import consent_text, normalize_email

#: Link mails to one address an hour, at most: the form cannot be used to flood an inbox.
PER_ADDRESS = 3
#: Requests from one client address an hour.
PER_CLIENT = 30
ACTOR = "supporter"


def request_link(address: str, site: Organization | None) -> None:
    """Owe the link mail when anything is held about the address (what it did on `site` preferably:
    the mail comes from that member); otherwise do nothing. The caller answers the same in both cases."""
    normalized = normalize_email(address)
    if not ratelimit.allow(f"my-data:{email_hash(normalized)}", PER_ADDRESS, 3600):
        return
    for model, column in ((Action, "action_id"), (SignOn, "sign_on_id"), (Suppression, "suppression_id")):
        preferred = model.org_id == site.id if site is not None else model.id.is_(None)
        found = db.session.scalar(
            select(model.id)
            .where(model.email_normalized == normalized)
            .order_by(preferred.desc(), model.id.desc())
            .limit(1)
            .execution_options(all_orgs=True)
        )
        if found is not None:
            supporter_mail.owe_now("my_data", **{column: found})
            db.session.commit()
            queues.kick_supporter_mail()
            return


@dataclass
class ConsentChoice:
    """One box on the page: a member the supporter may share with or hear from, and its state."""

    org: Organization
    purpose: str
    record: Consent | None

    @property
    def granted(self) -> bool:
        return self.record is not None and self.record.withdrawn_at is None


@dataclass
class Held:
    action: Action
    choices: list[ConsentChoice] = field(default_factory=list)


@dataclass
class HeldSignOn:
    """An organization's sign-on whose contact this address is, and the path of its own page
    (confirm, keep, withdraw the signature)."""

    sign_on: SignOn
    path: str


@dataclass
class Holdings:
    address: str
    actions: list[Held]
    unsubscribes: list[tuple[Organization | None, datetime]]
    sign_ons: list[HeldSignOn] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.actions and not self.sign_ons and not self.unsubscribes

    @property
    def everything_stopped(self) -> bool:
        """An unsubscribe from every member: no news goes out, whatever "updates" box is ticked."""
        return any(member is None for member, _at in self.unsubscribes)


def _actions(normalized: str) -> list[Action]:
    return list(
        db.session.scalars(
            select(Action)
            .where(Action.email_normalized == normalized)
            .order_by(Action.created_at, Action.id)
            .execution_options(all_orgs=True)
        )
    )


def choices_for(action: Action) -> list[ConsentChoice]:
    """What the action form offered: sharing with each other host, updates from every host."""
    records = {(c.org_id, c.purpose): c for c in action.consents}
    hosts = action.campaign.host_orgs()
    offered = [(o, "share") for o in hosts if o.id != action.org_id] + [(o, "updates") for o in hosts]
    known = {(o.id, purpose) for o, purpose in offered}
    # A consent given to a member that no longer hosts the campaign can still be withdrawn.
    offered += [(c.org, c.purpose) for c in action.consents if (c.org_id, c.purpose) not in known]
    return [ConsentChoice(org, purpose, records.get((org.id, purpose))) for org, purpose in offered]


def holdings(address: str) -> Holdings:
    normalized = normalize_email(address)
    suppressions = sorted(supporter_mail.suppressions_of([normalized])[normalized], key=lambda s: s.id)
    return Holdings(
        address=normalized,
        actions=[Held(a, choices_for(a)) for a in _actions(normalized)],
        unsubscribes=[(s.org, s.created_at) for s in suppressions],
        sign_ons=[
            HeldSignOn(s, f"/signon/{make_token('signon', s.uuid)}")
            for s in supporters.sign_ons_of(normalized)
        ],
    )


class ConsentError(ValueError):
    """The change names no action of this address, or a member the campaign never offered."""


def change_consent(address: str, action_uuid: str, org_slug: str, purpose: str, grant: bool) -> str:
    """Grant or withdraw one consent of one of the address's actions; what changed: "" (nothing),
    "grant", "withdraw", or "resubscribed" (a grant of updates from a member the address had
    unsubscribed from: the person asking again wins, so that unsubscribe is lifted). A grant records
    the words shown on the page, in the supporter's language. Audited."""
    normalized = normalize_email(address)
    action = next((a for a in _actions(normalized) if a.uuid == action_uuid), None)
    if action is None:
        raise ConsentError("no such action")
    choice = next((c for c in choices_for(action) if c.org.slug == org_slug and c.purpose == purpose), None)
    if choice is None or (grant and choice.org not in action.campaign.host_orgs()):
        raise ConsentError("no such choice")
    if choice.granted == grant:
        return ""
    now = utcnow()
    if not grant:
        choice.record.withdrawn_at = now
    elif choice.record is not None:
        record = choice.record
        record.withdrawn_at, record.granted_at = None, now
        record.text, record.language = consent_text(purpose, choice.org.name), current_lang()
    else:
        action.consents.append(
            Consent(
                org_id=choice.org.id,
                purpose=purpose,
                text=consent_text(purpose, choice.org.name),
                language=current_lang(),
                granted_at=now,
            )
        )
    AuditEntry.record(
        "consent.grant" if grant else "consent.withdraw", ACTOR, actions=[action.id], organizations=[choice.org.id]
    )
    lifted = grant and purpose == supporter_mail.UPDATES and _lift(normalized, choice.org.id)
    try:
        db.session.commit()
    except IntegrityError:  # the same grant pressed twice at once: the other press recorded it
        db.session.rollback()
        return ""
    return "resubscribed" if lifted else "grant" if grant else "withdraw"


def _lift(normalized: str, org_id: int | None) -> bool:
    """Remove the address's unsubscribe from this member (None: from every member), audited; the
    caller commits. The "updates" consents it withdrew stay withdrawn: news needs a new "yes"."""
    scope = Suppression.org_id.is_(None) if org_id is None else Suppression.org_id == org_id
    lifted = supporter_mail.suppressions_of([normalized], scope)[normalized]  # one kept through an erasure too
    if not lifted:
        return False
    for suppression in lifted:
        db.session.delete(suppression)
    members = [org_id] if org_id else []
    AuditEntry.record("unsubscribe.lift", ACTOR, suppressions=[s.id for s in lifted], organizations=members)
    return True


def lift_unsubscribe(address: str, org_slug: str) -> bool:
    """The supporter asks for mail again from one member (`org_slug`) or from every member (""):
    True when an unsubscribe was lifted. Audited."""
    org_id = None
    if org_slug:
        org_id = db.session.scalar(select(Organization.id).where(Organization.slug == org_slug))
        if org_id is None:
            raise ConsentError("no such member")
    if not _lift(normalize_email(address), org_id):
        return False
    db.session.commit()
    return True
