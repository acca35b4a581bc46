"""Campaign screens of one member: create, edit, preview, publish/pause/close, share, host."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from chorus import policy, tenancy
from chorus.admin.blueprint import bp, requires
from chorus.admin.forms import CampaignForm
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.i18n import ngettext
from chorus.models import Campaign, CampaignHost, Official, Organization
from chorus.public.forms import Form, form_for
from chorus.services import campaign_admin, content, osdi, retention, tally
from chorus.services.mail import external_url
from chorus.templating import render_for


def owned_or_404(slug: str) -> Campaign:
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.owner_org_id == g.org.id))
    if campaign is None:
        abort(404)
    return campaign


def hosted_or_404(slug: str) -> Campaign:
    """A campaign this member owns or was asked to host."""
    campaign = db.session.scalar(
        select(Campaign)
        .join(CampaignHost, CampaignHost.campaign_id == Campaign.id)
        .where(Campaign.slug == slug, CampaignHost.org_id == g.org.id)
    )
    if campaign is None:
        abort(404)
    return campaign


def campaign_form(campaign: Campaign | None = None) -> CampaignForm:
    """The campaign form, with the officials a letter may be addressed to."""
    form = CampaignForm(obj=campaign)
    officials = db.session.scalars(select(Official).order_by(Official.name)).all()
    form.targets.choices = [SelectChoice(o.id, f"{o.addressed} <{o.email}>") for o in officials]
    if campaign is not None and not form.is_submitted():
        form.targets.data = [t.official_id for t in campaign.targets]
        form.kind.render_kw = {"disabled": True}  # a campaign keeps its kind
    if campaign is not None:
        form.kind.data = campaign.kind
    if campaign is not None and "ends_at" not in request.form:  # shown and kept as a day, not a moment
        form.ends_at.data = campaign_admin.end_date(campaign)
    return form


def _form_error(form, error: campaign_admin.CampaignError) -> None:
    """The service's refusal, next to the field it is about."""
    (form[error.field].errors if error.field else form.form_errors).append(str(error))


def _form_page(form, campaign=None):
    status = 422 if form.is_submitted() else 200
    return render_template("admin/campaign_form.html", org=g.org, form=form, campaign=campaign), status


@bp.route("/<slug:org>/campaigns/new", methods=["GET", "POST"])
@requires("edit_campaigns")
def new_campaign():
    form = campaign_form()
    if form.validate_on_submit():
        try:
            campaign = campaign_admin.create(g.org, form)
        except campaign_admin.CampaignError as error:
            _form_error(form, error)
        else:
            flash(_("Draft saved. Preview it, then publish it when it is ready."))
            return redirect(url_for("admin.campaign_dashboard", campaign=campaign.slug))
    return _form_page(form)


@bp.route("/<slug:org>/campaigns/<slug:campaign>/edit", methods=["GET", "POST"])
@requires("edit_campaigns")
def edit_campaign(campaign: str):
    found = owned_or_404(campaign)
    if found.kind == "statement":  # its text changes only through a moderated version
        return redirect(url_for("admin.statement", campaign=found.slug))
    if not policy.can_edit(current_user, found, g.org):
        abort(403)  # the whole form: every field of a published campaign is the publishers' to change
    form = campaign_form(found)
    if form.validate_on_submit():
        try:
            campaign_admin.update(found, form)
        except campaign_admin.CampaignError as error:
            _form_error(form, error)
        else:
            flash(_("Saved."))
            return redirect(url_for("admin.campaign_dashboard", campaign=found.slug))
    return _form_page(form, found)


@bp.get("/<slug:org>/campaigns/<slug:campaign>/preview")
@requires("edit_campaigns")
def preview_campaign(campaign: str):
    """The public page as this member would show it, drafts included."""
    found = hosted_or_404(campaign)
    return render_for(
        g.org.slug,
        "campaign.html",
        org=g.org,
        campaign=found,
        form=form_for(found, g.org),
        tally=tally.tally_document(tally.meta_for(found)),
        hosts=found.host_orgs(),
        embed=False,
        preview=True,
    )


