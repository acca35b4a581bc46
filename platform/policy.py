"""Every permission rule in one table: what each role may do within one member organization.

Views ask `can(user, permission, org)` through the admin blueprint's `@requires` decorator. Someone
with no role in an organization gets 404 for it (its admin pages do not exist for them); someone
with a role too small for the action gets 403.
"""

from __future__ import annotations

from chorus.models import Organization, User

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
}


def role(user: User, org: Organization) -> str | None:
    if user.is_platform_admin:
        return "platform-admin"
    return user.role_in(org)


def can(user: User, permission: str, org: Organization) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(permission)  # a typo must not grant or deny silently
    if user.is_platform_admin:
        return True
    return user.role_in(org) in PERMISSIONS[permission]


def is_member(user: User, org: Organization) -> bool:
    return user.is_platform_admin or user.role_in(org) is not None
