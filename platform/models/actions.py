"""Supporter actions: the personal data every query must scope to a member (see chorus.tenancy)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
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
        CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
        CheckConstraint("source IN ('web', 'api')", name="source"),
        Index("ix_actions_tally", "campaign_id", "status", "org_id"),
        Index("ix_actions_campaign_created", "campaign_id", "created_at"),  # dashboards, newest-first lists
        # The API's pages: an index seek to (campaign, id), and org_id to filter without the table.
        Index("ix_actions_campaign_seek", "campaign_id", "id", "org_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254), index=True)
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
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: "web" (the action form) or "api" (recorded by a member's API key, which vouches for it).
    source: Mapped[str] = mapped_column(String(8), default="web", server_default="web")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))

    campaign: Mapped[Campaign] = relationship()
    org: Mapped[Organization] = relationship()
    shares: Mapped[list[ActionShare]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ActionShare(db.Model):
    """A supporter's consent to share their details with another member organization."""

    __tablename__ = "action_shares"

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True, index=True)


class Suppression(db.Model):
    """Addresses that unsubscribed (RFC 8058 one-click); campaign mail to them is skipped."""

    __tablename__ = "suppressions"

    email_normalized: Mapped[str] = mapped_column(String(254), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
