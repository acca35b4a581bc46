"""Mail about statements: what an organization's contact is told about its sign-on (the confirmation
link, a repeat, a moderator's decision, a new version of the text), an endorser about their
solidarity message, and a statement's author about a rejected version.

The supporter-facing ones are `supporter_mails` rows (chorus.services.supporter_mail owes, claims and
sends them, and decides the unsubscribe scope); this module only composes the messages.
"""

from __future__ import annotations

from email.message import Message

from flask import g, render_template

from chorus import tenancy
from chorus.extensions import db
from chorus.i18n import lazy_gettext
from chorus.models import Action, PublicMessage, SignOn, StatementVersion
from chorus.models.base import utcnow
from chorus.models.statements import ASKED_ON_NEW_VERSION
from chorus.services import content, mail

SIGN_ON_SUBJECTS = {
    "confirm": lazy_gettext("Please confirm your organization's signature: %(title)s"),
    "already": lazy_gettext("Your organization's signature: %(title)s"),
    "approved": lazy_gettext("Your organization is listed: %(title)s"),
    "merged": lazy_gettext("Your organization is listed: %(title)s"),
    "rejected": lazy_gettext("About your organization's signature: %(title)s"),
    "new_version": lazy_gettext("A new version of the statement you signed: %(title)s"),
}
#: A sign-on's status -> the decision mail it gets ("hidden" gets none: the signer sees it pending).
DECIDED = ("approved", "merged", "rejected")


class NotOwed(Exception):
    """What this mail was about has changed since it was owed (a decision reversed, a confirmation
    already made): it is skipped, not failed."""


def statement_message(
    *, to: str, language: str, subject, template: str, message_id: str, supporter: bool = True, **context
) -> Message:
    """A plain-text mail about a statement, in the recipient's language, from the host member (to a
    supporter with the "manage my data" link; not to the staff author of a version)."""
    g.lang = language
    site = context["site"]
    context.setdefault("campaign_url", f"{tenancy.site_root(site)}/{context['campaign'].slug}")
    return mail.to_supporter(
        to=to,
        site=site,
        subject=str(subject) % {"title": content.text(context["campaign"], "title", language)},
        text=render_template(template, **context),
        html=None,
        message_id=message_id,
        footer=supporter,
    )


class _AnonymousSignOn:
    """A sign-on as a mail to an address that opted out of everything may show it: nothing typed."""

    contact_name = organization_name = ""

    def __init__(self, sign_on: SignOn):
        self.uuid, self.language, self.email = sign_on.uuid, sign_on.language, sign_on.email


def sign_on_message(sign_on: SignOn, kind: str, version_id: int = 0, anonymous: bool = False) -> Message:
    """The mail of kind `kind` ("confirm", "already", "decision", "new_version") to the sign-on's
    contact, with its link to confirm, keep or withdraw the signature. Raises NotOwed when the sign-on
    moved on since (confirmed already, decision reversed, version superseded)."""
    context: dict = {}
    if kind == "confirm" and sign_on.status != "pending-confirmation":
        raise NotOwed("already confirmed")
    if kind == "decision":
        if sign_on.status not in DECIDED:
            raise NotOwed(f"now {sign_on.status}")
        kind = sign_on.status
        message_id = f"signon-{kind}.{sign_on.uuid}"
    elif kind == "new_version":
        version = db.session.get(StatementVersion, version_id)
        if version is None or version.status != "approved" or sign_on.version_id == version.id:
            raise NotOwed("kept or superseded")
        if sign_on.status not in ASKED_ON_NEW_VERSION:
            raise NotOwed(f"now {sign_on.status}")
        context["version"] = version
        message_id = f"signon-version.{version.id}.{sign_on.uuid}"
    elif kind in SIGN_ON_SUBJECTS:
        message_id = f"signon-{kind}.{sign_on.uuid}.{utcnow().strftime('%Y%m%d%H%M')}"
    else:
        raise ValueError(f"no template for sign-on mail kind {kind!r}")
    token = mail.make_token("signon", sign_on.uuid)
    return statement_message(
        to=sign_on.email,
        language=sign_on.language,
        subject=SIGN_ON_SUBJECTS[kind],
        template="mail/sign_on.txt",
        message_id=message_id,
        kind=kind,
        sign_on=_AnonymousSignOn(sign_on) if anonymous else sign_on,
        site=sign_on.org,
        campaign=sign_on.campaign,
        manage_url=f"{tenancy.public_root(sign_on.org)}/signon/{token}{mail.in_language(sign_on.language)}",
        **context,
    )


def message_decision(action: Action, public: PublicMessage | None) -> Message:
    """Tell the author of a solidarity message or public comment whether it was published."""
    if public is None or public.status not in ("approved", "rejected"):
        raise NotOwed("no decision to tell")
    subject = (
        lazy_gettext("Your message was published: %(title)s")
        if public.status == "approved"
        else lazy_gettext("Your message was not published: %(title)s")
    )
    return statement_message(
        to=action.email,
        language=action.language,
        subject=subject,
        template="mail/message_decision.txt",
        message_id=f"message-{public.status}.{public.id}.{action.uuid}",
        public=public,
        site=public.org,
        campaign=public.campaign,
    )


def version_rejected(version: StatementVersion) -> Message:
    """To a statement's author (staff, not a supporter), in their account's language: why the moderators
    rejected their text."""
    campaign = version.campaign
    return statement_message(
        to=version.author.email,
        language=version.author.language,
        supporter=False,
        subject=lazy_gettext("Your statement was not approved: %(title)s"),
        template="mail/version_rejected.txt",
        message_id=f"version-rejected.{version.id}.{campaign.uuid}",
        version=version,
        site=campaign.owner,
        campaign=campaign,
        admin_url=mail.external_url(f"/admin/{campaign.owner.slug}/statements/{campaign.slug}"),
    )
