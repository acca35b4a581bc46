"""Letter campaigns in the admin: deliveries per target, the dead-letter list and its Retry button."""

from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from sqlalchemy import select

from chorus import queues
from chorus.admin.blueprint import bp, requires
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.models import Campaign, Delivery, DeliveryEvent
from chorus.public.forms import Form
from chorus.services import delivery, letters

RECENT_EVENTS = 20


@bp.app_template_global()
def delivery_overview(campaign: Campaign) -> dict:
    """Counts per target, failed deliveries and recent history, for the campaign's owner."""
    failed = db.session.scalars(
        select(Delivery).where(Delivery.campaign_id == campaign.id, Delivery.status == "failed").order_by(Delivery.id)
    ).all()
    recent = db.session.execute(
        select(DeliveryEvent, Delivery.uuid)
        .join(Delivery, Delivery.id == DeliveryEvent.delivery_id)
        .where(Delivery.campaign_id == campaign.id)
        .order_by(DeliveryEvent.id.desc())
        .limit(RECENT_EVENTS)
    ).all()
    return {"by_target": delivery.counts_by_target(campaign.id), "failed": failed, "recent": recent}


@bp.post("/<slug:org>/deliveries/<uuid>/retry")
@requires("publish_campaigns")
def retry_delivery(uuid: str):
    found = db.session.scalar(
        select(Delivery).join(Campaign).where(Delivery.uuid == uuid, Campaign.owner_org_id == g.org.id)
    )
    if found is None:
        abort(404)
    if not Form().validate_on_submit():
        abort(400)
    letters.retry(found)
    queues.kick_delivery()
    flash(_("The letter is queued again."))
    return redirect(url_for("admin.campaign_dashboard", campaign=found.campaign.slug))