@bp.get("/<slug:org>/campaigns/<slug:campaign>")
@requires("view")
def campaign_dashboard(campaign: str):
    found = hosted_or_404(campaign)
    others = db.session.scalars(
        select(Organization).where(Organization.id.not_in([h.org_id for h in found.hosts])).order_by(Organization.name)
    ).all()
    return render_template(
        "admin/campaign.html",
        org=g.org,
        campaign=found,
        tally=tally.tally_document(tally.meta_for(found)),
        others=others,
        transitions=[a for a, (sources, _t) in campaign_admin.TRANSITIONS.items() if found.status in sources],
        can=lambda permission: policy.can(current_user, permission, g.org),
        can_edit=policy.can_edit(current_user, found, g.org),
        owner=found.owner_org_id == g.org.id,
        retention=retention.schedule(found),
        translations=content.missing_report(found),
        embed_url=f"{tenancy.site_root(g.org)}/{found.slug}/embed",  # the member's own host when it has one
        embed_script=external_url("/static/embed.js"),
    )


@bp.post("/<slug:org>/campaigns/<slug:campaign>/api-actions")
@requires("publish_campaigns")
def count_api_actions(campaign: str):
    """The owner decides whether actions recorded through members' API keys count in the shared tally."""
    found = owned_or_404(campaign)
    osdi.update_campaign(found, {"count_api_actions": request.form.get("count") == "1"})
    flash(_("Saved: the shared tally was recounted."))
    return redirect(url_for("admin.campaign_dashboard", campaign=campaign))


@bp.post("/<slug:org>/campaigns/<slug:campaign>/status")
@requires("publish_campaigns")
def change_campaign_status(campaign: str):
    found = owned_or_404(campaign)
    if not Form().validate_on_submit():
        abort(400)
    try:
        campaign_admin.change_status(found, request.form.get("action", ""))
    except campaign_admin.CampaignError as error:
        flash(str(error))
    else:
        flash(_("The campaign is now %(status)s.", status=campaign_admin.status_name(found.status)))
    return redirect(url_for("admin.campaign_dashboard", campaign=found.slug))


@bp.post("/<slug:org>/campaigns/<slug:campaign>/hosts")
@requires("publish_campaigns")
def share_campaign(campaign: str):
    found = owned_or_404(campaign)
    if not Form().validate_on_submit():
        abort(400)
    slugs = request.form.getlist("hosts")
    orgs = db.session.scalars(select(Organization).where(Organization.slug.in_(slugs))).all()
    remove = request.form.get("remove")
    if remove:
        target = db.session.scalar(select(Organization).where(Organization.slug == remove))
        if target is None:
            abort(404)
        try:
            campaign_admin.remove_host(found, target)
        except campaign_admin.CampaignError as error:
            flash(str(error))
        else:
            flash(_("%(name)s no longer hosts this campaign.", name=target.name))
    else:
        added = campaign_admin.invite_hosts(found, list(orgs))
        flash(
            ngettext(
                "Asked %(num)d member to host this campaign.", "Asked %(num)d members to host this campaign.", added
            )
        )
    return redirect(url_for("admin.campaign_dashboard", campaign=found.slug))


@bp.post("/<slug:org>/hosting/<slug:campaign>")
@requires("publish_campaigns")
def respond_to_hosting(campaign: str):
    found = hosted_or_404(campaign)
    if not Form().validate_on_submit():
        abort(400)
    accept = request.form.get("answer") == "accept"
    try:
        campaign_admin.respond_to_hosting(found, g.org, accept)
    except campaign_admin.CampaignError as error:
        flash(str(error))
    else:
        flash(
            _("Now hosting: %(title)s.", title=found.title)
            if accept
            else _("No longer shown on our site: %(title)s.", title=found.title)
        )
    return redirect(url_for("admin.org_home"))
