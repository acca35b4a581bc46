"""Member organizations of the coalition: identity and branding (loaded from tenants/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import Timestamp, utcnow


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tagline: Mapped[str] = mapped_column(String(300), default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    logo: Mapped[str] = mapped_column(String(200), default="")
    primary_color: Mapped[str] = mapped_column(String(7), default="#1f4e79")
    accent_color: Mapped[str] = mapped_column(String(7), default="#f2a900")
    footer: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    #: Set when a person saves the branding in the admin: `chorus tenants sync` then leaves it alone
    #: unless run with --force.
    edited_in_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Tagline, intro and footer in other languages: {"es": {"tagline": "…"}} (chorus.services.content).
    translations: Mapped[dict] = mapped_column(JSON, default=dict)

    hosts: Mapped[list[MemberHost]] = relationship(
        back_populates="org", cascade="all, delete-orphan", order_by="MemberHost.id"
    )

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class MemberHost(db.Model):
    """A host name of the member's own site (act.example.org). Hosts listed in tenants/ are approved
    by the sync; one added in the admin waits for a platform admin."""

    __tablename__ = "member_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)

    org: Mapped[Organization] = relationship(back_populates="hosts")
