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
from redis.exceptions import RedisError

from chorus import tenancy
from chorus.extensions import csrf, db
from chorus.i18n import gettext as _
from chorus.public.forms import ButtonForm, MyDataForm, SignOnForm, form_for
from chorus.services import campaigns, my_data, ratelimit, signing, statements, supporter_mail, supporters, tally
from chorus.services.mail import ExpiredLink, read_manage, read_token, read_unsubscribe
from chorus.services.storage import storage
from chorus.services.uploads import upload_key
from chorus.templating import render_for

bp = Blueprint("public", __name__)

#: Served from Redis alone: the member is checked against the cached host list, not the database.
_CACHED_ENDPOINTS = {"public.tally_json"}
#: Pages a member's own host serves without the /<org> prefix (see CONTRACT "Member domains").
SITE_PAGES = {
    "public.coalition",
    "public.member_site",
    "public.campaign",
    "public.thanks",
    "public.embed",
    "public.tally_json",
    "public.statement_version",
    "public.my_data_request",
}
#: Of those, the pages the coalition's shared host also serves at its root.
COALITION_PAGES = {"public.coalition", "public.my_data_request"}
#: A few fields, or an organization's logo with its sign-on: a logo over its own 256 kB limit (a phone
#: photo) still reaches the form, which says so and keeps what was typed; beyond this, 413 unparsed.
PUBLIC_MAX_BODY = 2 * 1024 * 1024
SIGNS_PER_MINUTE = 60  # action forms from one address
SIGN_ONS_PER_HOUR = 10  # from one address: a coalition gets dozens of sign-ons, not hundreds an hour
ASSET_TYPES = {".svg", ".png", ".jpg", ".jpeg", ".webp", ".css"}


@bp.url_value_preprocessor
def _resolve_member(endpoint: str | None, values: dict | None) -> None:
    """The one place a request's member organization is decided: the Host header when it is a
    member's own host (then `/` is its home and `/<campaign>` its pages), else the URL prefix."""
    site = tenancy.site_slug()
    slug = values.pop("org", None) if values else None
    if endpoint in SITE_PAGES:
        if site is not None:
            if slug is not None:  # /<org>/... on a member's own host: that page lives elsewhere
                abort(redirect(_canonical(slug, site), 308))
            slug = site
        elif slug is None and endpoint not in COALITION_PAGES:
            # A rule of members' own hosts reached on the shared host: /<x> is member x's site.
            if endpoint == "public.campaign" and request.method in ("GET", "HEAD"):
                abort(redirect(f"/{values['campaign']}/", 308))
            abort(404)
    if slug is None:
        return
    g.org_slug = slug
    if endpoint in _CACHED_ENDPOINTS:
        return
    org = campaigns.site_org(slug)
    if org is None:
        abort(404)
    tenancy.enter(org)


def _canonical(slug: str, site: str) -> str:
    """Where /<slug>/... asked on member `site`'s own host lives: without the prefix on its own host,
    on the shared host for any other member."""
    path = request.full_path.rstrip("?")
    if slug == site:
        return path[len(slug) + 1 :] or "/"
    return current_app.config["CHORUS_BASE_URL"] + path


@bp.url_value_preprocessor
def _small_bodies(endpoint: str | None, values: dict | None) -> None:
    """Public forms carry a few fields: refuse big bodies (Content-Length or chunked) before parsing
    them (413). Set here, as soon as the URL is matched, before any request hook reads the body."""
    request.max_content_length = PUBLIC_MAX_BODY


@bp.url_defaults
def _add_member(endpoint: str, values: dict) -> None:
    """On a member's own host its pages are built without the /<org> prefix."""
    site = g.get("site_slug")
    if site and endpoint in SITE_PAGES:
        if values.get("org", site) == site:
            values.pop("org", None)
        return
    if (
        "org" not in values
        and getattr(g, "org_slug", None)
        and current_app.url_map.is_endpoint_expecting(endpoint, "org")
    ):
        values["org"] = g.org_slug


