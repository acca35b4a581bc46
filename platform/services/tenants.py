"""Loading member organizations from tenants/<slug>/tenant.toml into the database."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Organization
from chorus.services import uploads

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: First path segments the platform itself uses; a member slug may not take them.
RESERVED = {
    "admin",
    "api",
    "assets",
    "confirm",
    "static",
    "unsubscribe",
    "login",
    "logout",
    "health",
    "account",
    "invitations",
    "outbox",
    "platform-admins",  # second segments under /admin/
}
FIELDS = ("name", "tagline", "intro", "website", "logo", "primary_color", "accent_color", "footer")


class TenantError(ValueError):
    """A tenant folder is malformed; the message names the file and the problem in one line."""


def check_slug(slug: str) -> str:
    if not SLUG.match(slug) or slug in RESERVED:
        raise TenantError(f"{slug!r} is not a valid organization slug (lowercase letters, digits, hyphens)")
    return slug


def read_tenant(folder: Path) -> dict:
    slug = check_slug(folder.name)
    manifest = folder / "tenant.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TenantError(f"{manifest}: {error}") from error
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise TenantError(f"{manifest}: unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise TenantError(f"{manifest}: 'name' is required")
    for key in ("primary_color", "accent_color"):
        if key in data and not COLOR.match(str(data[key])):
            raise TenantError(f"{manifest}: {key} must look like #1f4e79")
    record = {"slug": slug, **{k: str(v) for k, v in data.items()}}
    if data.get("logo"):
        record["logo"] = _checked_logo(folder / str(data["logo"]), manifest)
    return record


def _checked_logo(path: Path, manifest: Path) -> uploads.CheckedImage:
    """The same check as an upload in the admin: a broken or unsafe logo stops the sync."""
    try:
        return uploads.check_image(path.read_bytes(), uploads.LOGO_MAX_BYTES)
    except FileNotFoundError as error:
        raise TenantError(f"{manifest}: logo file {path.name!r} not found") from error
    except (OSError, uploads.UploadError) as error:
        raise TenantError(f"{path}: {error}") from error


def sync(tenants_dir: Path) -> list[str]:
    """Create or update one organization per folder; all or nothing."""
    folders = sorted(p for p in tenants_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    records = [read_tenant(folder) for folder in folders]  # validate everything before writing
    existing = {o.slug: o for o in db.session.scalars(select(Organization))}
    for record in records:
        org = existing.get(record["slug"]) or Organization(slug=record["slug"])
        for key in FIELDS:
            if key == "logo" and key in record:
                org.logo = uploads.store(record["slug"], "logo", record["logo"])
            elif key in record:
                setattr(org, key, record[key])
        db.session.add(org)
    db.session.commit()
    return [r["slug"] for r in records]
