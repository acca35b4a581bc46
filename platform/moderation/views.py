"""One queue for statement versions, sign-ons, solidarity messages and public comments. Views parse
the request and call chorus.services.moderation, which checks chorus.policy for every item."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from chorus import policy
from chorus.admin.blueprint import require_login
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.i18n import ngettext
from chorus.models import Campaign, Organization
from chorus.routing import row_id
from chorus.services import moderation

bp = Blueprint("moderation", __name__, url_prefix="/admin/moderation")
bp.before_request(require_login)


@bp.app_context_processor
def _moderation_link() -> dict:
    return {"can_moderate": moderation.visible_to}


@bp.before_request
def _moderators_only():
    if current_user.is_authenticated and not moderation.visible_to(current_user):
        abort(404)


#: The queue's filter and the headings of its groups, in the moderator's language.
KIND_NAMES = {
    "version": _l("statement text"),
    "sign_on": _l("sign-on"),
    "message": _l("message"),
    "comment": _l("comment"),
}
GROUP_NAMES = {
    "version": _l("Statement texts"),
    "sign_on": _l("Organizations' sign-ons"),
    "message": _l("Solidarity messages"),
    "comment": _l("Public comments"),
}


def _id_arg(name: str) -> int | None:
    """A filter of the queue: empty for all, else the id of a statement or member (400 if it cannot be)."""
    value = request.args.get(name, "")
    ident = row_id(value)
    if value and ident is None:
        abort(400, _("This filter names no statement or member."))
    return ident


@bp.get("/")
def queue():
    kind = request.args.get("kind", "")
    if kind and kind not in moderation.KINDS:
        abort(400)
    view = request.args.get("view") or "pending"
    if view not in moderation.VIEWS:
        abort(400)
    campaign_id, org_id = _id_arg("campaign"), _id_arg("member")
    return render_template(
        "moderation/queue.html",
        items=moderation.pending(current_user, kind, campaign_id, org_id, view),
        kind=kind,
        view=view,
        campaign_id=campaign_id,
        org_id=org_id,
        kinds=moderation.KINDS,
        kind_names=KIND_NAMES,
        group_names=GROUP_NAMES,
        reasons=moderation.REASONS,
        statements=db.session.scalars(
            select(Campaign).where(Campaign.kind == "statement").order_by(Campaign.title)
        ).all(),
        members=db.session.scalars(select(Organization).order_by(Organization.name)).all(),
        coalition=policy.can(current_user, "moderate"),
        me=current_user,
    )


@bp.post("/decide")
def decide():
    if not FlaskForm().validate_on_submit():
        abort(400)
    ids = [row_id(i) for i in request.form.getlist("ids")]
    if None in ids:
        abort(400, _("The selection names an item that is not in the queue."))
    if not ids:
        flash(_("Tick at least one item."))
        return redirect(request.referrer or url_for(".queue"))
    seen = request.form.get("seen") or "pending"
    try:
        decided = moderation.decide(
            current_user,
            request.form.get("kind", ""),
            ids,
            request.form.get("decision", ""),
            request.form.get("reason_code", ""),
            request.form.get("reason", ""),
            seen,
        )
    except moderation.NotAllowed as error:
        abort(403, str(error))
    except moderation.ModerationError as error:
        flash(str(error))
        return redirect(url_for(".queue")), 303
    flash(ngettext("%(num)d item decided.", "%(num)d items decided.", decided.changed))
    if decided.left:
        flash(
            ngettext(
                "%(num)d item had been decided meanwhile, by another moderator: it was left as it is.",
                "%(num)d items had been decided meanwhile, by another moderator: they were left as they are.",
                decided.left,
            )
        )
    view = seen if seen in moderation.VIEWS else "pending"
    return redirect(url_for(".queue", kind=request.form.get("kind", ""), view=view), 303)


@bp.get("/log")
def audit_log():
    if not policy.can(current_user, "view_audit_log"):
        abort(404)
    return render_template("moderation/log.html", decisions=moderation.audit_log(), reasons=moderation.REASONS)
