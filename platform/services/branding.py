"""A member's branding edited in the admin UI: the same fields `chorus tenants sync` loads."""

from __future__ import annotations

from sqlalchemy import select

from chorus import tenancy
from chorus.extensions import db
from chorus.i18n import gettext as _
from chorus.models import MemberHost, Organization
from chorus.services import content, uploads
from chorus.services.tenants import TenantError, check_host


class BrandingError(ValueError):
    """The request cannot be done; the message says why."""


TEXT_FIELDS = ("name", "tagline", "intro", "website", "primary_color", "accent_color", "footer")


def update(org: Organization, form) -> None:
    for field in TEXT_FIELDS:
        setattr(org, field, (getattr(form, field).data or "").strip())
    content.set_translations(org, form.translations())
    if form.logo.image is not None:
        org.logo = uploads.store(org.slug, "logo", form.logo.image)
    org.edited_in_admin = True  # `chorus tenants sync` keeps these edits unless --force
    db.session.commit()


def create_org(name: str, slug: str, tagline: str, primary: str, accent: str) -> Organization:
    """A member added in the admin (its slug and colours already checked by the form), stored without
    surrounding white space, as `update` stores its branding."""
    slug, primary, accent = slug.strip(), primary.strip(), accent.strip()
    if db.session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise BrandingError(_("Another member already uses the address %(slug)s.", slug=slug))
    org = Organization(
        slug=slug, name=name.strip(), tagline=tagline.strip(), primary_color=primary, accent_color=accent,
        edited_in_admin=True,
    )  # fmt: skip
    db.session.add(org)
    db.session.commit()
    return org


def request_host(org: Organization, value: str, approved: bool) -> MemberHost:
    """A member asks for its own host; a platform admin approves it (theirs count as approved)."""
    try:
        host = check_host(value)
    except TenantError as error:
        raise BrandingError(str(error)) from error
    if db.session.scalar(select(MemberHost.id).where(MemberHost.host == host)) is not None:
        raise BrandingError(_("%(host)s is already listed for a member.", host=host))
    record = MemberHost(org_id=org.id, host=host, approved=approved)
    db.session.add(record)
    db.session.commit()
    tenancy.forget_hosts()
    return record


def decide_host(host_id: int, approve: bool) -> str | None:
    """Approve or remove a member's host; returns its name, None if there is no such host."""
    record = db.session.get(MemberHost, host_id)
    if record is None:
        return None
    host = record.host
    if approve:
        record.approved = True
    else:
        db.session.delete(record)
    db.session.commit()
    tenancy.forget_hosts()
    return host


def pending_hosts() -> list[MemberHost]:
    return list(db.session.scalars(select(MemberHost).where(MemberHost.approved.is_(False)).order_by(MemberHost.id)))
