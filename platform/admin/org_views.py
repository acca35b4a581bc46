"""A member's admin home, its team and branding; the platform admins' organizations and outbox."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user
from sqlalchemy import select

from chorus import policy
from chorus.admin.blueprint import bp, platform_admin_only, requires
from chorus.admin.forms import BrandingForm, InviteForm
from chorus.extensions import db
from chorus.models import Campaign, CampaignHost, Invitation, Membership, Organization, User
from chorus.services import accounts, branding

OUTBOX_PAGE = 50


@bp.get("/")
def home():
    """Every member the person belongs to (all of them for platform admins)."""
    if current_user.is_platform_admin:
        orgs = db.session.scalars(select(Organization).order_by(Organization.name)).all()
    else:
        orgs = sorted((m.org for m in current_user.memberships), key=lambda o: o.name)
    if len(orgs) == 1 and not current_user.is_platform_admin:
        return redirect(url_for("admin.org_home", org=orgs[0].slug))
    return render_template("admin/home.html", orgs=orgs)


@bp.get("/<slug:org>/")
@requires("view")
def org_home():
    owned = db.session.scalars(
        select(Campaign).where(Campaign.owner_org_id == g.org.id).order_by(Campaign.created_at.desc())
    ).all()
    hosted = db.session.scalars(
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(CampaignHost.org_id == g.org.id, Campaign.owner_org_id != g.org.id)
        .order_by(Campaign.created_at.desc())
    ).all()
    invitations = [c for c in hosted if not next(h for h in c.hosts if h.org_id == g.org.id).accepted]
    return render_template(
        "admin/org_home.html",
        org=g.org,
        owned=owned,
        hosted=[c for c in hosted if c not in invitations],
        host_invitations=invitations,
        role=policy.role(current_user, g.org),
        can=lambda permission: policy.can(current_user, permission, g.org),
    )


@bp.route("/<slug:org>/team", methods=["GET", "POST"])
@requires("manage_team")
def team():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            accounts.invite(form.email.data, form.role.data, g.org, current_user)
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            flash(f"Invitation sent to {form.email.data}.")
            return redirect(url_for("admin.team"))
    members = db.session.scalars(
        select(User).join(Membership).where(Membership.org_id == g.org.id).order_by(User.email)
    ).all()
    pending = db.session.scalars(
        select(Invitation).where(Invitation.org_id == g.org.id, Invitation.accepted_at.is_(None))
    ).all()
    return render_template("admin/team.html", org=g.org, form=form, members=members, pending=pending), (
        422 if form.is_submitted() else 200
    )


@bp.route("/<slug:org>/branding", methods=["GET", "POST"])
@requires("edit_branding")
def edit_branding():
    form = BrandingForm(obj=g.org)
    if form.validate_on_submit():
        branding.update(g.org, form)
        flash("Branding saved.")
        return redirect(url_for("admin.edit_branding"))
    return render_template("admin/branding.html", org=g.org, form=form), 422 if form.is_submitted() else 200


@bp.get("/outbox")
@platform_admin_only
def outbox():
    """The embedded mail transport's messages (MAIL_URL=outbox), newest first."""
    folder = Path(current_app.config["CHORUS_INSTANCE"]) / "outbox"
    files = sorted(folder.glob("*.eml"), reverse=True)[:OUTBOX_PAGE] if folder.is_dir() else []
    messages = []
    for path in files:
        parsed = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        body = parsed.get_body(("plain",))
        messages.append({"file": path.name, "msg": parsed, "text": body.get_content() if body is not None else ""})
    return render_template(
        "admin/outbox.html", messages=messages, total=len(list(folder.glob("*.eml"))) if folder.is_dir() else 0
    )


@bp.get("/outbox/<name>")
@platform_admin_only
def outbox_file(name: str):
    if not name.endswith(".eml") or "/" in name:
        abort(404)
    return send_from_directory(Path(current_app.config["CHORUS_INSTANCE"]) / "outbox", name, mimetype="message/rfc822")


@bp.route("/platform-admins", methods=["POST"])
@platform_admin_only
def invite_platform_admin():
    email = request.form.get("email", "").strip()
    try:
        accounts.invite(email, "platform-admin", None, current_user)
    except accounts.AccountError as error:
        flash(str(error))
    else:
        flash(f"Invitation sent to {email}.")
    return redirect(url_for("admin.home"))