@bp.get("/")
def coalition():
    if g.get("org") is not None:  # a member's own host
        return member_site()
    return render_template("coalition.html", orgs=campaigns.organizations(), campaigns=campaigns.coalition_overview())


@bp.get("/<slug:org>/")
@bp.get("/", endpoint="member_site")  # built on a member's own host; requests to / reach coalition() first
def member_site():
    hosted = db.session.scalars(campaigns.hosted_by(g.org)).all()
    totals = {c.id: tally.read(c.id).total for c in hosted}
    return render_for(g.org.slug, "org.html", org=g.org, campaigns=hosted, totals=totals)


def _campaign_page(
    campaign, form, status: int = 200, template: str = "campaign.html", preview: str = "", sign_on_form=None
):
    if campaign.kind == "statement" and template == "campaign.html":
        template = "statement.html"
    return (
        render_for(
            g.org.slug,
            template,
            org=g.org,
            campaign=campaign,
            form=form,
            tally=tally.tally_document(tally.meta_for(campaign)),
            hosts=campaign.host_orgs(),
            embed=bool(request.args.get("embed")) or template == "embed.html",
            letter_preview=preview,
            messages=statements.public_messages(campaign)
            if campaign.public_comments or campaign.kind == "statement"
            else [],
            **(_statement_context(campaign, sign_on_form) if campaign.kind == "statement" else {}),
        ),
        status,
    )


def _statement_context(campaign, sign_on_form) -> dict:
    return {
        "version": statements.current_version(campaign),
        "signatories": statements.signatories(campaign),
        "sign_on_form": sign_on_form or SignOnForm.for_campaign(campaign),
    }


