"""The public site: the coalition, each member's branded site, campaign pages and their actions."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.routing import BaseConverter

from chorus import tenancy
from chorus.extensions import csrf, db
from chorus.i18n import gettext as _
from chorus.models import Suppression
from chorus.public.forms import ButtonForm, form_for
from chorus.services import campaigns, ratelimit, signing, tally, webhooks
from chorus.services.mail import read_token
from chorus.services.uploads import uploads_dir
from chorus.templating import render_for

bp = Blueprint("public", __name__)

#: Served from Redis alone: the member is checked against the cached host list, not the database.
_CACHED_ENDPOINTS = {"public.tally_json"}
PUBLIC_MAX_BODY = 256 * 1024
ASSET_TYPES = {".svg", ".png", ".jpg", ".jpeg", ".webp", ".css"}


class SlugConverter(BaseConverter):
    regex = r"[a-z0-9][a-z0-9-]{0,79}"


@bp.url_value_preprocessor
def _resolve_member(endpoint: str | None, values: dict | None) -> None:
    """The one place a request's member organization is decided: the URL prefix."""
    if not values or "org" not in values:
        return
    slug = values.pop("org")
    g.org_slug = slug
    if endpoint in _CACHED_ENDPOINTS:
        return
    org = campaigns.get_org(slug)
    if org is None:
        abort(404)
    tenancy.enter(org)


@bp.before_request
def _small_bodies() -> None:
    """Public forms carry a few fields: refuse big bodies before parsing them (413)."""
    request.max_content_length = PUBLIC_MAX_BODY


@bp.url_defaults
def _add_member(endpoint: str, values: dict) -> None:
    if (
        "org" not in values
        and getattr(g, "org_slug", None)
        and current_app.url_map.is_endpoint_expecting(endpoint, "org")
    ):
        values["org"] = g.org_slug


@bp.get("/")
def coalition():
    return render_template("coalition.html", orgs=campaigns.organizations(), campaigns=campaigns.coalition_overview())


@bp.get("/<slug:org>/")
def member_site():
    hosted = db.session.scalars(campaigns.hosted_by(g.org)).all()
    totals = {c.id: tally.read(c.id).total for c in hosted}
    return render_for(g.org.slug, "org.html", org=g.org, campaigns=hosted, totals=totals)


def _campaign_page(campaign, form, status: int = 200, template: str = "campaign.html", preview: str = ""):
    return (
        render_for(
            g.org.slug,
            template,
            org=g.org,
            campaign=campaign,
            form=form,
            tally=tally.tally_document(tally.campaign_meta(campaign.slug)),
            hosts=campaign.host_orgs(),
            embed=bool(request.args.get("embed")) or template == "embed.html",
            letter_preview=preview,
        ),
        status,
    )


@bp.route("/<slug:org>/<slug:campaign>", methods=["GET", "POST"])
@csrf.exempt  # ActionForm checks its own signed token (see chorus.public.forms)
def campaign(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    form = form_for(found, g.org)
    if request.method == "GET":
        return _campaign_page(found, form)
    if not found.accepting_actions:
        return _campaign_page(found, form, 409)
    if not ratelimit.allow(f"sign:{request.remote_addr}", 60, 60):
        form.form_errors.append(_("Too many submissions from your network; please try again in a minute."))
        return _campaign_page(found, form, 429)
    if not form.validate():
        return _campaign_page(found, form, 422)
    if found.kind == "letter" and request.form.get("preview"):
        return _campaign_page(found, form, preview=form.preview())  # nothing stored until they send
    signing.sign(found, g.org, form.supporter())
    embed = {"embed": 1} if request.args.get("embed") else {}
    # The same answer whatever the outcome (no membership oracle): a repeat is told to the address's
    # owner by mail. `campaign` is the slug from the URL: reading found.slug after the commit would reload it.
    return redirect(url_for(".thanks", campaign=campaign, **embed), 303)


@bp.get("/<slug:org>/<slug:campaign>/thanks")
def thanks(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    return render_for(
        g.org.slug,
        "thanks.html",
        org=g.org,
        campaign=found,
        embed=bool(request.args.get("embed")),
    )


@bp.get("/<slug:org>/<slug:campaign>/embed")
def embed(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    return _campaign_page(found, form_for(found, g.org), template="embed.html")


@bp.get("/<slug:org>/<slug:campaign>/tally.json")
def tally_json(campaign: str):
    meta = tally.campaign_meta(campaign)
    if meta is None or g.org_slug not in meta.hosts:
        abort(404)
    response = jsonify(tally.tally_document(meta))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 5
    response.add_etag()
    return response.make_conditional(request)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt  # ButtonForm checks its own signed token
def confirm(token: str):
    """GET shows a button; only the POST confirms, so mail scanners that open links confirm nothing."""
    action_uuid = read_token("confirm", token)
    action = signing.find_by_token_value(action_uuid) if action_uuid else None
    if action is None:
        abort(404)
    g.org, g.org_slug = action.org, action.org.slug  # branding only; no supporter query follows
    form = ButtonForm(meta={"csrf_context": token})
    result = None
    if request.method == "POST":
        if not form.validate():
            return render_for(action.org.slug, "confirm.html", action=action, org=action.org, form=form), 422
        result = signing.confirm(action_uuid)
    return render_for(action.org.slug, "confirm.html", action=action, org=action.org, form=form, result=result)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without any page token
def unsubscribe(token: str):
    address = read_token("unsubscribe", token)
    if address is None:
        abort(404)
    if request.method == "POST" and db.session.get(Suppression, address) is None:
        db.session.add(Suppression(email_normalized=address))
        owed = webhooks.owe_unsubscribe(address)
        db.session.commit()
        if owed:
            webhooks.kick()
    return render_template("unsubscribe.html", done=request.method == "POST")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every site, the coalition's and each member's."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=86400)


@bp.get("/assets/<slug:org>/<path:filename>")
def asset(filename: str):
    """A member's images, all checked by chorus.services.uploads (admin uploads and the logos
    `chorus tenants sync` copied), and the stylesheets of tenants/<slug>/. Names carry a content hash."""
    suffix = Path(filename).suffix.lower()
    if suffix not in ASSET_TYPES:
        abort(404)
    tenant_folder = Path(current_app.config["CHORUS_TENANTS_DIR"]) / g.org.slug
    folder = tenant_folder if suffix == ".css" else uploads_dir(g.org.slug)
    response = send_from_directory(folder, filename, max_age=3600)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
