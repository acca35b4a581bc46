"""Supporter mail in the admin: the mails that failed (with their reason) and their Retry button."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from chorus import queues, tenancy
from chorus.admin.blueprint import bp, requires
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.models import Action, Campaign, SignOn, SupporterMail
from chorus.services import supporter_mail


def _sign_on_mails():
    """Mail to the contacts of sign-ons made through this member's site (chorus.tenancy's rule)."""
    return select(SupporterMail).join(SignOn, SignOn.id == SupporterMail.sign_on_id).where(tenancy.own_sign_ons(SignOn))


@bp.app_template_global()
def failed_supporter_mails(campaign: Campaign) -> list[SupporterMail]:
    """This member's supporters' mails for the campaign that failed (scoped by chorus.tenancy):
    actions' supporters, and the contacts of sign-ons made through its site."""
    failed = SupporterMail.status == "failed"
    return [
        *db.session.scalars(
            select(SupporterMail)
            .join(Action, Action.id == SupporterMail.action_id)
            .where(Action.campaign_id == campaign.id, failed)
            .order_by(SupporterMail.id)
            .limit(supporter_mail.BATCH)
        ),
        *db.session.scalars(
            _sign_on_mails()
            .where(SignOn.campaign_id == campaign.id, failed)
            .order_by(SupporterMail.id)
            .limit(supporter_mail.BATCH)
        ),
    ]


@bp.post("/<slug:org>/mails/<int:mail_id>/retry")
@requires("publish_campaigns")
def retry_supporter_mail(mail_id: int):
    found = db.session.scalar(
        select(SupporterMail).join(Action, Action.id == SupporterMail.action_id).where(SupporterMail.id == mail_id)
    ) or db.session.scalar(_sign_on_mails().where(SupporterMail.id == mail_id))
    if found is None or found.status != "failed":
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    supporter_mail.retry(found.id)
    queues.kick_supporter_mail()
    flash(_("The mail is queued again."))
    return redirect(url_for("admin.campaign_dashboard", campaign=(found.action or found.sign_on).campaign.slug))