@bp.route("/<slug:org>/<slug:campaign>", methods=["GET", "POST"])
@bp.route("/<slug:campaign>", methods=["GET", "POST"])
@csrf.exempt  # ActionForm checks its own signed token (see chorus.public.forms)
def campaign(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    form = form_for(found, g.org)
    if request.method != "POST":  # GET, and HEAD with it
        return _campaign_page(found, form)
    if not found.accepting_actions:
        return _campaign_page(found, form, 409)
    if not sign_allowed(request.remote_addr):
        form.form_errors.append(_("Too many submissions from your network; please try again in a minute."))
        return _campaign_page(found, form, 429)
    if found.kind == "statement" and "organization_name" in request.form:
        return _sign_on(found, campaign)
    if not form.validate():
        return _campaign_page(found, form, 422)
    if found.kind == "letter" and request.form.get("preview"):
        return _campaign_page(found, form, preview=form.preview())  # nothing stored until they send
    signing.sign(found, g.org, form.supporter())
    embed = {"embed": 1} if request.args.get("embed") else {}
    # The same answer whatever the outcome (no membership oracle): a repeat is told to the address's
    # owner by mail. `campaign` is the slug from the URL: reading found.slug after the commit would reload it.
    return redirect(url_for(".thanks", campaign=campaign, **embed), 303)


def sign_allowed(remote_addr: str | None) -> bool:
    """Count one action form from this address (also called by chorus.public.sign_shortcut)."""
    return ratelimit.allow(f"sign:{remote_addr}", SIGNS_PER_MINUTE, 60)


def _sign_on(found, slug: str):
    """An organization's sign-on: the same answer whether or not it (or this address) signed before."""
    form = SignOnForm.for_campaign(found)
    if not ratelimit.allow(f"signon:{request.remote_addr}", SIGN_ONS_PER_HOUR, 3600):
        form.form_errors.append(_("Too many submissions from your network; please try again in a minute."))
        return _campaign_page(found, form_for(found, g.org), 429, sign_on_form=form)
    if not form.validate():
        return _campaign_page(found, form_for(found, g.org), 422, sign_on_form=form)
    statements.sign_on(found, g.org, form.signature())
    embed = {"embed": 1} if request.args.get("embed") else {}
    return redirect(url_for(".thanks", campaign=slug, status="sign_on", **embed), 303)


@bp.get("/<slug:org>/<slug:campaign>/versions/<int:number>")
@bp.get("/<slug:campaign>/versions/<int:number>")
def statement_version(campaign: str, number: int):
    """An approved version of a statement, readable at its own address after the text changed."""
    found = campaigns.get_hosted_or_404(g.org, campaign)
    version = statements.get_version(found, number) if found.kind == "statement" else None
    if version is None or version.status != "approved":
        abort(404)
    current = statements.current_version(found)
    return render_for(g.org.slug, "statement_version.html", org=g.org, campaign=found, version=version, current=current)


@bp.route("/signon/<token>", methods=["GET", "POST"])
@csrf.exempt  # ButtonForm checks its own signed token
def sign_on_status(token: str):
    """The link in every mail to a sign-on's contact: confirm it, keep it on a new version, retract it.
    GET only shows the buttons, so mail scanners that open links change nothing."""
    sign_on_uuid = read_token("signon", token)
    found = statements.find_by_uuid(sign_on_uuid) if sign_on_uuid else None
    if found is None:
        abort(404)
    g.org, g.org_slug = found.org, found.org.slug  # branding only
    form = ButtonForm(meta={"csrf_context": token})
    done = ""
    if request.method == "POST":
        if not form.validate():
            return _sign_on_status_page(found, form), 422
        step = request.form.get("step", "")
        actions = {"confirm": statements.confirm, "keep": statements.keep, "retract": statements.retract}
        if step not in actions:
            abort(400)
        try:
            done = step if actions[step](found) else "unchanged"
        except statements.StatementError as refused:
            return _sign_on_status_page(found, form, refused=str(refused)), 409
    return _sign_on_status_page(found, form, done)


def _sign_on_status_page(found, form, done: str = "", refused: str = ""):
    return render_for(
        found.org.slug,
        "sign_on_status.html",
        org=found.org,
        sign_on=found,
        campaign=found.campaign,
        status=statements.status_for_signer(found),
        current=statements.current_version(found.campaign),
        form=form,
        done=done,
        refused=refused,
    )


@bp.get("/<slug:org>/<slug:campaign>/thanks")
@bp.get("/<slug:campaign>/thanks")
def thanks(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    return render_for(
        g.org.slug,
        "thanks.html",
        org=g.org,
        campaign=found,
        embed=bool(request.args.get("embed")),
        # An organization's sign-on waits for its confirmation, then for a moderator: it is told so.
        outcome="sign_on" if request.args.get("status") == "sign_on" else None,
        **_next_steps(g.org, found),
    )


def _next_steps(org, found) -> dict:
    """What the thanks and confirmation pages show next: the live count and more campaigns."""
    return {
        "tally": _live_count(found),
        "hosts": found.host_orgs(),
        "others": campaigns.others_on_site(org, found),
    }


def _live_count(found) -> dict | None:
    """The counter, or none while Redis is away: these pages follow a committed action, which must
    not read as failed (a 503 after a confirmation had people confirm again what had worked)."""
    try:
        return tally.tally_document(tally.campaign_meta(found.slug))
    except RedisError as error:
        current_app.logger.warning("no live count on %s: %s", found.slug, error)
        return None


@bp.get("/<slug:org>/<slug:campaign>/embed")
@bp.get("/<slug:campaign>/embed")
def embed(campaign: str):
    found = campaigns.get_hosted_or_404(g.org, campaign)
    return _campaign_page(found, form_for(found, g.org), template="embed.html")


@bp.get("/<slug:org>/<slug:campaign>/tally.json")
@bp.get("/<slug:campaign>/tally.json")
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
    done = result is not None or action.status == "confirmed"
    page = render_for(
        action.org.slug,
        "confirm.html",
        action=action,
        org=action.org,
        form=form,
        result=result,
        campaign=action.campaign,
        **(_next_steps(action.org, action.campaign) if done else {}),
    )
    return page, 409 if result is not None and result.refused else 200


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without any page token
def unsubscribe(token: str):
    found = read_unsubscribe(token)
    if found is None:
        abort(404)
    org = supporter_mail.member(found[0])
    # The one-click POST (RFC 8058) and the page's first button stop this member's mail; the
    # second button (or a link that names no member) stops all of the coalition's.
    everything = org is None or request.form.get("scope") == "coalition"
    if request.method == "POST":
        supporter_mail.unsubscribe(found[1], None if everything else org.id)
    return render_template("unsubscribe.html", done=request.method == "POST", member=org, everything=everything)


@bp.route("/<slug:org>/my-data", methods=["GET", "POST"])
@bp.route("/my-data", methods=["GET", "POST"])
@csrf.exempt  # MyDataForm checks its own signed token
def my_data_request():
    """Ask for the link to one's own data. The answer is the same 303 and page whether or not the
    address is known (no membership oracle); only a known address gets the mail."""
    form = MyDataForm(meta={"csrf_context": "my-data"})
    if request.method != "POST":  # GET, and HEAD with it
        return _my_data_request_page(form, sent=bool(request.args.get("sent")))
    if not ratelimit.allow(f"my-data-client:{request.remote_addr}", my_data.PER_CLIENT, 3600):
        form.form_errors.append(_("Too many submissions from your network; please try again in a minute."))
        return _my_data_request_page(form, status=429)
    if not form.validate():
        return _my_data_request_page(form, status=422)
    my_data.request_link(form.email.data, g.get("org"))
    return redirect(url_for(".my_data_request", sent=1), 303)


def _my_data_request_page(form, sent: bool = False, expired: bool = False, status: int = 200):
    return _branded("my_data_request.html", form=form, sent=sent, expired=expired), status


def _branded(template: str, **context) -> str:
    """A page in the member's branding when the request is on one (g.org), else the coalition's."""
    org = g.get("org")
    return render_for(org.slug, template, org=org, **context) if org else render_template(template, org=None, **context)


@bp.route("/my-data/<token>", methods=["GET", "POST"])
@csrf.exempt  # ButtonForm checks its own signed token
def my_data_page(token: str):
    """The page a supporter's mailed link opens: what is held, the export, each consent, erasure.
    Opening it changes nothing; every change is a POST carrying the page's token."""
    try:
        found = read_manage(token)
    except ExpiredLink:
        return _my_data_request_page(MyDataForm(meta={"csrf_context": "my-data"}), expired=True, status=410)
    if found is None:
        abort(404)
    slug, address = found
    org = supporter_mail.member(slug)
    if org is not None:
        g.org, g.org_slug = org, org.slug  # branding only: the page reads this one address's data
    form = ButtonForm(meta={"csrf_context": token})
    done, status = "", 200
    if request.method == "POST":
        step = request.form.get("step", "")
        if not form.validate():
            done, status = "", 422
        elif step == "export":
            document = supporters.export(address, my_data.ACTOR)
            if document is not None:
                response = current_app.response_class(supporters.as_json(document) + "\n", mimetype="application/json")
                response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
                response.headers["Cache-Control"] = "no-store"
                return response
        elif step in ("grant", "withdraw"):
            try:
                done = my_data.change_consent(
                    address,
                    request.form.get("action", ""),
                    request.form.get("member", ""),
                    request.form.get("purpose", ""),
                    grant=step == "grant",
                )
            except my_data.ConsentError:
                abort(400)
        elif step == "resubscribe":
            try:
                done = "resubscribed" if my_data.lift_unsubscribe(address, request.form.get("member", "")) else ""
            except my_data.ConsentError:
                abort(400)
        elif step == "erase":
            if request.form.get("confirm") != "yes":
                done = "confirm-erase"
            else:
                supporters.erase(address, my_data.ACTOR)
                done = "erased"
        else:
            abort(400)
    held = my_data.holdings(address)
    page = _branded("my_data.html", held=held, form=form, done=done, consent_text=signing.consent_text)
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is the supporter's whole authority
    return response


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
    if suffix == ".css":
        tenant_folder = Path(current_app.config["CHORUS_TENANTS_DIR"]) / g.org.slug
        response = send_from_directory(tenant_folder, filename, max_age=3600)
    else:
        try:
            response = storage().send(upload_key(g.org.slug, filename), max_age=3600)
        except ValueError:  # not a plain file name (a "/" or "..")
            response = None
        if response is None:
            abort(404)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
