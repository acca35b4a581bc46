"""A member's branding edited in the admin UI: the same fields `chorus tenants sync` loads."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from chorus.extensions import db
from chorus.models import Organization
from chorus.services import uploads

TEXT_FIELDS = ("name", "tagline", "intro", "website", "primary_color", "accent_color", "footer")


def uploads_dir(org: Organization) -> Path:
    """Uploaded files live in the instance folder, not in the checkout's tenants/."""
    return Path(current_app.config["CHORUS_INSTANCE"]) / "uploads" / org.slug


def save_upload(org: Organization, upload, stem: str) -> str | None:
    """Store an uploaded image (already accepted by the form's `image_upload` check) as <stem><suffix>,
    the suffix and bytes (a cleaned SVG) as chorus.services.uploads decided; returns the file name to
    serve from /assets/<org>/, or None when nothing was uploaded."""
    image = uploads.check(upload, current_app.config["MAX_CONTENT_LENGTH"])
    if image is None:
        return None
    folder = uploads_dir(org)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{stem}.*"):
        old.unlink()  # a new logo of another type must not leave the old one served
    target = folder / f"{stem}{image.suffix}"
    target.write_bytes(image.data)
    return target.name


def update(org: Organization, form) -> None:
    for field in TEXT_FIELDS:
        setattr(org, field, (getattr(form, field).data or "").strip())
    org.logo = save_upload(org, form.logo.data, "logo") or org.logo
    db.session.commit()
