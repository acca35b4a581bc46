"""RQ jobs. Module-level functions that take ids, never objects, and are safe to run twice: queued
jobs outlive deploys, and a worker may die after sending but before recording."""

from __future__ import annotations

import functools

from flask import Flask, g, has_app_context, render_template

from chorus import queues
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.models.base import utcnow
from chorus.services import mail

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
def send_supporter_mails() -> dict:
    """Send the supporter mails that are due (chorus.services.supporter_mail)."""
    from chorus.services import supporter_mail

    queues.started(queues.SEND_SUPPORTER_MAILS)
    return supporter_mail.run().__dict__


@with_app_context
def deliver_letters() -> dict:
    """Send the letters that are due. What waits (retries, caps, a dead worker's leases) is picked up
    by the next run, which every worker's ticker starts while anything is outstanding."""
    from chorus.services import delivery

    queues.started(queues.DELIVER_LETTERS)
    return delivery.run().__dict__


@with_app_context
def deliver_webhooks() -> dict:
    """POST the webhook events that are due; retries wait in the outbox for a later run, which
    every worker's ticker starts while anything is due."""
    from chorus.services import webhooks

    queues.started(queues.DELIVER_WEBHOOKS)
    return webhooks.run().__dict__


@with_app_context
def recount_campaign_stats(campaign_id: int) -> None:
    """A dashboard's kept figures grew old while admins look at it: count them again."""
    from chorus.services import dashboard

    queues.started(queues.RECOUNT_CAMPAIGN_STATS, campaign_id)
    dashboard.recount_stats(campaign_id)


@with_app_context
def send_invitation(invitation_id: int) -> bool:
    """E-mail an invitation link; skipped if it was already sent, accepted or revoked."""
    from chorus.models import Invitation
    from chorus.services.accounts import invitation_token

    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.sent_at is not None or invitation.accepted_at is not None:
        return False
    g.lang = invitation.language
    link = mail.external_url(f"/admin/invitations/{invitation_token(invitation)}")
    text = render_template("mail/invitation.txt", invitation=invitation, link=link)
    message = mail.new_message(
        to=invitation.email,
        subject=_("Your invitation to Chorus for %(org)s", org=invitation.org.name)
        if invitation.org
        else _("Your invitation to Chorus"),
        text=text,
        html=None,
        sender=mail.default_sender(invitation.org.name if invitation.org else "Chorus"),
        message_id=f"invite.{invitation.id}.{invitation.nonce}",
        unsubscribe=mail.unsubscribe_url(invitation.email, None),
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


def _owe_once(kind: str, sign_on_id: int | None = None, action_id: int | None = None, ref: int = 0) -> bool:
    from chorus.services import supporter_mail

    if not supporter_mail.owe_once(kind, action_id=action_id, sign_on_id=sign_on_id, ref=ref):
        return False
    db.session.commit()
    queues.kick_supporter_mail()
    return True


# Statement mails to supporters are `supporter_mails` rows now (chorus.services.statement_mail).
# These three jobs stay for jobs queued before that change: each only owes its mail in the database.


@with_app_context
def send_sign_on_mail(kind: str, sign_on_id: int) -> bool:
    from chorus.models import SignOn

    if db.session.get(SignOn, sign_on_id) is None or kind not in ("confirm", "already"):
        return False
    return _owe_once(kind, sign_on_id=sign_on_id)


@with_app_context
def send_decision_mail(kind: str, object_id: int) -> bool:
    from chorus.models import PublicMessage, SignOn

    if kind == "sign_on":
        return db.session.get(SignOn, object_id) is not None and _owe_once("decision", sign_on_id=object_id)
    public = db.session.get(PublicMessage, object_id)
    return public is not None and public.action_id is not None and _owe_once("decision", action_id=public.action_id)


@with_app_context
def send_version_mail(version_id: int) -> bool:
    """Tell the author of a rejected statement version why."""
    from chorus.models import StatementVersion

    version = db.session.get(StatementVersion, version_id, populate_existing=True)
    if version is None or version.status != "rejected" or version.author is None:
        return False
    from chorus.services import statement_mail

    mail.transport().send([statement_mail.version_rejected(version)])
    return True


@with_app_context
def send_new_version_mails(version_id: int) -> int:
    from chorus.models import StatementVersion
    from chorus.services import statements

    version = db.session.get(StatementVersion, version_id)
    if version is None or version.status != "approved":
        return 0
    return sum(_owe_once("new_version", sign_on_id=s.id, ref=version.id) for s in statements.signed_before(version))
