"""A member's branding edited in the admin UI: the same fields `chorus tenants sync` loads."""

from __future__ import annotations

from chorus.extensions import db
from chorus.models import Organization
from chorus.services import uploads

TEXT_FIELDS = ("name", "tagline", "intro", "website", "primary_color", "accent_color", "footer")


def update(org: Organization, form) -> None:
    for field in TEXT_FIELDS:
        setattr(org, field, (getattr(form, field).data or "").strip())
    if form.logo.image is not None:
        org.logo = uploads.store(org.slug, "logo", form.logo.image)
    org.edited_in_admin = True  # `chorus tenants sync` keeps these edits unless --force
    db.session.commit()
