"""Slugs of members and campaigns: their shape, the names the platform's own paths take, and a
proposal from a title. One rule for the admin forms, `chorus tenants sync` and the services."""

from __future__ import annotations

import re
import unicodedata

from chorus.i18n import gettext as _

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")  # \Z: "$" would let a trailing line break through
#: Path segments of the platform itself. A member or campaign taking one would shadow a page:
#: /<org>/thanks, /<campaign>/embed on a member's own host, /admin, /confirm/<token>, /api/v2/...
RESERVED = frozenset(
    {
        "account", "admin", "api", "assets", "branding", "campaigns", "confirm", "data-rights", "embed", "health",
        "hosting", "invitations", "login", "logout", "moderation", "my-data", "new", "organizations", "outbox",
        "platform-admins", "static", "supporters", "team", "thanks", "unsubscribe",
    }
)  # fmt: skip


def problem(slug: str, max_length: int = 63) -> str | None:
    """Why `slug` cannot be used, or None."""
    if not SLUG.match(slug or "") or len(slug) > max_length:
        return _("Use lowercase letters, digits and hyphens only, starting with a letter or digit.")
    if slug in RESERVED:
        return _("“%(slug)s” is a name the platform uses for its own pages; choose another.", slug=slug)
    return None


def propose(title: str, max_length: int = 60) -> str:
    """`¡Justicia para todas!` -> `justicia-para-todas` (the admin form does the same in the browser)."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:max_length].rstrip("-")
    return slug if slug and slug not in RESERVED else f"{slug or 'campaign'}-1"
