"""Campaigns (petitions, letters, statements): owned by one member, hosted by many."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chorus.extensions import db
from chorus.models.base import Timestamp, new_uuid, utcnow
from chorus.models.orgs import Organization

if TYPE_CHECKING:
    from chorus.models.letters import CampaignTarget

KINDS = ("petition", "letter", "statement")
STATUSES = ("draft", "live", "paused", "closed")


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint(f"status IN {STATUSES}", name="status"),
        CheckConstraint("targeting IN ('fixed', 'location')", name="targeting"),
        CheckConstraint("delivery_mode IN ('individual', 'digest')", name="delivery_mode"),
        CheckConstraint("signatory_order IN ('alphabetical', 'time')", name="signatory_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="petition")
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="live")
    require_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The owner may keep actions recorded through members' API keys out of the shared tally.
    count_api_actions: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)
    #: Any change to the campaign row (an approved statement version included): the API's modified_date.
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow, onupdate=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(Timestamp())
    image: Mapped[str] = mapped_column(String(200), default="")  # a file in the owner's uploads
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    #: Whom a petition addresses ("the U.S. Congress"); letters name their targets instead.
    addressee: Mapped[str] = mapped_column(String(300), default="")
    #: Ask supporters for their postal code and country (always asked when letters target by location).
    ask_location: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Retention (chorus.services.retention): unconfirmed actions lose their personal data after this
    #: many days; once the campaign is closed, its supporters' data is anonymized after the second period.
    unconfirmed_retention_days: Mapped[int] = mapped_column(Integer, default=30)
    closed_retention_days: Mapped[int] = mapped_column(Integer, default=365)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp())

    # Letter campaigns: a greeting and closing the supporter cannot change around an editable draft.
    letter_subject: Mapped[str] = mapped_column(String(200), default="")
    letter_greeting: Mapped[str] = mapped_column(String(200), default="")
    letter_body: Mapped[str] = mapped_column(Text, default="")
    letter_closing: Mapped[str] = mapped_column(Text, default="")
    letter_max_length: Mapped[int] = mapped_column(Integer, default=5000)
    targeting: Mapped[str] = mapped_column(String(16), default="fixed")  # fixed | location
    delivery_mode: Mapped[str] = mapped_column(String(16), default="individual")  # individual | digest
    #: Letters one target gets from this campaign a day at most (None: no cap); the rest wait.
    daily_cap_per_target: Mapped[int | None] = mapped_column(Integer)
    #: Sending window in UTC hours [start, end); with a cap, deliveries are paced evenly across it.
    send_window_start: Mapped[int | None] = mapped_column(Integer)
    send_window_end: Mapped[int | None] = mapped_column(Integer)

    #: Supporters' comments are shown on the page once a moderator approves them.
    public_comments: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Statements: the "Signed," list in alphabetical order or by time of approval.
    signatory_order: Mapped[str] = mapped_column(String(16), default="alphabetical")
    #: The message on the thanks page, after the standard "check your inbox" (may be empty).
    thanks_text: Mapped[str] = mapped_column(Text, default="")
    #: The texts above in other languages: {"es": {"title": "…", "body": "…"}} (chorus.services.content).
    #: The columns hold the source language. A statement's mirror its approved version's.
    translations: Mapped[dict] = mapped_column(JSON, default=dict)

    owner: Mapped[Organization] = relationship(lazy="joined")
    targets: Mapped[list[CampaignTarget]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    hosts: Mapped[list[CampaignHost]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def needs_location(self) -> bool:
        return self.ask_location or (self.kind == "letter" and self.targeting == "location")

    @property
    def accepting_actions(self) -> bool:
        return self.status == "live" and (self.ends_at is None or self.ends_at > utcnow())

    def host_orgs(self) -> list[Organization]:
        """Members whose sites show this campaign, owner first."""
        orgs = [h.org for h in self.hosts if h.accepted]
        return sorted(orgs, key=lambda o: (o.id != self.owner_org_id, o.name.lower()))


class CampaignHost(db.Model):
    """A member site that shows a campaign; the owner hosts its own, others accept an invitation."""

    __tablename__ = "campaign_hosts"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True, index=True)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="hosts")
    org: Mapped[Organization] = relationship(lazy="joined")
