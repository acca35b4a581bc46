"""A member's admin home, its team and branding; the platform admins' organizations and outbox."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from chorus import policy
from chorus.admin.blueprint import bp, platform_admin_only, requires
from chorus.admin.forms import BrandingForm, HostForm, InviteForm, NewOrganizationForm
from chorus.extensions import db
from chorus.i18n import gettext as _
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
    pending = branding.pending_hosts() if current_user.is_platform_admin else []
    return render_template("admin/home.html", orgs=orgs, pending_hosts=pending, decide=FlaskForm())


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
    form = InviteForm(language=current_user.language)
    if form.validate_on_submit():
        try:
            accounts.invite(form.email.data, form.role.data, g.org, current_user, form.language.data)
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            flash(_("Invitation sent to %(email)s.", email=form.email.data))
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
        flash(_("Branding saved."))
        return redirect(url_for("admin.edit_branding"))
    return _branding_page(form, HostForm(formdata=None))


def _branding_page(form, host_form):
    failed = form.is_submitted() or host_form.is_submitted()
    return render_template("admin/branding.html", org=g.org, form=form, host_form=host_form), 422 if failed else 200


@bp.post("/<slug:org>/hosts")
@requires("edit_branding")
def request_host():
    """A member lists its own host name; it serves once a platform admin approves it."""
    form = HostForm()
    if form.validate_on_submit():
        try:
            added = branding.request_host(g.org, form.host.data, approved=current_user.is_platform_admin)
        except branding.BrandingError as error:
            form.host.errors.append(str(error))
        else:
            flash(
                _("%(host)s will show your site. Point its DNS at Chorus (see the README).", host=added.host)
                if added.approved
                else _(
                    "%(host)s will show your site once a platform admin approves it. Point its DNS at Chorus "
                    "(see the README).",
                    host=added.host,
                )
            )
            return redirect(url_for("admin.edit_branding"))
    return _branding_page(BrandingForm(obj=g.org, formdata=None), form)


@bp.post("/member-hosts/<int:host_id>")
@platform_admin_only
def decide_host(host_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    approve = request.form.get("answer") == "approve"
    host = branding.decide_host(host_id, approve)
    if host is None:
        abort(404)
    flash(_("%(host)s approved.", host=host) if approve else _("%(host)s removed.", host=host))
    return redirect(url_for("admin.home"))


@bp.route("/organizations/new", methods=["GET", "POST"])
@platform_admin_only
def new_organization():
    """Add a member without a tenants/ folder: name, slug and colours; the rest on its branding page."""
    form = NewOrganizationForm()
    if form.validate_on_submit():
        try:
            org = branding.create_org(
                form.name.data, form.slug.data, form.tagline.data or "", form.primary_color.data, form.accent_color.data
            )
        except branding.BrandingError as error:
            form.slug.errors.append(str(error))
        else:
            flash(_("%(name)s added. Invite its first admin from its Team page.", name=org.name))
            return redirect(url_for("admin.org_home", org=org.slug))
    return render_template("admin/new_organization.html", form=form), 422 if form.is_submitted() else 200


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
        flash(_("Invitation sent to %(email)s.", email=email))
    return redirect(url_for("admin.home"))
