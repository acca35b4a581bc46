"""Supporter actions: the personal data every query must scope to a member (see chorus.tenancy)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.api import person_uuid_for
from chorus.models.base import BigId, Timestamp, new_uuid, utcnow
from chorus.models.campaigns import Campaign
from chorus.models.orgs import Organization


def _person_uuid_default(context) -> str:
    return person_uuid_for(context.get_current_parameters()["email_normalized"])


class Action(db.Model):
    """One supporter's signature (or letter, or endorsement) on one campaign, through one member site.

    The unique constraint on (campaign_id, email_normalized) is the guarantee "one action per
    address per campaign": two concurrent submissions cannot both be stored.
    """

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "email_normalized", name="uq_actions_campaign_email"),
        # The same guarantee for erased actions, which keep only a keyed hash of their address.
        UniqueConstraint("campaign_id", "email_hash", name="uq_actions_campaign_email_hash"),
        CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
        CheckConstraint("source IN ('web', 'api')", name="source"),
        Index("ix_actions_tally", "campaign_id", "status", "org_id"),
        Index("ix_actions_campaign_created", "campaign_id", "created_at"),  # dashboards, newest-first lists
        # Every campaign's supporters, newest first. org_id rides along on PostgreSQL so the walk to a
        # deep page's first row applies the tenancy scope from the index alone (an index-only scan),
        # not from the table row by row (migration cover_actions_created).
        Index("ix_actions_created", "created_at", "id", postgresql_include=["org_id"]),
        Index("ix_actions_confirmed_at", "confirmed_at"),  # the tally's watermark (chorus.services.tally)
        # The API's pages: an index seek to (campaign, id), and org_id to filter without the table.
        Index("ix_actions_campaign_seek", "campaign_id", "id", "org_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254), index=True)
    #: HMAC of the normalized address (chorus.services.supporters.email_hash): all that erasure keeps.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    #: The person's stable id in the API (chorus.models.api.person_uuid_for), set from the address.
    person_uuid: Mapped[str] = mapped_column(String(36), index=True, default=_person_uuid_default)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")
    comment: Mapped[str] = mapped_column(Text, default="")
    #: Letter campaigns: the supporter's own subject and body (the fixed parts stay the campaign's).
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: "web" (the action form) or "api" (recorded by a member's API key, which vouches for it).
    source: Mapped[str] = mapped_column(String(8), default="web", server_default="web")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))

    campaign: Mapped[Campaign] = relationship()
    org: Mapped[Organization] = relationship()
    consents: Mapped[list[Consent]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @hybrid_property
    def full_name(self) -> str:
        return display_name(self.first_name, self.last_name)

    @full_name.inplace.expression
    @classmethod
    def _full_name_expression(cls):
        """The same in SQL, for readers that select columns instead of objects (letter delivery)."""
        return func.trim(cls.first_name + " " + cls.last_name)


def display_name(first_name: str, last_name: str) -> str:
    """A supporter's name as pages and mails show it: both parts, or the one given."""
    return f"{first_name} {last_name}".strip()


def search_text(cls=Action):
    """What the supporter search looks in: name and e-mail address, lower-cased."""
    return func.lower(cls.first_name + " " + cls.last_name + " " + cls.email)


#: A trigram (pg_trgm) GIN index on search_text(), so a substring search is an index lookup, not a scan
#: of every row. PostgreSQL only, so it lives in migration i11_staff_screens and not in the metadata:
#: Alembic can compare neither an expression index on SQLite nor its reflected text on PostgreSQL
#: (tests/test_migrations.py names it as the one index the models do not describe).
SEARCH_INDEX = "ix_actions_search"


CONSENT_PURPOSES = ("share", "updates")


class Consent(db.Model):
    """What a supporter agreed to, per member organization: "share" (that member may see their details;
    chorus.tenancy reads it) or "updates" (that member may e-mail them news), with the exact text they
    were shown, in their language. A withdrawal keeps the row (withdrawn_at); the audit log says who."""

    __tablename__ = "consents"
    __table_args__ = (CheckConstraint(f"purpose IN {CONSENT_PURPOSES}", name="purpose"),)

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True, index=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    granted_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(Timestamp())

    org: Mapped[Organization] = relationship(lazy="joined")


class AuditEntry(db.Model):
    """Who did what to supporter data (exports, erasures, consent changes). Ids only, never personal
    data: an erasure must not leave the address behind in its own log."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    #: "cli", "user:<id>" (an admin) or "supporter" (through a link mailed to them)
    actor: Mapped[str] = mapped_column(String(64))
    #: JSON of ids, e.g. {"actions": [1, 2]}
    subject: Mapped[str] = mapped_column(Text, default="{}")

    @classmethod
    def record(cls, event: str, actor: str, **ids: list[int] | int) -> AuditEntry:
        """Add one entry to the session (ids only; the caller commits)."""
        entry = cls(event=event, actor=actor, subject=json.dumps(ids, sort_keys=True))
        db.session.add(entry)
        return entry


class Suppression(db.Model):
    """An unsubscribe: from one member's mail (`org_id`) or from all of the coalition's (NULL).
    What it stops is decided in one place, chorus.services.supporter_mail.decide()."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_normalized: Mapped[str] = mapped_column(String(254), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)

    org: Mapped[Organization | None] = relationship()
