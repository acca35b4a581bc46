"""What the Action Network-compatible API (/api/v2/) stores: member keys, the people a member added
through it, tags and taggings, and an audit trail of its writes."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import BigId, Timestamp, new_uuid, utcnow
from chorus.models.orgs import Organization

#: People are identified by their normalized address: one stable id per person, whoever asks.
PERSON_NAMESPACE = uuid.UUID("6f1d2f8e-2b1c-4c53-9a55-6a9f5b0c7e21")


def person_uuid_for(email_normalized: str) -> str:
    return str(uuid.uuid5(PERSON_NAMESPACE, email_normalized))


def hash_key(token: str) -> str:
    """Keys are 256-bit random tokens: a plain SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(db.Model):
    """One member organization's API key; only its hash and first characters are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(Timestamp())
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp())

    org: Mapped[Organization] = relationship(lazy="joined")


class Contact(db.Model):
    """A person a member added to its list through the person-signup helper, without an action.

    Supporter data: scoped to its member by chorus.tenancy like actions are.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("org_id", "email_normalized", name="uq_contacts_org_email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    person_uuid: Mapped[str] = mapped_column(String(36), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")
    language: Mapped[str] = mapped_column(String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Tag(db.Model):
    """A member's own label for people (Action Network's tags); scoped to its member."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_tags_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)


class Tagging(db.Model):
    """A tag on a person (by the person's id); scoped to the tag's member."""

    __tablename__ = "taggings"
    __table_args__ = (UniqueConstraint("tag_id", "person_uuid", name="uq_taggings_tag_person"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    person_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)

    tag: Mapped[Tag] = relationship(lazy="joined")


class ApiAudit(db.Model):
    """Every write through the API: which key, what, when, and the answer it got."""

    __tablename__ = "api_audit"
    __table_args__ = (Index("ix_api_audit_key_at", "api_key_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
