"""Every permission rule in one table: what each role may do within one member organization, and
what coalition moderators may do everywhere.

Views ask `can(user, permission, org)` through the admin blueprint's `@requires` decorator. Someone
with no role in an organization gets 404 for it (its admin pages do not exist for them); someone
with a role too small for the action gets 403. Coalition-wide permissions are asked without an
organization: `can(user, "moderate")`. Platform admins have every permission everywhere.
"""

from __future__ import annotations

from chorus.i18n import lazy_gettext as _l
from chorus.models import Campaign, Organization, User

#: permission -> the org roles that have it (platform admins have every permission everywhere)
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset({"org-admin", "org-editor"}),  # the member's admin home, dashboards
    "edit_campaigns": frozenset({"org-admin", "org-editor"}),  # create, edit, preview drafts
    "publish_campaigns": frozenset({"org-admin"}),  # publish, pause, close, share, accept hosting
    "view_supporters": frozenset({"org-admin", "org-editor"}),
    "export_supporters": frozenset({"org-admin"}),
    "edit_branding": frozenset({"org-admin"}),
    "manage_team": frozenset({"org-admin"}),  # invite editors and admins
    "manage_integrations": frozenset({"org-admin"}),  # API keys and webhooks
    "draft_statements": frozenset({"org-admin"}),  # draft and edit statements (moderators publish them)
    "moderate_comments": frozenset({"org-admin"}),  # supporters' public comments on the member's campaigns
    # Coalition-wide (no organization): statement versions, sign-ons, solidarity messages, comments.
    "moderate": frozenset({"moderator"}),
    "view_audit_log": frozenset({"moderator"}),
    # Coalition-wide, platform admins only: export or erase everything held about one address.
    "supporter_data_rights": frozenset(),
}


#: How roles read on screen.
ROLE_LABELS = {
    "platform-admin": _l("Platform admin"),
    "org-admin": _l("Organization admin"),
    "org-editor": _l("Organization editor"),
}


def role(user: User, org: Organization) -> str | None:
    if user.is_platform_admin:
        return "platform-admin"
    return user.role_in(org)


def can(user: User, permission: str, org: Organization | None = None) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(permission)  # a typo must not grant or deny silently
    if user.is_platform_admin:
        return True
    roles = {"moderator"} if user.is_moderator else set()
    if org is not None:
        roles.add(user.role_in(org))
    return bool(roles & PERMISSIONS[permission])


def is_member(user: User, org: Organization) -> bool:
    return user.is_platform_admin or user.role_in(org) is not None


def can_edit(user: User, campaign: Campaign, org: Organization) -> bool:
    """Editors draft; once published (live, paused or closed) a campaign's text, dates, targets and
    settings change only with the permission that publishes, pauses and closes it."""
    needed = "edit_campaigns" if campaign.status == "draft" else "publish_campaigns"
    return can(user, "edit_campaigns", org) and can(user, needed, org)
