"""A member's integrations: API keys for its own tools and the webhooks that push actions to them."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from chorus.admin.blueprint import bp, requires
from chorus.i18n import gettext as _
from chorus.models import WebhookEndpoint
from chorus.services import apikeys, webhooks


def _page(status: int = 200, new_token: str | None = None, url_error: str = "", url: str = ""):
    return (
        render_template(
            "admin/integrations.html",
            org=g.org,
            keys=apikeys.of(g.org),
            endpoints=webhooks.endpoints_of(g.org),
            new_token=new_token,
            url_error=url_error,
            url=url,
        ),
        status,
    )


@bp.get("/<slug:org>/integrations")
@requires("manage_integrations")
def integrations():
    return _page()


@bp.post("/<slug:org>/integrations/keys")
@requires("manage_integrations")
def create_api_key():
    """The new key is shown once, on this answer, and never again (only its hash is kept)."""
    _key, token = apikeys.create(g.org, request.form.get("name", "")[:100])
    return _page(201, new_token=token)


@bp.post("/<slug:org>/integrations/keys/<key_uuid>/revoke")
@requires("manage_integrations")
def revoke_api_key(key_uuid: str):
    if not apikeys.revoke(g.org, key_uuid):
        abort(404)
    flash(_("API key revoked: tools using it are refused from now on."))
    return redirect(url_for("admin.integrations"))


@bp.post("/<slug:org>/integrations/webhooks")
@requires("manage_integrations")
def add_webhook():
    url = request.form.get("url", "")
    try:
        endpoint = webhooks.register(g.org, url)
    except webhooks.WebhookError as error:
        return _page(422, url_error=str(error), url=url[:500])
    flash(_("Webhook added. Confirmed actions are posted to it from now on."))
    return redirect(url_for("admin.webhook_log", endpoint_uuid=endpoint.uuid))


def _endpoint_or_404(endpoint_uuid: str) -> WebhookEndpoint:
    endpoint = webhooks.endpoint_of(g.org, endpoint_uuid)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.get("/<slug:org>/integrations/webhooks/<endpoint_uuid>")
@requires("manage_integrations")
def webhook_log(endpoint_uuid: str):
    endpoint = _endpoint_or_404(endpoint_uuid)
    return render_template("admin/webhook.html", org=g.org, endpoint=endpoint, events=webhooks.log(endpoint))


@bp.post("/<slug:org>/integrations/webhooks/<endpoint_uuid>/resume")
@requires("manage_integrations")
def resume_webhook(endpoint_uuid: str):
    webhooks.resume(_endpoint_or_404(endpoint_uuid))
    webhooks.kick()
    flash(_("Webhook resumed; waiting events go out now."))
    return redirect(url_for("admin.webhook_log", endpoint_uuid=endpoint_uuid))


@bp.post("/<slug:org>/integrations/webhooks/<endpoint_uuid>/delete")
@requires("manage_integrations")
def delete_webhook(endpoint_uuid: str):
    webhooks.remove(_endpoint_or_404(endpoint_uuid))
    flash(_("Webhook removed."))
    return redirect(url_for("admin.integrations"))


@bp.post("/<slug:org>/integrations/webhooks/<endpoint_uuid>/events/<event_uuid>/resend")
@requires("manage_integrations")
def resend_webhook_event(endpoint_uuid: str, event_uuid: str):
    endpoint = _endpoint_or_404(endpoint_uuid)
    if not webhooks.send_again(endpoint, event_uuid):
        abort(404)
    webhooks.kick()
    if endpoint.paused_at is None:
        flash(_("The event will be sent again in a moment."))
    else:
        flash(_("The event will be sent again once you resume this webhook."))
    return redirect(url_for("admin.webhook_log", endpoint_uuid=endpoint_uuid))
