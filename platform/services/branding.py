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


def save_upload(org: Organization, upload, stem: str) -> str | None:
    """Store an uploaded image (its type and size already checked by the form) as <stem><suffix>;
    returns the file name to serve from /assets/<org>/, or None when nothing was uploaded."""
    if not upload or not getattr(upload, "filename", ""):
        return None
    folder = uploads_dir(org)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}{Path(upload.filename).suffix.lower()}"
    upload.save(target)
    return target.name


def update(org: Organization, form) -> None:
    for field in TEXT_FIELDS:
        setattr(org, field, (getattr(form, field).data or "").strip())
    org.logo = save_upload(org, form.logo.data, "logo") or org.logo
    db.session.commit()
