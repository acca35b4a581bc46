"""CSV exports of a campaign's actions: start one, watch its progress, download the file.

An export belongs to the member that asked for it: its status and file are found only under that
member's own /admin/<org>/ prefix (anyone else, a platform admin acting for another member included,
gets 404). The rules live in chorus.services.exports.
"""

from __future__ import annotations

from uuid import UUID

from flask import abort, flash, g, jsonify, redirect, url_for
from flask_login import current_user

from chorus.admin.blueprint import bp, requires
from chorus.i18n import gettext as _
from chorus.models import Export
from chorus.services import exports
from chorus.services.storage import storage


@bp.context_processor
def _export_helpers() -> dict:
    """The campaign page (templates/admin/_exports.html) lists this member's exports of the campaign."""
    return {"campaign_exports": lambda campaign: exports.recent_exports(g.org, campaign)}


@bp.post("/<slug:org>/campaigns/<slug:campaign>/exports")
@requires("export_supporters")
def start_export(campaign: str):
    found = exports.hosted_campaign(g.org, campaign)
    if found is None:
        abort(404)
    exports.create_export(g.org, found, current_user)
    flash(_("Export started: the file appears below when it is ready."))
    return redirect(url_for("admin.campaign_dashboard", campaign=found.slug) + "#exports")


@bp.get("/<slug:org>/exports/<uuid:export_id>.json")
@requires("export_supporters")
def export_status(export_id: UUID):
    export = _own_or_404(export_id)
    response = jsonify(
        {
            "id": export.uuid,
            "status": export.status,
            "rows_done": export.rows_done,
            "rows_total": export.rows_total,
            "percent": export.percent,
            "download_url": url_for("admin.download_export", export_id=export.uuid)
            if export.status == "done"
            else None,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<slug:org>/exports/<uuid:export_id>/download")
@requires("export_supporters")
def download_export(export_id: UUID):
    export = _own_or_404(export_id)
    response = None
    if export.status == "done":
        response = storage().send(
            exports.file_key(export), mimetype="text/csv", as_attachment=True, download_name=export.filename
        )
    if response is None:
        abort(404)
    response.headers["Cache-Control"] = "no-store"  # personal data: no copies in shared caches
    return response


def _own_or_404(export_id: UUID) -> Export:
    export = exports.find_export(g.org, str(export_id))
    if export is None:
        abort(404)
    return export
