"""RQ jobs. Module-level functions that take ids, never objects, and are safe to run twice: queued
jobs outlive deploys, and a worker may die after sending but before recording."""

from __future__ import annotations

import functools

from flask import Flask, g, has_app_context, render_template
from sqlalchemy import select, update

from chorus import queues
from chorus.extensions import db, redis_store
from chorus.models import Action, Suppression
from chorus.models.base import utcnow
from chorus.services import mail, signing

BATCH = 200

_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    """The worker preloads its app once; jobs borrow it when no app context is active."""
    global _worker_app
    _worker_app = app


def with_app_context(fn):
    """Give a job an app context only when none is active (tests run jobs inside their own)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from chorus.app import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper


@with_app_context
def send_supporter_mails() -> int:
    """Drain the supporter mail list in batches over one connection each; then sweep for strays."""
    r = redis_store.client
    r.delete(queues.SUPPORTER_MAIL_SCHEDULED)  # before draining: a mail queued from now on schedules a new job
    sent = 0
    while entries := r.lpop(queues.SUPPORTER_MAIL_LIST, BATCH):
        wanted: dict[str, list[int]] = {"confirm": [], "copy": [], "repeat": []}
        for entry in entries:
            kind, _sep, ident = entry.decode().partition(":")
            if kind in wanted and ident.isdigit():
                wanted[kind].append(int(ident))
        sent += _send_confirmations(wanted["confirm"]) + _send_copies(wanted["copy"])
        sent += _send_repeat_notices(wanted["repeat"])
    sent += _send_confirmations(signing.unsent_confirmations(BATCH))
    return sent


def _send_confirmations(action_ids: list[int]) -> int:
    # Mail goes to each action's own supporter, across members: a deliberate cross-member read.
    actions = db.session.scalars(
        select(Action).where(Action.id.in_(action_ids), Action.status == "pending").execution_options(all_orgs=True)
    ).all()
    if not actions:
        return 0
    mail.transport().send([_supporter_message(a, "confirm") for a in actions])
    db.session.execute(
        update(Action)
        .where(Action.id.in_([a.id for a in actions]))
        .values(confirmation_sent_at=utcnow())
        .execution_options(all_orgs=True, synchronize_session=False)
    )
    db.session.commit()
    return len(actions)


def _send_copies(action_ids: list[int]) -> int:
    """The supporter's copy of the letter they sent (a deliberate cross-member read, like above)."""
    actions = db.session.scalars(
        select(Action).where(Action.id.in_(action_ids), Action.status == "confirmed").execution_options(all_orgs=True)
    ).all()
    mail.transport().send([_supporter_message(a, "copy") for a in actions])
    return len(actions)


def _send_repeat_notices(action_ids: list[int]) -> int:
    """"You acted again; nothing changed": told to the address instead of the page (chorus.services.signing).
    A notice, not a transaction: addresses that unsubscribed do not get it."""
    actions = db.session.scalars(
        select(Action)
        .where(
            Action.id.in_(action_ids),
            Action.status == "confirmed",
            Action.email_normalized.not_in(select(Suppression.email_normalized)),
        )
        .execution_options(all_orgs=True)
    ).all()
    mail.transport().send([_supporter_message(a, "repeat") for a in actions])
    return len(actions)


def _supporter_message(action: Action, kind: str):
    from chorus.i18n import gettext
    from chorus.services import letters

    g.lang = action.language
    site, campaign = action.org, action.campaign
    context = {
        "action": action,
        "campaign": campaign,
        "org": site,
        "campaign_url": mail.external_url(f"/{site.slug}/{campaign.slug}"),
    }
    is_letter = campaign.kind == "letter"
    message_id = f"{kind}.{action.uuid}"
    if kind == "confirm":
        context["confirm_url"] = mail.external_url(f"/confirm/{mail.make_token('confirm', action.uuid)}")
        subject = (
            gettext("Please confirm your letter: %(title)s", title=campaign.title)
            if is_letter
            else gettext("Please confirm your signature: %(title)s", title=campaign.title)
        )
    elif kind == "repeat":
        subject = (
            gettext("You already sent this letter: %(title)s", title=campaign.title)
            if is_letter
            else gettext("You already signed: %(title)s", title=campaign.title)
        )
        message_id = f"repeat.{action.uuid}.{int(utcnow().timestamp()) // signing.REPEAT_MAIL_EVERY}"
    else:
        context["letter"] = letters.compose(campaign, action.body or campaign.letter_body, letters.signature_of(action))
        context["targets"] = letters.targets_for(campaign, action.country, action.postal_code)
        subject = gettext("Your letter: %(title)s", title=campaign.title)
    return mail.new_message(
        to=action.email,
        subject=subject,
        text=render_template(f"@{site.slug}/mail/{kind}.txt", **context),
        html=render_template(f"@{site.slug}/mail/{kind}.html", **context) if kind == "confirm" else None,
        sender=mail.default_sender(site.name),
        message_id=message_id,
        unsubscribe_email=action.email_normalized,
    )


@with_app_context
def deliver_letters() -> dict:
    """Send the letters that are due. What waits (retries, caps, a dead worker's leases) is picked up
    by the next run, which every worker's ticker starts while anything is outstanding."""
    from chorus.services import delivery

    return delivery.run().__dict__


@with_app_context
def deliver_webhooks() -> dict:
    """POST the webhook events that are due; retries wait in the outbox for a later run, which
    every worker's ticker starts while anything is due."""
    from chorus.services import webhooks

    redis_store.client.delete(queues.WEBHOOKS_SCHEDULED)
    return webhooks.run().__dict__


@with_app_context
def send_invitation(invitation_id: int) -> bool:
    """E-mail an invitation link; skipped if it was already sent, accepted or revoked."""
    from chorus.models import Invitation
    from chorus.services.accounts import invitation_token

    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.sent_at is not None or invitation.accepted_at is not None:
        return False
    g.lang = "en"
    link = mail.external_url(f"/admin/invitations/{invitation_token(invitation)}")
    text = render_template("mail/invitation.txt", invitation=invitation, link=link)
    message = mail.new_message(
        to=invitation.email,
        subject="Your invitation to Chorus" + (f" for {invitation.org.name}" if invitation.org else ""),
        text=text,
        html=None,
        sender=mail.default_sender(invitation.org.name if invitation.org else "Chorus"),
        message_id=f"invite.{invitation.id}.{invitation.nonce}",
        unsubscribe_email=invitation.email,
    )
    mail.transport().send([message])
    invitation.sent_at = utcnow()
    db.session.commit()
    return True


@with_app_context
def export_campaign_csv(export_id: int) -> bool:
    """Write one CSV export (chorus.services.exports); running it again once it is done does nothing."""
    from chorus.services import exports

    return exports.run_export(export_id)
