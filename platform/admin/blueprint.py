"""The admin blueprint: who is signed in, which member a URL is about, and what they may do there."""

from __future__ import annotations

import functools
import time

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import select

from chorus import policy, tenancy
from chorus.extensions import db, login_manager
from chorus.i18n import gettext as _
from chorus.i18n import lazy_gettext as _l
from chorus.models import Organization, User
from chorus.services import accounts, campaign_admin, theme

bp = Blueprint("admin", __name__, url_prefix="/admin")

IDLE_TIMEOUT = 30 * 60
#: Pages reachable while signed out, or while a platform admin still has to set up 2FA.
OPEN_ENDPOINTS = {"admin.login", "admin.login_second_factor", "admin.accept_invitation", "admin.logout"}
SETUP_ENDPOINTS = OPEN_ENDPOINTS | {"admin.two_factor"}


@bp.app_template_filter("role_label")
def role_label(role: str | None) -> str:
    return str(policy.ROLE_LABELS.get(role or "", role or ""))


@bp.app_template_global("contrast_pair_names")
def contrast_pair_names() -> list[str]:
    """The pairs of colours the branding preview checks, named in the admin's language."""
    return [str(name) for name in theme.PAIR_NAMES]


@bp.app_template_global("status_name")
def status_name(status: str) -> str:
    return campaign_admin.status_name(status)


@bp.context_processor
def _words() -> dict:
    """Names of lifecycle buttons and version states, in the admin's language."""
    return {"action_names": campaign_admin.ACTION_NAMES, "version_status_names": VERSION_STATUS_NAMES}


VERSION_STATUS_NAMES = {
    "draft": _l("draft"),
    "pending": _l("waiting for moderation"),
    "approved": _l("approved"),
    "rejected": _l("rejected"),
}


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    """The cookie carries "<id>:<session token>"; a rotated token (logout) invalidates old cookies."""
    ident, _sep, token = cookie_id.partition(":")
    user = db.session.get(User, int(ident)) if ident.isdigit() else None
    return user if user is not None and token and user.session_token == token else None


@bp.before_request
def require_login():
    """Signed in, not idle for too long, and (platform admins in production) with 2FA set up; the
    moderation blueprint under /admin/moderation/ uses the same rule."""
    if current_user.is_authenticated:
        now = time.time()
        if now - session.get("seen", 0) > IDLE_TIMEOUT:
            logout_user()
            session.clear()
            flash(_("You were signed out after 30 minutes without activity."))
            return redirect(url_for("admin.login", next=request.full_path))
        session["seen"] = now
        accounts.remember_language(current_user, request.args.get("lang"))
        if (
            current_app.config["CHORUS_ENV"] == "production"
            and current_user.is_platform_admin
            and not current_user.totp_secret
            and request.endpoint not in SETUP_ENDPOINTS
        ):
            flash(_("Platform admins must set up two-factor authentication first."))
            return redirect(url_for("admin.two_factor"))
        return None
    if request.endpoint not in OPEN_ENDPOINTS:
        return redirect(url_for("admin.login", next=request.full_path))
    return None


@bp.url_value_preprocessor
def _resolve_member(endpoint: str | None, values: dict | None) -> None:
    """/admin/<org>/...: the member is decided here, once, and the session scoped to it."""
    if not values or "org" not in values:
        return
    slug = values.pop("org")
    if not current_user.is_authenticated:
        return  # require_login sends them to the login page
    org = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None or not policy.is_member(current_user, org):
        abort(404)
    tenancy.enter(org)


@bp.url_defaults
def _add_member(endpoint: str, values: dict) -> None:
    if "org" not in values and getattr(g, "org", None) and current_app.url_map.is_endpoint_expecting(endpoint, "org"):
        values["org"] = g.org.slug


def requires(permission: str):
    """Guard an /admin/<org>/ view: 404 for non-members (checked above), 403 for a role too small."""
    policy.PERMISSIONS[permission]  # fail at import time on a typo

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not policy.can(current_user, permission, g.org):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def platform_admin_only(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_platform_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped
