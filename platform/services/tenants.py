"""Loading member organizations from tenants/<slug>/tenant.toml into the database."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from chorus import tenancy
from chorus.extensions import db
from chorus.models import MemberHost, Organization
from chorus.services import content, slugs, theme, uploads
from chorus.text import header_unsafe

HOST = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")
FIELDS = ("name", "tagline", "intro", "website", "logo", "primary_color", "accent_color", "footer")
KEYS = (*FIELDS, "hosts")


class TenantError(ValueError):
    """A tenant folder is malformed; the message names the file and the problem in one line."""


def check_slug(slug: str) -> str:
    why = slugs.problem(slug)
    if why:
        raise TenantError(f"{slug!r} cannot be an organization slug: {why}")
    return slug


def check_host(value: str) -> str:
    """A host name as members type it (`Act.Example.org`), normalized, or TenantError."""
    host = tenancy.normalize_host(value)
    if not HOST.match(host) or host in tenancy.shared_hosts():
        raise TenantError(f"{value!r} is not a host name like act.example.org")
    return host


def read_tenant(folder: Path) -> dict:
    slug = check_slug(folder.name)
    manifest = folder / "tenant.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TenantError(f"{manifest}: {error}") from error
    languages = content.translation_languages()
    translations = {lang: data.pop(lang) for lang in languages if lang in data}
    unknown = set(data) - set(KEYS)
    if unknown:
        raise TenantError(f"{manifest}: unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise TenantError(f"{manifest}: 'name' is required")
    if header_unsafe(data["name"]):  # the name is the From of the member's mail
        raise TenantError(f"{manifest}: 'name' contains a line break or control character")
    for key in ("primary_color", "accent_color"):
        if key in data and not theme.COLOUR.match(str(data[key])):
            raise TenantError(f"{manifest}: {key} must look like #1f4e79")
    record = {"slug": slug, **{k: str(v) for k, v in data.items() if k != "hosts"}}
    record["translations"] = _translations(manifest, translations)
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise TenantError(f"{manifest}: hosts must be a list of host names")
    try:
        record["hosts"] = [check_host(h) for h in hosts]
    except TenantError as error:
        raise TenantError(f"{manifest}: {error}") from error
    if data.get("logo"):
        record["logo"] = _checked_logo(folder / str(data["logo"]), manifest)
    return record


def _translations(manifest: Path, tables: dict) -> dict[str, dict[str, str]]:
    """`[es]` tables: the tagline, intro and footer in another language of the app."""
    for lang, table in tables.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise TenantError(f"{manifest}: [{lang}] must be a table of texts")
        unknown = set(table) - set(content.ORG_FIELDS)
        if unknown:
            raise TenantError(f"{manifest}: unknown keys in [{lang}]: {', '.join(sorted(unknown))}")
    return content.translations_for(tables, content.ORG_FIELDS)


def _checked_logo(path: Path, manifest: Path) -> uploads.CheckedImage:
    """The same check as an upload in the admin: a broken or unsafe logo stops the sync."""
    try:
        return uploads.check_image(path.read_bytes(), uploads.LOGO_MAX_BYTES)
    except FileNotFoundError as error:
        raise TenantError(f"{manifest}: logo file {path.name!r} not found") from error
    except (OSError, uploads.UploadError) as error:
        raise TenantError(f"{path}: {error}") from error


@dataclass
class SyncReport:
    synced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited in the admin: left alone without --force


def sync(tenants_dir: Path, force: bool = False) -> SyncReport:
    """Create or update one organization per folder, all or nothing. A member is never deleted (a
    folder removed from tenants/ leaves it as it is), and branding edited in the admin is kept
    unless `force`. Hosts listed in tenant.toml are approved; hosts added in the admin stay."""
    folders = sorted(p for p in tenants_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    records = [read_tenant(folder) for folder in folders]  # validate everything before writing
    existing = {o.slug: o for o in db.session.scalars(select(Organization))}
    claimed = dict(db.session.execute(select(MemberHost.host, Organization.slug).join(Organization)).all())
    report = SyncReport()
    for record in records:
        for host in record["hosts"]:
            if claimed.get(host, record["slug"]) != record["slug"]:
                raise TenantError(f"{record['slug']}: host {host} already belongs to {claimed[host]}")
    for record in records:
        org = existing.get(record["slug"]) or Organization(slug=record["slug"])
        if org.edited_in_admin and not force:
            report.kept.append(org.slug)
            continue
        for key in FIELDS:
            if key == "logo" and key in record:
                org.logo = uploads.store(record["slug"], "logo", record["logo"])
            elif key in record:
                setattr(org, key, record[key])
        org.translations = record["translations"]
        org.edited_in_admin = False
        present = {h.host: h for h in org.hosts}
        for host in record["hosts"]:
            if host in present:
                present[host].approved = True
            else:
                org.hosts.append(MemberHost(host=host, approved=True))
        db.session.add(org)
        report.synced.append(org.slug)
    db.session.commit()
    tenancy.forget_hosts()
    return report
