"""A member's branding edited in the admin UI: the same fields `chorus tenants sync` loads."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from chorus.extensions import db
from chorus.models import Organization

TEXT_FIELDS = ("name", "tagline", "intro", "website", "primary_color", "accent_color", "footer")


def uploads_dir(org: Organization) -> Path:
    """Uploaded files live in the instance folder, not in the checkout's tenants/."""
    return Path(current_app.config["CHORUS_INSTANCE"]) / "uploads" / org.slug


def update(org: Organization, form) -> None:
    for field in TEXT_FIELDS:
        setattr(org, field, (getattr(form, field).data or "").strip())
    upload = form.logo.data
    if upload and getattr(upload, "filename", ""):
        suffix = Path(upload.filename).suffix.lower()
        folder = uploads_dir(org)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"logo{suffix}"
        upload.save(target)
        org.logo = target.name
    db.session.commit()
