"""RQ jobs. Module-level functions that take ids, never objects, and are safe to run twice: queued
jobs outlive deploys, and a worker may die after sending but before recording."""

from __future__ import annotations

import functools

from flask import Flask, current_app, g, has_app_context, render_template
from sqlalchemy import or_, select

from chorus import queues
from chorus.extensions import db
from chorus.i18n import lazy_gettext
from chorus.models import Action
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


def _statement_message(
    *, to: str, language: str, subject: str, template: str, message_id: str, supporter: bool = True, **context
):
    """A plain-text mail about a statement, in the recipient's language, from the host member (to a
    supporter, with the "manage my data" link; not to the staff author of a version)."""
    from chorus.services import supporter_mail

    g.lang = language
    site = context["site"]
    context.setdefault("campaign_url", mail.external_url(f"/{site.slug}/{context['campaign'].slug}"))
    return supporter_mail.message(
        to=to,
        site=site,
        subject=str(subject) % {"title": context["campaign"].title},
        text=render_template(template, **context),
        html=None,
        message_id=message_id,
        footer=supporter,
    )


def _sign_on_message(sign_on, kind: str, subject: str, message_id: str, **context):
    token = mail.make_token("signon", sign_on.uuid)
    return _statement_message(
        to=sign_on.email,
        language=sign_on.language,
        subject=subject,
        template="mail/sign_on.txt",
        message_id=message_id,
        kind=kind,
        sign_on=sign_on,
        site=sign_on.org,
        campaign=sign_on.campaign,
        manage_url=mail.external_url(f"/signon/{token}"),
        **context,
    )


SIGN_ON_SUBJECTS = {
    "confirm": lazy_gettext("Please confirm your organization's signature: %(title)s"),
    "already": lazy_gettext("Your organization's signature: %(title)s"),
}


@with_app_context
def send_sign_on_mail(kind: str, sign_on_id: int) -> bool:
    """The contact's confirmation link ("confirm"), or a reminder that this address already signed
    on for this organization ("already"). The link also lets the organization retract later."""
    from chorus.models import SignOn

    sign_on = db.session.get(SignOn, sign_on_id, populate_existing=True)
    if sign_on is None or kind not in SIGN_ON_SUBJECTS:
        return False
    if kind == "confirm" and sign_on.status != "pending-confirmation":
        return False
    stamp = utcnow().strftime("%Y%m%d%H%M")
    message = _sign_on_message(sign_on, kind, SIGN_ON_SUBJECTS[kind], f"signon-{kind}.{sign_on.uuid}.{stamp}")
    mail.transport().send([message])
    return True


DECISION_SUBJECTS = {
    "approved": lazy_gettext("Your organization is listed: %(title)s"),
    "merged": lazy_gettext("Your organization is listed: %(title)s"),
    "rejected": lazy_gettext("About your organization's signature: %(title)s"),
}


@with_app_context
def send_decision_mail(kind: str, object_id: int) -> bool:
    """Tell the signer what a moderator decided (never sent for "hide": they still see it pending)."""
    from chorus.models import PublicMessage, SignOn

    if kind == "sign_on":
        sign_on = db.session.get(SignOn, object_id, populate_existing=True)
        if sign_on is None or sign_on.status not in DECISION_SUBJECTS:
            return False
        message = _sign_on_message(
            sign_on, sign_on.status, DECISION_SUBJECTS[sign_on.status], f"signon-{sign_on.status}.{sign_on.uuid}"
        )
    else:
        public = db.session.get(PublicMessage, object_id, populate_existing=True)
        if public is None or public.status not in ("approved", "rejected"):
            return False
        # The message's author is the action's supporter: a deliberate cross-member read of one address.
        action = db.session.scalar(select(Action).where(Action.id == public.action_id).execution_options(all_orgs=True))
        if action is None:
            return False
        subject = (
            lazy_gettext("Your message was published: %(title)s")
            if public.status == "approved"
            else lazy_gettext("Your message was not published: %(title)s")
        )
        message = _statement_message(
            to=action.email,
            language=action.language,
            subject=subject,
            template="mail/message_decision.txt",
            message_id=f"message-{public.status}.{public.id}.{action.uuid}",
            public=public,
            site=public.org,
            campaign=public.campaign,
        )
    mail.transport().send([message])
    return True


@with_app_context
def send_version_mail(version_id: int) -> bool:
    """Tell the author of a rejected statement version why."""
    from chorus.models import StatementVersion

    version = db.session.get(StatementVersion, version_id, populate_existing=True)
    if version is None or version.status != "rejected" or version.author is None:
        return False
    campaign = version.campaign
    message = _statement_message(
        to=version.author.email,
        language="en",
        subject=lazy_gettext("Your statement was not approved: %(title)s"),
        template="mail/version_rejected.txt",
        supporter=False,
        message_id=f"version-rejected.{version.id}.{campaign.uuid}",
        version=version,
        site=campaign.owner,
        campaign=campaign,
        admin_url=mail.external_url(f"/admin/{campaign.owner.slug}/statements/{campaign.slug}"),
    )
    mail.transport().send([message])
    return True


@with_app_context
def send_new_version_mails(version_id: int) -> int:
    """A new text was approved: each organization that signed an earlier version may keep its
    signature on the new one or withdraw it. One message per sign-on (a stable Message-ID), so a
    second run sends them again only to a server that deduplicates by Message-ID."""
    from chorus.models import SignOn, StatementVersion

    version = db.session.get(StatementVersion, version_id, populate_existing=True)
    if version is None or version.status != "approved":
        return 0
    signed = db.session.scalars(
        select(SignOn).where(
            SignOn.campaign_id == version.campaign_id,
            SignOn.status.in_(("approved", "hidden", "pending")),
            or_(SignOn.version_id.is_(None), SignOn.version_id != version.id),
        )
    ).all()
    messages = []
    for sign_on in signed:
        try:
            messages.append(
                _sign_on_message(
                    sign_on,
                    "new_version",
                    lazy_gettext("A new version of the statement you signed: %(title)s"),
                    f"signon-version.{version.id}.{sign_on.uuid}",
                    version=version,
                )
            )
        except Exception:  # noqa: BLE001 - one bad address never stops the rest
            current_app.logger.exception("new version mail for sign-on %s", sign_on.id)
    mail.transport().send(messages)
    return len(messages)
