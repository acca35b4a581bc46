"""One moderation queue: statement versions, organizations' sign-ons, solidarity messages and
supporters' public comments. Every decision is written to the insert-only audit log in the same
transaction as the change it records, and so is the mail that tells the signer (except for "hide"):
a `supporter_mails` row, sent by the mail sweep, so a lost job only delays it.

Who may decide what is chorus.policy's table: coalition moderators (and platform admins) decide
everything; a member's admins decide the public comments on campaigns their member owns. Nobody
approves their own statement text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from chorus import policy, queues
from chorus.extensions import db
from chorus.i18n import current_lang, in_language
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.models import Action, Campaign, ModerationDecision, Organization, PublicMessage, SignOn, StatementVersion
from chorus.models.base import utcnow
from chorus.services import content, statements, supporter_mail, tally

#: reason code -> the label moderators pick (the free text is added to it)
REASONS = {
    "": _l("No reason given"),
    "spam": _l("Spam or advertising"),
    "abuse": _l("Abusive or hateful"),
    "off-topic": _l("Not about this statement"),
    "not-an-organization": _l("Not an organization"),
    "duplicate": _l("Already listed"),
    "unverified": _l("We could not verify this organization"),
    "text": _l("The text needs changes"),
    "other": _l("Other"),
}
DECISIONS = ("approve", "reject", "hide")
KINDS = ("version", "sign_on", "message", "comment")
#: The queue's views: what waits for a decision, and what was hidden without telling (decided again
#: from there: hiding is not final).
VIEWS = ("pending", "hidden")


class ModerationError(ValueError):
    pass


class NotAllowed(ModerationError):
    pass


@dataclass
class Item:
    """One row of the queue, whatever its kind."""

    kind: str
    id: int
    campaign: Campaign
    site: Organization | None
    title: str
    text: str
    detail: dict
    created_at: object


def may_moderate_comments_of(user, campaign: Campaign) -> bool:
    return policy.can(user, "moderate") or policy.can(user, "moderate_comments", campaign.owner)


def visible_to(user) -> bool:
    """Whether the moderation screens exist for this person at all."""
    return policy.can(user, "moderate") or any(m.role == "org-admin" for m in user.memberships)


def pending(
    user, kind: str = "", campaign_id: int | None = None, org_id: int | None = None, view: str = "pending"
) -> list[Item]:
    """What waits for `user` (or what was hidden: `view`), oldest first, filtered by kind,
    statement/campaign and member."""
    coalition = policy.can(user, "moderate")
    items: list[Item] = []
    if coalition and kind in ("", "version") and view == "pending":  # a text is never hidden
        query = select(StatementVersion).where(StatementVersion.status == "pending")
        if campaign_id:
            query = query.where(StatementVersion.campaign_id == campaign_id)
        for v in db.session.scalars(query):
            if org_id and v.campaign.owner_org_id != org_id:
                continue
            detail = {
                "number": v.number,
                "author": v.author.email if v.author else "",
                "author_id": v.author_id,
                "translations": v.translations or {},  # moderated with the text they translate
                "same_text": v.same_text(statements.current_version(v.campaign)),
            }
            items.append(Item("version", v.id, v.campaign, v.campaign.owner, v.title, v.body, detail, v.created_at))
    if coalition and kind in ("", "sign_on"):
        query = select(SignOn).where(SignOn.status == view)
        if campaign_id:
            query = query.where(SignOn.campaign_id == campaign_id)
        if org_id:
            query = query.where(SignOn.org_id == org_id)
        for s in db.session.scalars(query):
            detail = {
                "contact": f"{s.contact_name} <{s.email}>",
                "website": s.website,
                "country": s.country,
                "verified_domain": s.verified_domain,
                "claim": s.claim_of_id is not None,
                "member": s.member_org.name if s.member_org else "",  # listed with the member badge once approved
                "logo": s.logo,
            }
            items.append(Item("sign_on", s.id, s.campaign, s.org, s.organization_name, s.message, detail, s.created_at))
    if kind in ("", "message", "comment"):
        query = (
            select(PublicMessage)
            .join(Action, Action.id == PublicMessage.action_id)
            .where(PublicMessage.status == view, Action.status == "confirmed")
            .execution_options(all_orgs=True)  # a comment's text and first name, never the address
        )
        if campaign_id:
            query = query.where(PublicMessage.campaign_id == campaign_id)
        if org_id:
            query = query.where(PublicMessage.org_id == org_id)
        for m in db.session.scalars(query):
            item_kind = _message_kind(m)
            if kind and kind != item_kind:
                continue
            if not (coalition or may_moderate_comments_of(user, m.campaign)) or (
                item_kind == "message" and not coalition
            ):
                continue
            items.append(Item(item_kind, m.id, m.campaign, m.org, m.author_name, m.body, {}, m.created_at))
    return sorted(items, key=lambda i: (i.created_at, i.kind, i.id))


def _message_kind(message: PublicMessage) -> str:
    return "message" if message.campaign.kind == "statement" else "comment"


def _audit(user, kind: str, obj, campaign_id: int, decision: str, before: str, reason_code: str, reason: str) -> None:
    db.session.add(
        ModerationDecision(
            moderator_id=user.id,
            moderator_email=user.email,
            campaign_id=campaign_id,
            kind=kind,
            object_id=obj.id,
            decision=decision,
            before=before,
            after=obj.status,
            reason_code=reason_code,
            reason=reason,
        )
    )


def _reason(reason_code: str, reason: str) -> tuple[str, str]:
    if reason_code not in REASONS:
        raise ModerationError(_("Choose a reason from the list."))
    return reason_code, " ".join(reason.split())[:2000]


@dataclass
class Decided:
    changed: int
    #: Items no longer in the view the moderator decided from (another moderator decided them
    #: meanwhile), or already as decided: left as they were.
    left: int


def decide(
    user, kind: str, ids: list[int], decision: str, reason_code: str = "", reason: str = "", seen: str = "pending"
) -> Decided:
    """Apply one decision to several items of one kind (bulk), each only if it is still as the moderator
    saw it (`seen`: pending, or hidden); all or nothing: one transaction, and what follows it (the
    tally's cache, mail jobs) only once it is committed."""
    if kind not in KINDS or decision not in DECISIONS or seen not in VIEWS:
        raise ModerationError(_("Unknown decision."))
    reason_code, reason = _reason(reason_code, reason)
    if kind == "version" and decision == "hide":
        raise ModerationError(_("A statement text can be approved or rejected."))
    # One signature for every kind: change the session (no commit), say what follows the commit.
    decide_one = {"version": _decide_version, "sign_on": _decide_sign_on}.get(kind, _decide_message)
    results: list[_Result] = []
    try:
        for ident in ids:
            result = decide_one(user, kind, ident, decision, seen, reason_code, reason)
            if result is not None:
                results.append(result)
        db.session.commit()
    except ModerationError:
        db.session.rollback()  # nothing half-decided
        raise
    except IntegrityError:  # two entries of one name approved at once: the database kept the first
        db.session.rollback()
        raise ModerationError(
            _("Another moderator listed an organization of the same name meanwhile: nothing was decided.")
        ) from None
    for slug in {r.forget for r in results if r.forget}:
        tally.forget_campaign(slug)
    for version_id in (r.author_notice for r in results if r.author_notice):
        queues.enqueue(queues.SEND_VERSION_MAIL, version_id, queue_name="mail")
    if any(r.mailed for r in results):
        queues.kick_supporter_mail()
    return Decided(len(results), len(ids) - len(results))


def _move(item, before: str, after: str) -> bool:
    """`item` from `before` to `after`, unless another moderator moved it meanwhile: the UPDATE's WHERE
    decides (PostgreSQL re-reads the row once the other decision commits; SQLite has one writer)."""
    model, now = type(item), utcnow()
    moved = db.session.execute(
        update(model)
        .where(model.id == item.id, model.status == before)
        .values(status=after, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    set_committed_value(item, "status", after)
    set_committed_value(item, "decided_at", now)
    return True


@dataclass
class _Result:
    """One item decided, and what to do once the decision is committed."""

    mailed: bool = False  # a supporter mail was owed (in the decision's transaction)
    forget: str | None = None  # the slug of a campaign whose cached tally and page changed
    author_notice: int | None = None  # a rejected statement version, whose author a job tells


def _decide_sign_on(
    user, kind: str, ident: int, decision: str, seen: str, reason_code: str, reason: str
) -> _Result | None:
    if not policy.can(user, "moderate"):
        raise NotAllowed(_("Only coalition moderators decide sign-ons."))
    sign_on = db.session.get(SignOn, ident)
    if sign_on is None or sign_on.status != seen:
        return None
    target = {"approve": "approved", "reject": "rejected", "hide": "hidden"}[decision]
    audited = decision
    if decision == "approve" and statements.listed_under(sign_on.campaign_id, sign_on.name_normalized):
        target, audited = "merged", "merge"  # the approved entry stays as it is
    if target == seen or not _move(sign_on, seen, target):
        return None
    _audit(user, "sign_on", sign_on, sign_on.campaign_id, audited, seen, reason_code, reason)
    if decision != "hide":
        supporter_mail.owe_now("decision", sign_on_id=sign_on.id)
    return _Result(decision != "hide", sign_on.campaign.slug if target == "approved" else None)


def _decide_message(
    user, kind: str, ident: int, decision: str, seen: str, reason_code: str, reason: str
) -> _Result | None:
    message = db.session.get(PublicMessage, ident)
    if message is None or _message_kind(message) != kind or message.status != seen:
        return None
    allowed = policy.can(user, "moderate") if kind == "message" else may_moderate_comments_of(user, message.campaign)
    if not allowed:
        raise NotAllowed(_("You cannot moderate this message."))
    target = {"approve": "approved", "reject": "rejected", "hide": "hidden"}[decision]
    if target == seen or not _move(message, seen, target):
        return None
    _audit(user, kind, message, message.campaign_id, decision, seen, reason_code, reason)
    mailed = decision != "hide" and message.action_id is not None
    if mailed:
        supporter_mail.owe_now("decision", action_id=message.action_id)
    return _Result(mailed)


def _decide_version(
    user, kind: str, ident: int, decision: str, seen: str, reason_code: str, reason: str
) -> _Result | None:
    """Approve (publish on every host, tell earlier signatories when the text changed) or reject
    (the author sees the reason). The author of a version can never approve it."""
    if not policy.can(user, "moderate"):
        raise NotAllowed(_("Only coalition moderators publish statements."))
    version = db.session.get(StatementVersion, ident)
    if version is None or version.status != seen:
        return None
    if version.author_id == user.id:
        raise NotAllowed(_("You wrote this version: another moderator must decide on it."))
    approve = decision == "approve"
    campaign = version.campaign
    previous = statements.current_version(campaign)
    if not _move(version, seen, "approved" if approve else "rejected"):
        return None
    version.reason = ""
    if not approve and (reason or reason_code):
        with in_language(version.author.language if version.author else current_lang()):  # the author reads it
            version.reason = str(REASONS[reason_code]) + (f": {reason}" if reason else "")
    version.approver_id = user.id
    if approve:
        campaign.title, campaign.body, campaign.summary = version.title, version.body, version.call_to_action
        content.mirror_version(campaign, version)
        if previous is not None and version.same_text(previous):
            _carry_sign_ons(previous, version)
        if campaign.status == "draft":
            campaign.status = "live"
    campaign.updated_at = utcnow()  # the API's modified_date, even when the text is unchanged
    _audit(user, "version", version, campaign.id, decision, "pending", reason_code, reason)
    notices = approve and previous is not None and not version.same_text(previous)
    if notices:  # owed with the approval: each signatory of an earlier version may keep or withdraw
        db.session.flush()
        for sign_on in statements.signed_before(version):
            supporter_mail.owe_once("new_version", sign_on_id=sign_on.id, ref=version.id)
    # A rejection goes to the author, a member's staff, by a job: no supporter mail.
    return _Result(mailed=notices, forget=campaign.slug, author_notice=None if approve else version.id)


def _carry_sign_ons(previous: StatementVersion, version: StatementVersion) -> None:
    """A version that changes only translations keeps the text organizations signed: their signatures
    move to it without asking them again."""
    db.session.execute(update(SignOn).where(SignOn.version_id == previous.id).values(version_id=version.id))


def audit_log(limit: int = 500) -> list[ModerationDecision]:
    return list(
        db.session.scalars(
            select(ModerationDecision)
            .order_by(ModerationDecision.created_at.desc(), ModerationDecision.id.desc())
            .limit(limit)
        )
    )
